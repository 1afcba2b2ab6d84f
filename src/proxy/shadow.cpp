// The shadow stage (shadow.hpp).
#include "proxy/shadow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/logger.h>

#include "proxy/attempt_loop.hpp"
#include "proxy/decide.hpp"

namespace tollgate::proxy {
namespace {

// The most of a shadow call's answer kept for the hook; a longer stream is cut there (the relay
// then abandons the upstream call as it does for a client that left).
constexpr std::size_t kMaxRecordedBytes = 16u << 20;

// An exchange with no client: records the answer a shadow call would have sent.
class RecordingExchange final : public http::Exchange {
 public:
  explicit RecordingExchange(std::string body) {
    request_.method(boost::beast::http::verb::post);
    request_.body() = std::move(body);
  }
  const http::Request& request() const override { return request_; }
  SteadyTime received_at() const override { return received_; }
  bool draining() const override { return false; }
  bool stopping() const override { return false; }
  asio::awaitable<bool> send(unsigned status, std::string_view /*content_type*/, std::string&& body,
                             const http::HeaderList& /*headers*/) override {
    status_ = status;
    body_ = std::move(body);
    co_return true;
  }
  asio::awaitable<bool> begin_stream(unsigned status, std::string_view /*content_type*/,
                                     const http::HeaderList& /*headers*/) override {
    status_ = status;
    co_return true;
  }
  asio::awaitable<bool> write_chunk(std::string_view data) override {
    if (body_.size() + data.size() > kMaxRecordedBytes) co_return false;
    body_ += data;
    co_return true;
  }
  asio::awaitable<bool> end_stream() override { co_return true; }
  void close_after_response() override {}

  unsigned status() const { return status_; }
  std::string& body() { return body_; }

 private:
  http::Request request_;
  SteadyTime received_ = SteadyClock::now();
  unsigned status_ = 0;
  std::string body_;
};

boost::asio::awaitable<void> shadow_call(Worker& worker, std::shared_ptr<const Snapshot> snap, std::string request_id,
                                         api::Endpoint endpoint, std::string group, std::string body) {
  RecordingExchange ex(std::move(body));
  const std::string_view internal = ex.request().body();
  ShadowOutcome outcome{.request_id = std::move(request_id), .model_group = group};
  RequestContext ctx;  // no settlement: the hook gets the spend
  ctx.snapshot = std::move(snap);
  ctx.identity.request_id = outcome.request_id;
  ctx.call.endpoint = endpoint;
  ctx.timings.started = SteadyClock::now();
  ctx.timings.started_ms = unix_ms_now();
  std::optional<api::ApiError> error;
  auto parsed = api::parse_request(internal, endpoint);
  auto target = decide(ctx.snapshot->router, group, group);
  if (!parsed) {
    error = parsed.error();
  } else if (!target) {
    error = target.error();
  } else {
    ctx.call.stream = parsed->fields.stream;
    const auth::Principal& anyone = *auth::Authenticator::unrestricted();
    std::vector<std::string> no_tags;
    router::Target& group_target = *target;
    auto failed = co_await run_attempts(worker, ex, ctx, *parsed, group_target, no_tags, anyone);
    error = std::move(failed);
  }
  outcome.deployment_id = ctx.routing.deployment_id;
  outcome.status = error ? error->status : ex.status();
  outcome.body = error ? api::error_json(*error) : std::move(ex.body());
  outcome.usage = ctx.cost.usage;
  outcome.cost = ctx.price(ctx.cost.usage);
  outcome.duration = SteadyClock::now() - ctx.timings.started;
  if (worker.hooks.shadow) worker.hooks.shadow->record(std::move(outcome));
}

}  // namespace

void start_shadow(Worker& worker, const RequestContext& ctx, std::string_view request_body) {
  if (!worker.hooks.shadow || !ctx.call.endpoint) return;
  const CompletedRequest done{.request_id = ctx.identity.request_id,
                              .endpoint = *ctx.call.endpoint,
                              .model_group = ctx.routing.model_group,
                              .request_body = request_body,
                              .status = ctx.answer.status,
                              .usage = ctx.cost.usage};
  std::optional<std::string> group = worker.hooks.shadow->shadow_group(done);
  if (!group) return;
  worker.log->debug("request_id={} msg=\"shadow call\" group={}", ctx.identity.request_id, capped_name(*group));
  boost::asio::co_spawn(worker.io,
                        shadow_call(worker, ctx.snapshot, ctx.identity.request_id, *ctx.call.endpoint,
                                    std::move(*group), std::string(request_body)),
                        boost::asio::detached);
}

}  // namespace tollgate::proxy
