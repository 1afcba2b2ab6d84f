// Answers the gateway sends itself, and the response headers (reply.hpp).
#include "proxy/reply.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace tollgate::proxy {
namespace {

std::string format_ms(double ms) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms, std::chars_format::fixed, 3);
  return std::string(buf, end);
}

}  // namespace

http::HeaderList response_headers(const RequestContext& ctx) {
  const double total = to_ms(SteadyClock::now() - ctx.timings.started);
  const double overhead = std::max(0.0, total - to_ms(ctx.upstream.wait));
  const RequestContext::Routing& r = ctx.routing;
  http::HeaderList h;
  h.reserve(11);
  h.emplace_back("x-litellm-call-id", ctx.identity.request_id);
  if (!r.deployment_id.empty()) h.emplace_back("x-litellm-model-id", r.deployment_id);
  if (!r.model_group.empty()) h.emplace_back("x-litellm-model-group", r.model_group);
  if (!r.api_base.empty()) h.emplace_back("x-litellm-model-api-base", r.api_base);
  if (!r.model_group.empty()) {
    h.emplace_back("x-litellm-attempted-retries", std::to_string(r.attempted_retries));
    h.emplace_back("x-litellm-max-retries", std::to_string(r.max_retries));
    h.emplace_back("x-litellm-attempted-fallbacks", std::to_string(r.attempted_fallbacks));
  }
  if (r.timeout_s > 0) h.emplace_back("x-litellm-timeout", format_ms(r.timeout_s));
  const RequestContext::Cost& c = ctx.cost;
  if (c.response_cost >= 0) h.emplace_back("x-litellm-response-cost", fmt::format("{}", c.response_cost));
  if (c.key_spend >= 0) h.emplace_back("x-litellm-key-spend", fmt::format("{}", c.key_spend));
  const limits::Headroom& room = c.headroom;
  const std::string reset = std::to_string(std::chrono::ceil<std::chrono::seconds>(room.reset).count());
  if (room.limit_requests >= 0) {
    h.emplace_back("x-ratelimit-limit-requests", std::to_string(room.limit_requests));
    h.emplace_back("x-ratelimit-remaining-requests", std::to_string(std::max<std::int64_t>(0, room.remaining_requests)));
    h.emplace_back("x-ratelimit-reset-requests", reset);
  }
  if (room.limit_tokens >= 0) {
    h.emplace_back("x-ratelimit-limit-tokens", std::to_string(room.limit_tokens));
    h.emplace_back("x-ratelimit-remaining-tokens", std::to_string(std::max<std::int64_t>(0, room.remaining_tokens)));
    h.emplace_back("x-ratelimit-reset-tokens", reset);
  }
  h.emplace_back("x-litellm-response-duration-ms", format_ms(total));
  h.emplace_back("x-litellm-overhead-duration-ms", format_ms(overhead));
  return h;
}

boost::asio::awaitable<void> send_json(http::Exchange& ex, std::string&& body, RequestContext& ctx) {
  ctx.answer.status = 200;
  const http::HeaderList headers = response_headers(ctx);
  co_await ex.send(200, kJson, std::move(body), headers);
}

boost::asio::awaitable<void> send_error(http::Exchange& ex, const api::ApiError& error, RequestContext& ctx) {
  ctx.snapshot->metrics.control_rejection(error.errc);
  ctx.answer.status = error.status;
  ctx.answer.error_type = error.type;
  http::HeaderList headers = response_headers(ctx);
  if (error.retry_after) headers.emplace_back("retry-after", std::to_string(error.retry_after->count()));
  std::string body = ctx.front_end->error_body(error);
  co_await ex.send(error.status, kJson, std::move(body), headers);
}

}  // namespace tollgate::proxy
