#include "tollgate/proxy/proxy_handler.hpp"

#include <charconv>
#include <cmath>
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

struct AttemptTimeout {
  std::chrono::milliseconds configured;     // by the precedence rule (reported in x-litellm-timeout)
  std::chrono::milliseconds total;          // the whole attempt: configured, cut to the request's deadline
  std::chrono::milliseconds first_byte;
  std::chrono::milliseconds between_chunks;
};

namespace {

constexpr std::size_t kMaxUpstreamErrorBody = 1u << 20;
constexpr std::size_t kMaxUpstreamBody = 256u << 20;

// `x-litellm-timeout`: finite seconds above 0, at most a day (nan and inf parse, so check).
std::optional<double> parse_seconds(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value) || value <= 0 ||
      value > api::kMaxRequestTimeoutSeconds) {
    return std::nullopt;
  }
  return value;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
}

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

// Timeout precedence: body `timeout` > `x-litellm-timeout` header > deployment > router default.
// The request's own value (body or header) also bounds the whole request, retries included;
// without one the router default does.
struct RequestTimeout {
  std::chrono::milliseconds overall;
  std::optional<std::chrono::milliseconds> requested;  // from the body or the header
  bool from_request = false;
};

RequestTimeout request_timeout(const config::UpstreamSettings& up, const api::RequestFields& fields,
                               std::string_view timeout_header) {
  RequestTimeout t{up.default_timeout, std::nullopt, false};
  if (auto header = parse_seconds(timeout_header)) t.requested = seconds_to_ms(*header);
  if (fields.timeout_seconds) t.requested = seconds_to_ms(*fields.timeout_seconds);
  if (t.requested) {
    t.overall = *t.requested;
    t.from_request = true;
  }
  return t;
}

// Streams bound the time to first byte by `stream_timeout` (deployment, then router) when set.
// No attempt runs past the request's deadline.
AttemptTimeout attempt_timeout_for(const config::UpstreamSettings& up, const config::Deployment& deployment,
                                   const api::RequestFields& fields, const RequestTimeout& request,
                                   SteadyTime deadline) {
  const std::chrono::milliseconds configured =
      request.requested.value_or(deployment.timeout.value_or(up.default_timeout));
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  const std::chrono::milliseconds total = std::max(std::chrono::milliseconds(1), std::min(configured, left));
  if (!fields.stream) return {configured, total, total, total};
  std::chrono::milliseconds first_byte = total;
  if (deployment.stream_timeout) {
    first_byte = std::min(first_byte, *deployment.stream_timeout);
  } else if (up.default_stream_timeout) {
    first_byte = std::min(first_byte, *up.default_stream_timeout);
  }
  return {configured, total, first_byte, up.chunk_timeout};
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

api::ApiError no_deployment_error(std::string_view group, const router::NoDeployment& none) {
  if (none.context_window) {
    return api::make_error(Errc::kInvalidRequest,
                           "ContextWindowExceededError: " + none.reason + " (model=" + capped_name(group) + ").",
                           "messages");
  }
  api::ApiError e = api::make_error(Errc::kNoDeployments, "No deployments available for selected model=" +
                                                              capped_name(group) + ": " + none.reason + ".");
  e.retry_after = std::chrono::ceil<std::chrono::seconds>(none.retry_after);
  return e;
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


// mock_testing_fallbacks / mock_testing_rate_limit_error: the requested group's attempts fail
// as a provider outage / rate limit would, without calling it and without cooling it down.
AttemptResult mock_testing_failure(bool rate_limit, std::string_view group) {
  AttemptResult r;
  if (rate_limit) {
    r.cls = router::ErrorClass::kRateLimit;
    r.error = api::make_error(Errc::kUpstreamStatus, "RateLimitError: mock_testing_rate_limit_error set for model=" +
                                                         capped_name(group) + ".");
    r.error->status = 429;
    r.error->code = "429";
    r.error->type = "rate_limit_error";
  } else {
    r.cls = router::ErrorClass::kServerError;
    r.error = api::make_error(Errc::kUpstreamStatus, "InternalServerError: mock_testing_fallbacks set for model=" +
                                                         capped_name(group) + ".");
    r.error->status = 500;
    r.error->code = "500";
    r.error->type = "api_error";
  }
  return r;
}

// Owns what Router::claim() took for one attempt and gives it back on every exit path,
// including a client that disconnects mid-stream: release() with the real token count after a
// call, unclaim() (as if never claimed) when the call did not happen.
struct ClaimGuard {
  ClaimGuard(const router::Router& r, const router::Route& claimed, std::int64_t estimated, std::int64_t at_ms)
      : router(r), route(claimed), estimate(estimated), actual_tokens(estimated), claimed_ms(at_ms) {}
  ~ClaimGuard() {
    if (called) {
      router.release(route, estimate, actual_tokens, claimed_ms, unix_ms_now());
    } else {
      router.unclaim(route, estimate, claimed_ms);
    }
  }
  ClaimGuard(const ClaimGuard&) = delete;
  ClaimGuard& operator=(const ClaimGuard&) = delete;
  const router::Router& router;
  const router::Route& route;
  std::int64_t estimate;
  std::int64_t actual_tokens;
  std::int64_t claimed_ms;
  bool called = false;  // the deployment was called: its claim stands
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

// How often one request re-picks after Redis refused an rpm admission.
constexpr int kMaxDenials = 3;

// How often one request waits for a cooling group to recover before giving up.
constexpr int kMaxWaits = 3;

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
                           router::SharedState* shared, std::shared_ptr<limits::LocalLimitState> limits,
                           config::ReloadFn reload)
    : worker_index_(worker_index),
      snapshots_(snapshots),
      snapshot_version_(snapshots.version()),
      snapshot_(snapshots.current()),
      reload_(std::move(reload)),
      io_(io),
      upstream_(io, tls, snapshot_->config->upstream),
      access_log_(access_log),
      log_(std::move(log)),
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
    const std::int64_t now = unix_ms_now();
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

  const double total = to_ms(Clock::now() - out.started);
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
  const RequestTimeout timeout = request_timeout(snap->config->upstream, fields, req["x-litellm-timeout"]);
  const SteadyTime deadline = out.started + timeout.overall;

  const std::string requested_group = target->name;
  const router::Target requested_target = *target;
  std::vector<std::string> fallback_queue;
  bool fallbacks_chosen = false;
  std::optional<api::ApiError> last_error;
  router::ErrorClass last_class = router::ErrorClass::kServerError;
  std::vector<std::size_t> tried;
  bool attempted = false;  // some deployment was called (or mock-failed) for this request
  bool pre_call_context = false;  // no deployment could take the prompt, before any call
  for (;;) {  // one model group: the requested one, then each fallback
    const bool on_requested = out.attempted_fallbacks == 0;
    int retries_in_group = 0;
    int waits = 0;
    int denials = 0;
    tried.clear();
    for (;;) {  // attempts within the group
      const router::PickInput input{.tags = tags,
                                    .estimated_prompt_tokens = estimate,
                                    .stream = fields.stream,
                                    .tried = tried};
      const std::int64_t now = unix_ms_now();
      router::PickResult picked = router.pick(*target, input, now, rng_);
      if (picked.route && !router.claim(*picked.route, estimate, now)) {
        // Another request took the last slot between pick and claim: count it as unavailable.
        picked.route = nullptr;
        picked.none.reason = "all deployments are cooling down or at their limits";
      }
      std::optional<ClaimGuard> guard;
      if (picked.route) guard.emplace(router, *picked.route, estimate, now);
      if (picked.route && shared_ && shared_->admits_exactly(*picked.route)) {
        // The rpm limit holds exactly across replicas: admission comes from Redis.
        const router::Route& candidate = *picked.route;
        const bool admitted = co_await shared_->admit_rpm(candidate, now);
        if (!admitted) {
          guard.reset();  // unclaims
          picked.route = nullptr;
          picked.none.reason = "all deployments are at their rpm limits";
          picked.none.retry_after = std::chrono::seconds(1);
          if (++denials <= kMaxDenials) continue;
        }
      }
      if (!picked.route) {
        const auto wait = picked.none.retry_after;
        // Wait for the soonest recovery only when the client gave the request its own deadline
        // and the recovery comes before it; otherwise say so at once.
        if (!picked.none.context_window && !picked.none.permanent && timeout.from_request && waits < kMaxWaits &&
            Clock::now() + wait < deadline) {
          ++waits;
          co_await sleep_for(wait);
          continue;
        }
        snap->model_metrics(requested_group).no_deployment();
        // After a real failure, that failure is the better answer than "nothing available".
        if (!last_error || !attempted) {
          last_error = no_deployment_error(target->name, picked.none);
          last_class = picked.none.context_window ? router::ErrorClass::kContextWindow : router::ErrorClass::kRateLimit;
          pre_call_context = picked.none.context_window && !attempted;
        }
        break;
      }
      const router::Route& route = *picked.route;
      out.deployment_id = route.deployment->id;
      out.route_index = route.index;
      out.api_base = route.reported_base;

      const AttemptTimeout attempt_timeout = attempt_timeout_for(snap->config->upstream, *route.deployment, fields,
                                                                 timeout, deadline);
      out.timeout_s = std::chrono::duration<double>(attempt_timeout.configured).count();
      AttemptResult result;
      attempted = true;
      if (on_requested && (fields.mock_testing_fallbacks || fields.mock_testing_rate_limit_error)) {
        result = mock_testing_failure(fields.mock_testing_rate_limit_error, target->name);  // guard unclaims
      } else {
        const auto t0 = Clock::now();
        guard->called = true;
        out.usage = {};
        out.ttft_s = 0;
        out.stream_failure.reset();
        result = co_await attempt(ex, endpoint, *parsed, route, *target, attempt_timeout, out);
        // Every error of an attempt passes here on its way to the client (streams: relay_stream).
        if (result.error) api::Redactor(route.provider->secrets(*route.deployment)).redact(*result.error);
        guard->actual_tokens = out.usage.present ? out.usage.total_tokens : estimate;
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        metrics::DeploymentMetrics& dm = *snap->deployment_metrics[route.index];
        if (out.stream_failure) {
          // The client got the head and some chunks, so no retry; the deployment still failed.
          result.cls = *out.stream_failure;
          result.error = api::make_error(Errc::kUpstreamProtocol, "stream broken");
        }
        if (!result.error) {
          router.record_success(route, fields.stream, seconds, out.ttft_s, out.usage.completion_tokens, unix_ms_now());
          dm.success(metrics::Seconds(seconds), static_cast<std::uint64_t>(std::max<std::int64_t>(0, out.usage.completion_tokens)));
          if (fields.stream && out.ttft_s > 0) dm.time_to_first_token(metrics::Seconds(out.ttft_s));
        } else {
          dm.failure(result.cls);
          // A timeout the client chose is the client's: it does not count against the deployment.
          const bool clients_timeout = result.cls == router::ErrorClass::kTimeout && timeout.from_request;
          const auto cooled = clients_timeout ? std::nullopt
                                              : router.record_failure(route, result.cls, result.retry_after,
                                                                      attempt_timeout.total, unix_ms_now());
          if (cooled && shared_) shared_->publish_cooldown(route, unix_ms_now() + cooled->count());
          if (cooled) {
            dm.cooled_down(static_cast<int>(result.error->status));
            log_->warn("request_id={} msg=\"deployment cooling down\" deployment={} class={} seconds={:.1f}",
                       out.request_id, route.deployment->id, router::exception_class_name(result.cls),
                       std::chrono::duration<double>(*cooled).count());
          }
        }
        const auto state = static_cast<metrics::DeploymentState>(router.health(route, unix_ms_now()));
        dm.set_state(state);
        if (snap->alerter) snap->alerter->deployment_state(*route.deployment, state);
      }
      guard.reset();
      if (result.answered && !on_requested) snap->model_metrics(requested_group).fallback(target->name, true);
      if (result.answered) co_return std::nullopt;
      last_error = std::move(result.error);
      last_class = result.cls;
      tried.push_back(route.index);
      if (ex.draining() || Clock::now() >= deadline ||
          retries_in_group >= router.retries_for(last_class, route, fields.num_retries)) {
        break;
      }
      // Another deployment that has not failed this request goes at once; the same one again
      // after a backoff (which must fit in the deadline); none available now ends the retries.
      const router::PickInput peek_input{.tags = tags,
                                         .estimated_prompt_tokens = estimate,
                                         .stream = fields.stream,
                                         .tried = tried};
      const router::PickResult peek = router.pick(*target, peek_input, unix_ms_now(), rng_);
      if (!peek.route) break;
      const bool fresh = std::find(tried.begin(), tried.end(), peek.route->index) == tried.end();
      if (!fresh) {
        const auto wait = router.backoff(retries_in_group + 1, result.retry_after, rng_);
        if (Clock::now() + wait >= deadline) break;
        co_await sleep_for(wait);
      }
      ++retries_in_group;
      ++out.attempted_retries;
      snap->model_metrics(requested_group).retry();
    }

    if (!on_requested) snap->model_metrics(requested_group).fallback(target->name, false);
    // The group failed. The fallback list comes from the requested group and the first failure's
    // class; a fallback that fails through the caller's fault ends the walk.
    if (!on_requested && router::is_client_fault(last_class) && last_class != router::ErrorClass::kContextWindow) break;
    if (!fallbacks_chosen) {
      fallbacks_chosen = true;
      const std::vector<std::string>* body_fallbacks = fields.fallbacks ? &*fields.fallbacks : nullptr;
      fallback_queue = router.fallbacks_for(requested_target, last_class, body_fallbacks, pre_call_context);
      std::reverse(fallback_queue.begin(), fallback_queue.end());  // popped from the back
    }
    std::optional<router::Target> next;
    while (!next && !fallback_queue.empty()) {
      // Access is decided for every group actually called: a fallback the key may not use (from
      // the body, or the config's lists) is skipped and counted, never called.
      const std::string name = std::move(fallback_queue.back());
      fallback_queue.pop_back();
      const auth::AccessDecision fallback_access = auth::check_model_access(principal, name, snap->gate.catalog());
      if (!fallback_access.allowed) {
        snap->model_metrics(requested_group).fallback_denied();
        log_->info("request_id={} msg=\"fallback not allowed for this key, skipped\" group={}", out.request_id,
                   capped_name(name));
        continue;
      }
      next = router.resolve(fallback_access.model);
      if (!next) log_->warn("request_id={} msg=\"fallback group unknown\" group={}", out.request_id, capped_name(name));
    }
    if (!next || Clock::now() >= deadline || ex.draining()) break;
    target = std::move(next);
    out.fallback_group = target->name;
    ++out.attempted_fallbacks;
  }
  out.error_class = last_class;
  co_return last_error;
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
                                                     const router::Target& target, const AttemptTimeout& timeout,
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

  auto t0 = Clock::now();
  auto response = co_await upstream_.send(std::move(*upstream_request));
  out.upstream_wait += Clock::now() - t0;
  if (!response) {
    result.cls = router::classify_errc(response.error().errc);
    result.error = response.error();
    co_return result;
  }
  http::UpstreamResponse& resp = **response;
  if (resp.status() >= 400) {
    t0 = Clock::now();
    auto body = co_await resp.read_all(kMaxUpstreamErrorBody);
    out.upstream_wait += Clock::now() - t0;
    const std::string error_body = body ? std::move(*body) : std::string();
    const std::string retry_after = resp.header("retry-after");
    std::string reset = resp.header("x-ratelimit-reset-requests");
    if (reset.empty()) reset = resp.header("x-ratelimit-reset-tokens");
    const router::Classified classified =
        router::classify_response(resp.status(), error_body, retry_after, reset, unix_ms_now() / 1000);
    result.cls = classified.cls;
    result.retry_after = classified.retry_after;
    std::string error_type;  // the vendor's error-type header, when it has one (Bedrock)
    if (!provider.error_type_header().empty()) error_type = resp.header(provider.error_type_header());
    result.error = provider.map_typed_error(resp.status(), error_body, retry_after, error_type);
    co_return result;
  }
  if (fields.stream && resp.has_content_type(provider.stream_content_type())) {
    out.attempt_started = t0;
    if (out.anthropic_client && !native) out.messages_stream = std::make_unique<providers::MessagesStreamWriter>();
    co_await relay_stream(ex, resp, provider, parsed, out, native);
    result.answered = true;
    co_return result;
  }
  t0 = Clock::now();
  auto body = co_await resp.read_all(kMaxUpstreamBody);
  out.upstream_wait += Clock::now() - t0;
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
    // Some vendors refuse inside a 200 (Gemini's blocked prompt): the error's own class decides.
    result.cls = translated.error().errc == Errc::kUpstreamStatus
                     ? router::classify_response(translated.error().status, api::error_json(translated.error()), {}, {}, 0).cls
                     : router::ErrorClass::kServerError;
    result.error = translated.error();
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
  const auto t0 = Clock::now();
  auto response = co_await upstream_.send(std::move(request));
  if (!response) {
    out.upstream_wait += Clock::now() - t0;
    api::ApiError e = response.error();
    e.status = 401;
    e.message = "Could not fetch the deployment's access token: " + e.message;
    co_return e;
  }
  auto body = co_await (*response)->read_all(kMaxUpstreamErrorBody);
  out.upstream_wait += Clock::now() - t0;
  const std::string text = body ? std::move(*body) : std::string();
  co_return provider.accept_token(deployment, (*response)->status(), text, now_s);
}

asio::awaitable<void> ProxyHandler::sleep_for(std::chrono::milliseconds wait) {
  asio::steady_timer timer(io_, wait);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace tollgate::proxy
