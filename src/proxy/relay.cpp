// The answer's way back to the client: response headers, the stream relay and mock answers
// (docs/request-lifecycle.md, steps 7 and 8).
#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "proxy/call_outcome.hpp"
#include "tollgate/api/redact.hpp"
#include "tollgate/api/sse.hpp"
#include "tollgate/http/sse_decoder.hpp"
#include "tollgate/proxy/mock_response.hpp"
#include "tollgate/proxy/proxy_handler.hpp"

namespace tollgate::proxy {
namespace {

std::string format_ms(double ms) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms, std::chars_format::fixed, 3);
  return std::string(buf, end);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

/// The headers LiteLLM clients read, computed at the moment the response head is sent.
http::HeaderList response_headers(const CallOutcome& out) {
  const double total = to_ms(SteadyClock::now() - out.started);
  const double overhead = std::max(0.0, total - to_ms(out.upstream_wait));
  http::HeaderList h;
  h.reserve(11);
  h.emplace_back("x-litellm-call-id", out.request_id);
  if (!out.deployment_id.empty()) h.emplace_back("x-litellm-model-id", out.deployment_id);
  if (!out.model_group.empty()) h.emplace_back("x-litellm-model-group", out.model_group);
  if (!out.api_base.empty()) h.emplace_back("x-litellm-model-api-base", out.api_base);
  if (!out.model_group.empty()) {
    h.emplace_back("x-litellm-attempted-retries", std::to_string(out.attempted_retries));
    h.emplace_back("x-litellm-max-retries", std::to_string(out.max_retries));
    h.emplace_back("x-litellm-attempted-fallbacks", std::to_string(out.attempted_fallbacks));
  }
  if (out.timeout_s > 0) h.emplace_back("x-litellm-timeout", format_ms(out.timeout_s));
  if (out.response_cost >= 0) h.emplace_back("x-litellm-response-cost", fmt::format("{}", out.response_cost));
  if (out.key_spend >= 0) h.emplace_back("x-litellm-key-spend", fmt::format("{}", out.key_spend));
  const limits::Headroom& room = out.headroom;
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

asio::awaitable<void> ProxyHandler::relay_stream(http::Exchange& ex, http::UpstreamResponse& response,
                                                 const providers::Provider& provider, const api::ParsedRequest& req,
                                                 CallOutcome& out, bool passthrough) {
  out.status = 200;
  const http::HeaderList headers = response_headers(out);
  if (!co_await ex.begin_stream(200, kEventStream, headers)) {
    response.abandon();
    out.error_type = "client_disconnected";
    co_return;
  }
  providers::Provider::CostFn cost;
  if (out.route_index && out.snapshot->gate.priced(*out.route_index)) {
    cost = [snap = out.snapshot, route = *out.route_index](const api::Usage& u) { return snap->gate.cost(route, u); };
  }
  auto translator = provider.make_stream_translator(req.fields.client_wants_usage, std::move(cost));
  const std::unique_ptr<http::StreamDecoder> decoder = provider.make_stream_decoder();
  std::vector<http::SseEvent> events;
  std::string pending;
  std::optional<api::ApiError> failure;
  bool failure_relayed = false;  // the vendor's own error event already went to the client
  // Vendors report errors mid-stream as events the client receives (OpenAI's {"error":...} chunk,
  // Anthropic's error event, relayed as they came); any that echoes the deployment's credential is
  // redacted here, as handle_completion does for errors before a stream.
  std::vector<std::string> secrets;
  if (out.route_index) secrets = provider.secrets(out.snapshot->config->model_list[*out.route_index]);
  const api::Redactor redactor(secrets);
  std::int64_t events_seen = 0;  // upstream events decoded, for the usage of a cut stream
  // A stream that ends before the upstream reported usage (client gone, upstream broke, shutdown
  // cut) still spent tokens: it is billed what it sent, about one token per event (streams send a
  // token or a few per event), and the prompt at four bytes a token — never zero.
  auto usage_so_far = [&] {
    api::Usage u = translator->usage();
    if (translator->finished()) return u;
    u.completion_tokens = std::max(u.completion_tokens, events_seen);
    u.prompt_tokens = std::max(u.prompt_tokens, static_cast<std::int64_t>(req.fields.prompt_bytes / 4) + 1);
    u.total_tokens = std::max(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    return u;
  };
  for (;;) {
    const auto t0 = SteadyClock::now();
    auto piece = co_await response.read_some();
    const auto t1 = SteadyClock::now();
    out.upstream_wait += t1 - t0;
    if (out.ttft_s == 0) {
      out.ttft_s = std::chrono::duration<double>(t1 - out.attempt_started).count();
      out.first_chunk_ms = unix_ms_now();
    }
    if (!piece) {
      failure = piece.error();
      break;
    }
    if (piece->empty()) {
      if (!translator->finished()) {
        failure = api::make_error(Errc::kUpstreamProtocol, "Upstream ended the stream without [DONE].");
      }
      break;
    }
    decoder->feed(*piece, events);
    events_seen += static_cast<std::int64_t>(events.size());
    if (decoder->failed()) failure = api::make_error(Errc::kUpstreamProtocol, "Upstream sent a malformed or oversized stream event.");
    for (const auto& event : events) {
      if (failure) break;
      failure = translator->on_event(event, pending);
    }
    events.clear();
    if (passthrough) {
      // The client reads the vendor's format: its bytes go as they came; the translation above
      // only counted usage and saw the end.
      pending.assign(piece->data(), piece->size());
      failure_relayed = failure.has_value();
    } else if (out.messages_stream && !pending.empty()) {
      std::string events_out;
      out.messages_stream->translate(pending, events_out);
      pending.swap(events_out);
    }
    if (translator->finished() && !failure) {
      // The answer is complete: its spend is journaled before the client's last bytes go out.
      out.usage = translator->usage();
      settle_request(out, true, {});
    }
    // Backpressure: this chunk reaches the client before the next upstream read.
    if (!pending.empty()) {
      if (!redactor.empty()) redactor.redact(pending);
      const bool delivered = co_await ex.write_chunk(pending);
      if (!delivered) {
        response.abandon();  // the client left: cancel the upstream call, never reuse its connection
        out.usage = usage_so_far();
        out.error_type = "client_disconnected";
        log_->info("request_id={} msg=\"client disconnected mid-stream\"", out.request_id);
        co_return;
      }
      pending.clear();
    }
    if (failure) break;
  }
  out.usage = usage_so_far();
  if (failure) {
    // Headers are gone: the error travels as a final data event, then the connection closes.
    response.abandon();
    redactor.redact(*failure);
    out.error_type = failure->type;
    out.stream_failure = router::classify_errc(failure->errc);
    log_->warn("request_id={} msg=\"stream failed\" error=\"{}\"", out.request_id, failure->message);
    if (out.anthropic_client) {
      if (!failure_relayed) {
        pending += "event: error\ndata: ";
        pending += providers::anthropic_error_json(*failure);
        pending += "\n\n";
      }
    } else {
      api::append_sse_data(pending, api::error_json(*failure));
    }
    bool delivered = true;
    if (!pending.empty()) delivered = co_await ex.write_chunk(pending);
    if (delivered) co_await ex.end_stream();
    ex.close_after_response();
    co_return;
  }
  co_await ex.end_stream();
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::answer_mock(http::Exchange& ex, api::Endpoint endpoint,
                                                                        const api::ParsedRequest& req,
                                                                        const std::string& answer, CallOutcome& out) {
  if (endpoint == api::Endpoint::kEmbeddings) {
    co_return api::make_error(Errc::kInvalidRequest, "mock_response is not supported for embeddings.", "model");
  }
  out.usage = estimate_mock_usage(req.fields.prompt_bytes, answer);
  if (out.route_index && out.snapshot->gate.priced(*out.route_index)) out.response_cost = out.snapshot->gate.cost(*out.route_index, out.usage);
  const std::string id = "chatcmpl-" + out.request_id;
  out.status = 200;
  if (!req.fields.stream) {
    std::string body = mock_completion_body(endpoint, req.fields.model, answer, out.usage, id, unix_now());
    if (out.anthropic_client) {
      if (auto message = providers::chat_response_to_message(body)) body = std::move(*message);
    }
    settle_request(out, true, body);
    co_await send_json(ex, std::move(body), out);
    co_return std::nullopt;
  }
  std::string body =
      mock_stream_body(endpoint, req.fields.model, answer, out.usage, req.fields.client_wants_usage, id, unix_now());
  if (out.anthropic_client) {
    std::string events;
    providers::MessagesStreamWriter().translate(body, events);
    body.swap(events);
  }
  settle_request(out, true, {});
  const http::HeaderList headers = response_headers(out);
  if (co_await ex.begin_stream(200, kEventStream, headers)) {
    const bool delivered = co_await ex.write_chunk(body);
    if (delivered) co_await ex.end_stream();
  }
  co_return std::nullopt;
}

}  // namespace tollgate::proxy
