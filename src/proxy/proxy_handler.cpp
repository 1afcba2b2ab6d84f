#include "tollgate/proxy/proxy_handler.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "proxy/call_outcome.hpp"
#include "tollgate/api/redact.hpp"
#include "tollgate/limits/local_state.hpp"

namespace tollgate::proxy {

/// How one attempt on one deployment ended.
struct AttemptResult {
  bool answered = false;                    // the client got its response (success or a stream)
  std::optional<api::ApiError> error;       // the attempt failed with this; nothing was sent yet
  router::ErrorClass cls = router::ErrorClass::kServerError;
  std::optional<std::chrono::milliseconds> retry_after;
};

namespace {

constexpr std::size_t kMaxUpstreamErrorBody = 1u << 20;
constexpr std::size_t kMaxUpstreamBody = 256u << 20;

api::ApiError unknown_model_error(std::string_view model, const router::Router& router) {
  std::string known;
  const auto names = router.listed_models();
  for (std::size_t i = 0; i < names.size() && i < 20; ++i) known += (i ? ", " : "") + names[i];
  return api::make_error(Errc::kUnknownModel,
                         "Invalid model name passed in model=" + capped_name(model) +
                             ". Call `/v1/models` to view available models for your key." +
                             (known.empty() ? "" : " Available: " + known + "."),
                         "model");
}

// `x-litellm-tags: a, b` adds to the body's tags.
void add_header_tags(std::string_view header, std::vector<std::string>& tags) {
  constexpr std::size_t kMaxTags = 32;
  while (!header.empty() && tags.size() < kMaxTags) {
    const auto comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (!tag.empty()) tags.emplace_back(header_text(tag));
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
}

// Prompt size before the call: about four bytes of JSON text per token. Used for tpm claims and
// pre-call context checks; the real count replaces it when the answer reports usage.
std::int64_t estimate_prompt_tokens(const api::RequestFields& fields) {
  return static_cast<std::int64_t>(fields.prompt_bytes / 4) + 1;
}

// A max_tokens above what every deployment of the group can produce is refused before anything is
// charged (as OpenAI refuses it), rather than reserved against the caller's budget.
std::optional<api::ApiError> max_tokens_error(const Gate& gate, const router::Target& target,
                                              const api::RequestFields& fields) {
  if (!fields.max_tokens) return std::nullopt;
  const std::int64_t asked = *fields.max_tokens;
  const OutputBound bound = gate.output_bound(target.group->members);
  if (bound.max_output && asked > *bound.max_output) {
    return api::make_error(Errc::kInvalidRequest,
                           fmt::format("max_tokens is too large: {}. This model supports at most {} completion "
                                       "tokens, whereas you provided {}.", asked, *bound.max_output, asked),
                           "max_tokens");
  }
  if (bound.context && asked > *bound.context) {
    return api::make_error(Errc::kInvalidRequest,
                           fmt::format("max_tokens is too large: {}. This model's context window is {} tokens.",
                                       asked, *bound.context),
                           "max_tokens");
  }
  return std::nullopt;
}

// The model name sent upstream: a wildcard group passes what its '*' matched through.
std::string upstream_model(const config::Deployment& deployment, const router::Target& target) {
  if (target.wildcard_match.empty()) return deployment.model;
  std::string model = deployment.model;
  if (const auto star = model.find('*'); star != std::string::npos) {
    model.replace(star, 1, target.wildcard_match);
    return model;
  }
  return deployment.model.empty() ? target.wildcard_match : deployment.model;
}


// The attempt plan's events, as metrics and log lines of the requested group.
class PlanEvents final : public router::PlanObserver {
 public:
  PlanEvents(const Snapshot& snap, std::string_view requested, const std::string& request_id, spdlog::logger& log)
      : metrics_(snap.model_metrics(requested)), request_id_(request_id), log_(log) {}
  void retry() override { metrics_.retry(); }
  void no_deployment() override { metrics_.no_deployment(); }
  void fallback_done(std::string_view group, bool answered) override { metrics_.fallback(group, answered); }
  void fallback_denied(std::string_view name) override {
    metrics_.fallback_denied();
    log_.info("request_id={} msg=\"fallback not allowed for this key, skipped\" group={}", request_id_,
              capped_name(name));
  }
  void fallback_unknown(std::string_view name) override {
    log_.warn("request_id={} msg=\"fallback group unknown\" group={}", request_id_, capped_name(name));
  }

 private:
  metrics::RequestedModelMetrics& metrics_;
  const std::string& request_id_;
  spdlog::logger& log_;
};

// The class of an error the gateway answered itself (no upstream attempt behind it).
router::ErrorClass class_for_status(unsigned status) {
  switch (status) {
    case 401: case 403: return router::ErrorClass::kAuthentication;
    case 404: return router::ErrorClass::kNotFound;
    case 408: return router::ErrorClass::kTimeout;
    case 429: return router::ErrorClass::kRateLimit;
    default: return status >= 500 ? router::ErrorClass::kServerError : router::ErrorClass::kBadRequest;
  }
}

}  // namespace

Snapshot::Snapshot(std::shared_ptr<const config::Config> cfg, metrics::Metrics& m, admin::ControlPlane* control,
                   alerting::Alerter* alerts, const Snapshot* previous)
    : config(std::move(cfg)),
      router(*config, previous ? &previous->router : nullptr),
      master_key(config->master_key), gate(*config, control), metrics(m),
      alerter(alerts) {
  deployment_metrics.reserve(config->model_list.size());
  for (const auto& d : config->model_list) deployment_metrics.push_back(&metrics.deployment(d));
  for (const auto& name : router.listed_models()) model_metrics_.try_emplace(name, &metrics.requested_model(name));
  other_metrics_ = &metrics.requested_model(metrics::kOtherModel);
}

metrics::RequestedModelMetrics& Snapshot::model_metrics(std::string_view name) const {
  auto it = model_metrics_.find(name);
  return it == model_metrics_.end() ? *other_metrics_ : *it->second;
}

ProxyHandler::ProxyHandler(unsigned worker_index, const SnapshotHolder& snapshots, asio::io_context& io,
                           asio::ssl::context& tls, AccessLog& access_log, std::shared_ptr<spdlog::logger> log,
                           const tollgate::Clock& clock, router::SharedState* shared,
                           std::shared_ptr<limits::LocalLimitState> limits, config::ReloadFn reload)
    : worker_index_(worker_index),
      snapshots_(snapshots),
      snapshot_version_(snapshots.version()),
      snapshot_(snapshots.current()),
      reload_(std::move(reload)),
      io_(io),
      upstream_(io, tls, snapshot_->config->upstream),
      access_log_(access_log),
      log_(std::move(log)),
      clock_(clock),
      shared_(shared),
      rng_(std::random_device{}()),
      id_rng_(std::random_device{}()) {
  if (!snapshot_->gate.enabled()) return;
  if (!limits) limits = limits::make_local_state();
  const config::RedisSettings& redis = snapshot_->config->router.redis;
  if (redis.enabled()) {
    redis_ = std::make_unique<store::RedisConnection>(io_, redis, log_);
    redis_->start();
    limiter_ = limits::make_redis_limiter(*redis_, std::move(limits), log_);
  } else {
    limiter_ = limits::make_local_limiter(std::move(limits));
  }
}

ProxyHandler::~ProxyHandler() {
  limiter_.reset();
  if (redis_) redis_->stop();
}

std::string ProxyHandler::new_request_id() {
  // A version-7 UUID (RFC 9562): 48 bits of unix ms, then random bits from a per-thread generator;
  // unique, not secret. Time-ordered, so the spend logs' primary key grows at its right edge
  // instead of touching a random index page per request (a large share of the writer's I/O).
  const auto ms = static_cast<std::uint64_t>(unix_ms_now()) & 0xffffffffffffULL;
  const std::uint64_t a = (ms << 16) | 0x7000ULL | (id_rng_() & 0x0fffULL);
  const std::uint64_t b = (id_rng_() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                     b & 0xffffffffffffULL);
}

const std::shared_ptr<const Snapshot>& ProxyHandler::current_snapshot() {
  const std::uint64_t version = snapshots_.version();
  if (version != snapshot_version_) {
    snapshot_ = snapshots_.current();
    snapshot_version_ = version;
  }
  return snapshot_;
}

asio::awaitable<void> ProxyHandler::send_error(http::Exchange& ex, const api::ApiError& error, CallOutcome& out) {
  out.snapshot->metrics.control_rejection(error.errc);
  out.status = error.status;
  out.error_type = error.type;
  http::HeaderList headers = response_headers(out);
  if (error.retry_after) headers.emplace_back("retry-after", std::to_string(error.retry_after->count()));
  std::string body = out.anthropic_client ? providers::anthropic_error_json(error) : api::error_json(error);
  co_await ex.send(error.status, kJson, std::move(body), headers);
}

asio::awaitable<void> ProxyHandler::send_json(http::Exchange& ex, std::string&& body, CallOutcome& out) {
  out.status = 200;
  const http::HeaderList headers = response_headers(out);
  co_await ex.send(200, kJson, std::move(body), headers);
}

asio::awaitable<void> ProxyHandler::handle(http::Exchange& ex) {
  namespace bhttp = boost::beast::http;
  const http::Request& req = ex.request();
  CallOutcome out;
  out.snapshot = current_snapshot();
  out.request_id = new_request_id();
  out.started = ex.received_at();
  out.started_ms = unix_ms_now();
  out.method = req.method_string();
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  out.path = path;
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const bool is_get = req.method() == bhttp::verb::get;
  const bool is_post = req.method() == bhttp::verb::post;

  // Every branch either answers or leaves an error here; errors are sent in one place below.
  std::optional<api::ApiError> error;
  if (path == "/health/liveliness" || path == "/health/liveness") {
    std::string body = "\"I'm alive!\"";
    co_await send_json(ex, std::move(body), out);
  } else if (path == "/health/readiness") {
    co_await readiness(ex, out);
  } else if (path == "/metrics" && is_get && !out.snapshot->config->require_auth_for_metrics) {
    auto metrics_error = co_await serve_metrics(ex, nullptr, out);
    error = std::move(metrics_error);
  } else {
    out.anthropic_client = path == "/messages" || path == "/messages/count_tokens";
    const std::string_view presented =
        auth::presented_key(req[bhttp::field::authorization], req["x-litellm-api-key"], req["x-api-key"]);
    const bool master = out.snapshot->master_key.matches(presented);
    const std::int64_t now = clock_.unix_ms();
    api::ApiResult<std::shared_ptr<const auth::Principal>> who =
        co_await out.snapshot->gate.authenticate(presented, master, now);
    if (who) out.principal = who->get();
    if (!who) {
      error = who.error();
    } else if (path == "/chat/completions" || path == "/completions" || path == "/embeddings") {
      const api::Endpoint endpoint = path == "/chat/completions" ? api::Endpoint::kChatCompletions
                                     : path == "/completions"    ? api::Endpoint::kCompletions
                                                                 : api::Endpoint::kEmbeddings;
      if (is_post) {
        const auth::Principal& principal = **who;
        const std::string_view body = req.body();
        auto completion_error = co_await handle_completion(ex, endpoint, body, principal, out);
        error = std::move(completion_error);
      } else {
        error = api::make_error(Errc::kMethodNotAllowed, "Use POST for " + std::string(path) + ".");
      }
    } else if (path == "/messages" || path == "/messages/count_tokens") {
      out.anthropic_client = true;
      if (!is_post) {
        error = api::make_error(Errc::kMethodNotAllowed, "Use POST for " + std::string(out.path) + ".");
      } else if (path == "/messages") {
        const auth::Principal& principal = **who;
        auto messages_error = co_await handle_messages(ex, principal, out);
        error = std::move(messages_error);
      } else {
        const auth::Principal& principal = **who;
        auto count_error = co_await count_tokens(ex, principal, out);
        error = std::move(count_error);
      }
    } else if (path == "/models" || path.starts_with("/models/")) {
      if (is_get) {
        const std::string_view id = path.size() > 8 ? path.substr(8) : std::string_view();
        const auth::Principal& principal = **who;
        auto models_error = co_await list_models(ex, id, principal, out);
        error = std::move(models_error);
      } else {
        error = api::make_error(Errc::kMethodNotAllowed, "Use GET for /v1/models.");
      }
    } else if (path == "/metrics" && is_get) {  // require_auth_for_metrics_endpoint
      const auth::Principal* principal = who->get();
      auto metrics_error = co_await serve_metrics(ex, principal, out);
      error = std::move(metrics_error);
    } else if (path == "/config/reload") {
      const auth::Principal& principal = **who;
      auto reload_error = co_await reload_config(ex, principal, out);
      error = std::move(reload_error);
    } else if (out.snapshot->gate.enabled() && admin::AdminApi::handles(out.path)) {
      const auth::Principal& principal = **who;
      auto admin_error = co_await handle_admin(ex, principal, out);
      error = std::move(admin_error);
    } else {
      error = api::make_error(Errc::kNotFound, "Route not found: " + std::string(out.path));
    }
  }
  if (error) co_await send_error(ex, *error, out);
  // Failures, and answers cut short (the client left, the stream broke): settled here.
  const bool succeeded = out.status < 400 && !out.stream_failure && out.error_type.empty();
  settle_request(out, succeeded, {});
  if (out.route_index && out.status < 400 && !out.snapshot->gate.priced(*out.route_index)) {
    out.snapshot->metrics.unpriced_request(out.snapshot->config->model_list[*out.route_index].model);
  }

  const double total = to_ms(SteadyClock::now() - out.started);
  const double upstream = to_ms(out.upstream_wait);
  if (!out.model_group.empty()) {
    metrics::RequestedModelMetrics& mm = out.snapshot->model_metrics(out.model_group);
    mm.request(static_cast<int>(out.status));
    mm.latency(metrics::Seconds(total / 1000.0), metrics::Seconds(std::max(0.0, total - upstream) / 1000.0));
    if (out.status >= 400) mm.failed(out.error_class.value_or(class_for_status(out.status)));
    const bool routed = !out.deployment_id.empty() || out.attempted_fallbacks > 0;
    if (out.snapshot->alerter && routed) out.snapshot->alerter->request_routed(out.model_group, out.attempted_fallbacks > 0);
  }
  access_log_.write(worker_index_, {.request_id = out.request_id,
                     .method = out.method,
                     .path = out.path,
                     .model_group = out.model_group,
                     .deployment_id = out.deployment_id,
                     .status = out.status,
                     .stream = out.stream,
                     .duration_ms = total,
                     .upstream_ms = upstream,
                     .overhead_ms = std::max(0.0, total - upstream),
                     .usage = &out.usage,
                     .error_type = out.error_type});
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::handle_completion(http::Exchange& ex,
                                                                              api::Endpoint endpoint,
                                                                              std::string_view body,
                                                                              const auth::Principal& principal,
                                                                              CallOutcome& out) {
  const std::shared_ptr<const Snapshot> snap = out.snapshot;  // keeps this request's config version
  const router::Router& router = snap->router;
  const http::Request& req = ex.request();
  auto parsed = api::parse_request(body, endpoint);
  if (!parsed) co_return parsed.error();
  const api::RequestFields& fields = parsed->fields;
  out.model_group = capped_name(fields.model);
  out.stream = fields.stream;
  out.endpoint = endpoint;
  out.request_body = req.body();
  // The end user: the body's `user`, else the x-litellm-end-user-id header.
  out.end_user = fields.user.empty() ? header_text(req["x-litellm-end-user-id"]) : capped_name(fields.user);

  const auth::AccessDecision access = auth::check_model_access(principal, fields.model, snap->gate.catalog());
  if (!access.allowed) {
    std::string message = access.by_team ? "Team not allowed to access model. Team=" + principal.team_id() +
                                               ", Model=" + capped_name(fields.model)
                                         : "key not allowed to access model. This key can only access models=" +
                                               nlohmann::json(principal.key.models).dump() + ". Tried to access " +
                                               capped_name(fields.model);
    api::ApiError denied = api::make_error(Errc::kModelAccessDenied, std::move(message), "model");
    if (access.by_team) denied.type = "team_model_access_denied";
    co_return denied;
  }
  std::optional<router::Target> target = router.resolve(access.model);
  if (!target) co_return unknown_model_error(fields.model, router);
  out.model_group = capped_name(target->name);
  if (auto too_many = max_tokens_error(snap->gate, *target, fields)) co_return too_many;
  out.max_retries = router.max_retries(fields.num_retries);

  std::vector<std::string> tags = fields.tags;
  if (auto header = req["x-litellm-tags"]; !header.empty()) add_header_tags(header, tags);
  out.tags = tags;
  const std::int64_t estimate = estimate_prompt_tokens(fields);
  if (limiter_) {
    const router::Target& group = *target;
    auto limited = co_await admit_limits(principal, fields, group, estimate, out);
    if (limited) co_return limited;
  }
  const router::RequestTimeout timeout =
      router::request_timeout(snap->config->upstream, fields, req["x-litellm-timeout"]);
  router::PlanRequest plan_request{.tags = std::move(tags),
                                   .estimated_prompt_tokens = estimate,
                                   .stream = fields.stream,
                                   .num_retries = fields.num_retries,
                                   .fallbacks = fields.fallbacks,
                                   .mock_testing_fallbacks = fields.mock_testing_fallbacks,
                                   .mock_testing_rate_limit_error = fields.mock_testing_rate_limit_error,
                                   .timeout = timeout,
                                   .deadline = out.started + timeout.overall};
  PlanEvents events(*snap, target->name, out.request_id, *log_);
  // Access is decided for every group actually called: a fallback the key may not use is skipped.
  auto fallback_access = [&principal, &snap](std::string_view name) -> std::optional<std::string> {
    const auth::AccessDecision decision = auth::check_model_access(principal, name, snap->gate.catalog());
    if (!decision.allowed) return std::nullopt;
    return std::string(decision.model);
  };
  router::AttemptPlan plan(router, snap->config->upstream, std::move(*target), std::move(plan_request),
                           fallback_access, events);
  const auto plan_now = [&ex] { return router::PlanNow{SteadyClock::now(), unix_ms_now(), ex.draining()}; };
  for (;;) {
    const router::PlanStep step = plan.next(plan_now(), rng_);
    if (step.kind == router::PlanStep::Kind::kFail) break;
    if (step.kind == router::PlanStep::Kind::kWait) {
      co_await sleep_for(step.wait);
      continue;
    }
    const router::Route& route = *step.route;
    if (shared_ && shared_->admits_exactly(route)) {
      // The rpm limit holds exactly across replicas: admission comes from Redis.
      const bool admitted = co_await shared_->admit_rpm(route, unix_ms_now());
      if (!admitted) {
        plan.on_denied();
        continue;
      }
    }
    out.deployment_id = route.deployment->id;
    out.route_index = route.index;
    out.api_base = route.reported_base;
    out.timeout_s = std::chrono::duration<double>(step.timeout.configured).count();
    out.attempted_retries = plan.attempted_retries();
    out.attempted_fallbacks = plan.attempted_fallbacks();
    if (!plan.on_requested()) out.fallback_group = plan.target().name;

    router::AttemptReport report;
    if (step.simulated) {
      report = plan.simulated_failure();
    } else {
      const auto t0 = SteadyClock::now();
      plan.on_call();
      out.usage = {};
      out.ttft_s = 0;
      out.stream_failure.reset();
      AttemptResult result = co_await attempt(ex, endpoint, *parsed, route, plan.target(), step.timeout, out);
      // Every error of an attempt passes here on its way to the client (streams: relay_stream).
      if (result.error) api::Redactor(route.provider->secrets(*route.deployment)).redact(*result.error);
      report = {.called = true,
                .answered = result.answered,
                .error = std::move(result.error),
                .cls = result.cls,
                .retry_after = result.retry_after,
                .seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count(),
                .ttft_s = out.ttft_s,
                .total_tokens = out.usage.present ? std::optional(out.usage.total_tokens) : std::nullopt,
                .completion_tokens = out.usage.completion_tokens};
      if (out.stream_failure) {
        // The client got the head and some chunks, so no retry; the deployment still failed.
        report.cls = *out.stream_failure;
        report.error = api::make_error(Errc::kUpstreamProtocol, "stream broken");
      }
    }
    const bool called = report.called;
    const bool answered = report.answered;
    const std::optional<unsigned> failed_status =
        report.error ? std::optional<unsigned>(report.error->status) : std::nullopt;
    const router::ErrorClass cls = report.cls;
    const double seconds = report.seconds;
    const std::optional<std::chrono::milliseconds> cooled = plan.on_result(std::move(report), plan_now());
    if (called) record_attempt(*snap, route, fields.stream, failed_status, cls, seconds, cooled, out);
    if (answered) co_return std::nullopt;
  }
  out.attempted_retries = plan.attempted_retries();
  out.attempted_fallbacks = plan.attempted_fallbacks();
  if (!plan.on_requested()) out.fallback_group = plan.target().name;
  out.error_class = plan.error_class();
  co_return plan.take_error();
}

void ProxyHandler::record_attempt(const Snapshot& snap, const router::Route& route, bool stream,
                                  std::optional<unsigned> failed_status, router::ErrorClass cls, double seconds,
                                  std::optional<std::chrono::milliseconds> cooled, const CallOutcome& out) {
  metrics::DeploymentMetrics& dm = *snap.deployment_metrics[route.index];
  const std::int64_t now = unix_ms_now();
  if (!failed_status) {
    dm.success(metrics::Seconds(seconds),
               static_cast<std::uint64_t>(std::max<std::int64_t>(0, out.usage.completion_tokens)));
    if (stream && out.ttft_s > 0) dm.time_to_first_token(metrics::Seconds(out.ttft_s));
  } else {
    dm.failure(cls);
    if (cooled && shared_) shared_->publish_cooldown(route, now + cooled->count());
    if (cooled) {
      dm.cooled_down(static_cast<int>(*failed_status));
      log_->warn("request_id={} msg=\"deployment cooling down\" deployment={} class={} seconds={:.1f}",
                 out.request_id, route.deployment->id, router::exception_class_name(cls),
                 std::chrono::duration<double>(*cooled).count());
    }
  }
  const auto state = static_cast<metrics::DeploymentState>(snap.router.health(route, now));
  dm.set_state(state);
  if (snap.alerter) snap.alerter->deployment_state(*route.deployment, state);
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::handle_messages(http::Exchange& ex,
                                                                            const auth::Principal& principal,
                                                                            CallOutcome& out) {
  // Routed as the chat request it translates to; attempt() sends it as is to Anthropic
  // deployments, and the answer goes back in Anthropic's shape either way.
  auto chat = providers::messages_request_to_chat(ex.request().body());
  if (!chat) co_return chat.error();
  const std::string chat_body = std::move(*chat);
  auto error = co_await handle_completion(ex, api::Endpoint::kChatCompletions, chat_body, principal, out);
  co_return error;
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::count_tokens(http::Exchange& ex,
                                                                         const auth::Principal& principal,
                                                                         CallOutcome& out) {
  auto count = providers::count_message_tokens(ex.request().body());
  if (!count) co_return count.error();
  const auth::AccessDecision access = auth::check_model_access(principal, count->model, out.snapshot->gate.catalog());
  if (!access.allowed) {
    co_return api::make_error(Errc::kModelAccessDenied,
                              "key not allowed to access model. Tried to access " + capped_name(count->model), "model");
  }
  if (!out.snapshot->router.resolve(access.model)) co_return unknown_model_error(count->model, out.snapshot->router);
  std::string body = fmt::format("{{\"input_tokens\":{}}}", count->input_tokens);
  co_await send_json(ex, std::move(body), out);
  co_return std::nullopt;
}

asio::awaitable<AttemptResult> ProxyHandler::attempt(http::Exchange& ex, api::Endpoint endpoint,
                                                     const api::ParsedRequest& parsed, const router::Route& route,
                                                     const router::Target& target, const router::AttemptTimeout& timeout,
                                                     CallOutcome& out) {
  AttemptResult result;
  const config::Deployment& deployment = *route.deployment;
  const api::RequestFields& fields = parsed.fields;
  if (fields.mock_response || deployment.mock_response) {
    const std::string& answer = fields.mock_response ? *fields.mock_response : *deployment.mock_response;
    auto mock_error = co_await answer_mock(ex, endpoint, parsed, answer, out);
    result.answered = !mock_error;
    result.error = std::move(mock_error);
    result.cls = router::ErrorClass::kBadRequest;
    co_return result;
  }
  const std::string model = upstream_model(deployment, target);
  const providers::Provider& provider = *route.provider;
  // Vendors that authorise calls with a fetched token (Vertex AI): a cached token costs nothing
  // here; only a missing or expiring one is fetched (no coroutine frame otherwise).
  const std::int64_t token_now_s = unix_ms_now() / 1000;
  auto token_request = provider.token_request(deployment, token_now_s);
  std::optional<api::ApiError> token_error;
  if (!token_request) {
    token_error = token_request.error();
  } else if (*token_request) {
    token_error = co_await fetch_token(provider, deployment, std::move(**token_request), token_now_s, out);
  }
  if (token_error) {
    result.error = std::move(token_error);
    result.cls = router::ErrorClass::kAuthentication;
    co_return result;
  }
  // A /v1/messages request to a vendor that speaks the Messages API goes as the client wrote it.
  std::optional<api::ApiResult<http::UpstreamRequest>> passthrough;
  if (out.anthropic_client) {
    const http::Request& client = ex.request();
    http::HeaderList client_headers;
    for (const char* name : {"anthropic-version", "anthropic-beta"}) {
      if (auto value = client[name]; !value.empty()) client_headers.emplace_back(name, std::string(value));
    }
    passthrough = provider.build_messages_passthrough(deployment, route.base, client.body(), model, client_headers);
  }
  const bool native = passthrough.has_value();
  auto upstream_request = native ? std::move(*passthrough)
                                 : provider.build_request(deployment, route.base, endpoint, parsed, model,
                                                          /*want_stream_usage=*/true);
  if (!upstream_request) {
    result.error = upstream_request.error();
    result.cls = router::ErrorClass::kBadRequest;
    co_return result;
  }
  upstream_request->first_byte_timeout = timeout.first_byte;
  upstream_request->chunk_timeout = timeout.between_chunks;

  auto t0 = SteadyClock::now();
  auto response = co_await upstream_.send(std::move(*upstream_request));
  out.upstream_wait += SteadyClock::now() - t0;
  if (!response) {
    result.cls = router::classify_errc(response.error().errc);
    result.error = response.error();
    co_return result;
  }
  http::UpstreamResponse& resp = **response;
  if (resp.status() >= 400) {
    t0 = SteadyClock::now();
    auto body = co_await resp.read_all(kMaxUpstreamErrorBody);
    out.upstream_wait += SteadyClock::now() - t0;
    const std::string error_body = body ? std::move(*body) : std::string();
    // The vendor reads its own answer once: the client's error, the class, the delay it asks for.
    const providers::HeaderLookup header = [&resp](std::string_view name) { return resp.header(name); };
    providers::UpstreamFailure failure =
        provider.classify_error(resp.status(), error_body, header, unix_ms_now() / 1000);
    result.cls = failure.cls;
    result.retry_after = failure.retry_after;
    result.error = std::move(failure.error);
    co_return result;
  }
  if (fields.stream && resp.has_content_type(provider.stream_content_type())) {
    out.attempt_started = t0;
    if (out.anthropic_client && !native) out.messages_stream = std::make_unique<providers::MessagesStreamWriter>();
    co_await relay_stream(ex, resp, provider, parsed, out, native);
    result.answered = true;
    co_return result;
  }
  t0 = SteadyClock::now();
  auto body = co_await resp.read_all(kMaxUpstreamBody);
  out.upstream_wait += SteadyClock::now() - t0;
  if (!body) {
    result.cls = router::classify_errc(body.error().errc);
    result.error = body.error();
    co_return result;
  }
  api::ApiResult<std::string> translated = std::string();
  if (native) {
    out.usage = provider.messages_usage(*body);
    *translated = std::move(*body);
  } else {
    translated = provider.translate_response(endpoint, std::move(*body), out.usage);
    if (translated && out.anthropic_client) translated = providers::chat_response_to_message(*translated);
  }
  if (!translated) {
    // Some vendors refuse inside a 200 (Gemini's blocked prompt): the provider classifies it.
    providers::UpstreamFailure failure = provider.classify_translated_error(translated.error());
    result.cls = failure.cls;
    result.error = std::move(failure.error);
    co_return result;
  }
  if (out.snapshot->gate.priced(route.index)) out.response_cost = out.snapshot->gate.cost(route.index, out.usage);
  out.status = 200;
  settle_request(out, true, *translated);
  co_await send_json(ex, std::move(*translated), out);
  result.answered = true;
  co_return result;
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::fetch_token(const providers::Provider& provider,
                                                                        const config::Deployment& deployment,
                                                                        http::UpstreamRequest request,
                                                                        std::int64_t now_s, CallOutcome& out) {
  const auto t0 = SteadyClock::now();
  auto response = co_await upstream_.send(std::move(request));
  if (!response) {
    out.upstream_wait += SteadyClock::now() - t0;
    api::ApiError e = response.error();
    e.status = 401;
    e.message = "Could not fetch the deployment's access token: " + e.message;
    co_return e;
  }
  auto body = co_await (*response)->read_all(kMaxUpstreamErrorBody);
  out.upstream_wait += SteadyClock::now() - t0;
  const std::string text = body ? std::move(*body) : std::string();
  co_return provider.accept_token(deployment, (*response)->status(), text, now_s);
}

asio::awaitable<void> ProxyHandler::sleep_for(std::chrono::milliseconds wait) {
  asio::steady_timer timer(io_, wait);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace tollgate::proxy
