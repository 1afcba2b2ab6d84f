// Dispatch and the stage sequence (proxy_handler.hpp; docs/request-lifecycle.md).
#include "tollgate/proxy/proxy_handler.hpp"

#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>

#include "proxy/admission.hpp"
#include "proxy/attempt_loop.hpp"
#include "proxy/control_routes.hpp"
#include "proxy/decide.hpp"
#include "proxy/finish.hpp"
#include "proxy/reply.hpp"
#include "proxy/request_context.hpp"
#include "proxy/shadow.hpp"
#include "proxy/worker.hpp"

namespace tollgate::proxy {
namespace {

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

api::ApiError method_not_allowed(std::string_view method, std::string_view path) {
  return api::make_error(Errc::kMethodNotAllowed, "Use " + std::string(method) + " for " + std::string(path) + ".");
}

}  // namespace

std::string Worker::new_request_id() {
  // A version-7 UUID (RFC 9562): 48 bits of unix ms, then random bits from a per-thread generator;
  // unique, not secret. Time-ordered, so the spend logs' primary key grows at its right edge
  // instead of touching a random index page per request (a large share of the writer's I/O).
  const auto ms = static_cast<std::uint64_t>(unix_ms_now()) & 0xffffffffffffULL;
  const std::uint64_t a = (ms << 16) | 0x7000ULL | (id_rng() & 0x0fffULL);
  const std::uint64_t b = (id_rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                     b & 0xffffffffffffULL);
}

ProxyHandler::ProxyHandler(unsigned worker_index, const SnapshotHolder& snapshots, boost::asio::io_context& io,
                           boost::asio::ssl::context& tls, AccessLog& access_log, std::shared_ptr<spdlog::logger> log,
                           const tollgate::Clock& clock, router::SharedState* shared,
                           std::shared_ptr<limits::LocalLimitState> limits, config::ReloadFn reload, Hooks hooks)
    : worker_(std::make_unique<Worker>(worker_index, snapshots, io, tls, access_log, std::move(log), clock, shared,
                                       std::move(reload), hooks)),
      snapshot_version_(snapshots.version()),
      snapshot_(snapshots.current()) {
  if (snapshot_->control == nullptr) return;
  if (!limits) limits = limits::make_local_state();
  const config::RedisSettings& redis = snapshot_->config->router.redis;
  Worker& w = *worker_;
  if (redis.enabled()) {
    w.redis = std::make_unique<store::RedisConnection>(io, redis, w.log);
    w.redis->start();
    w.limiter = limits::make_redis_limiter(*w.redis, std::move(limits), w.log);
  } else {
    w.limiter = limits::make_local_limiter(std::move(limits));
  }
}

ProxyHandler::~ProxyHandler() {
  worker_->limiter.reset();
  if (worker_->redis) worker_->redis->stop();
}

void ProxyHandler::cut_inflight() { worker_->upstream.cut_all(); }

const std::shared_ptr<const Snapshot>& ProxyHandler::current_snapshot() {
  const std::uint64_t version = worker_->snapshots.version();
  if (version != snapshot_version_) {
    snapshot_ = worker_->snapshots.current();
    snapshot_version_ = version;
  }
  return snapshot_;
}

boost::asio::awaitable<void> ProxyHandler::handle(http::Exchange& ex) {
  namespace bhttp = boost::beast::http;
  Worker& worker = *worker_;
  const http::Request& req = ex.request();
  RequestContext ctx;
  ctx.snapshot = current_snapshot();
  ctx.identity.request_id = worker.new_request_id();
  ctx.timings.started = ex.received_at();
  ctx.timings.started_ms = unix_ms_now();
  ctx.identity.method = req.method_string();
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  ctx.identity.path = path;
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const bool is_get = req.method() == bhttp::verb::get;
  const bool is_post = req.method() == bhttp::verb::post;
  const std::optional<frontend::Served> served = frontend::serves(path);
  if (served) ctx.front_end = served->front_end;  // errors, authentication's included, in its dialect

  // Every branch either answers or leaves an error here; errors are sent in one place below.
  std::optional<api::ApiError> error;
  if (path == "/health/liveliness" || path == "/health/liveness") {
    std::string body = "\"I'm alive!\"";
    co_await send_json(ex, std::move(body), ctx);
  } else if (path == "/health/readiness") {
    co_await readiness(worker, ex, ctx);
  } else if (path == "/metrics" && is_get && !ctx.snapshot->config->require_auth_for_metrics) {
    auto metrics_error = co_await serve_metrics(ex, nullptr, ctx);
    error = std::move(metrics_error);
  } else {
    const std::string_view presented =
        auth::presented_key(req[bhttp::field::authorization], req["x-litellm-api-key"], req["x-api-key"]);
    const bool master = ctx.snapshot->master_key.matches(presented);
    const std::int64_t now = worker.clock.unix_ms();
    api::ApiResult<std::shared_ptr<const auth::Principal>> who =
        co_await ctx.snapshot->authenticator.authenticate(presented, master, now);
    if (!who) {
      error = who.error();
    } else if (served) {
      ctx.identity.principal = who->get();
      if (is_post) {
        const auth::Principal& principal = **who;
        const api::Endpoint endpoint = served->endpoint;
        auto llm_error = co_await serve_llm(ex, path, endpoint, principal, ctx);
        error = std::move(llm_error);
      } else {
        error = method_not_allowed("POST", ctx.identity.path);
      }
    } else if (path == "/models" || path.starts_with("/models/")) {
      const std::string_view id = path.size() > 8 ? path.substr(8) : std::string_view();
      const auth::Principal& principal = **who;
      if (is_get) {
        auto models_error = co_await list_models(ex, id, principal, ctx);
        error = std::move(models_error);
      } else {
        error = method_not_allowed("GET", "/v1/models");
      }
    } else if (path == "/metrics" && is_get) {  // require_auth_for_metrics_endpoint
      const auth::Principal* principal = who->get();
      auto metrics_error = co_await serve_metrics(ex, principal, ctx);
      error = std::move(metrics_error);
    } else if (path == "/config/reload") {
      const auth::Principal& principal = **who;
      auto reload_error = co_await reload_config(worker, ex, principal, ctx);
      error = std::move(reload_error);
    } else if (ctx.snapshot->control != nullptr && ctx.snapshot->control->handles_admin(ctx.identity.path)) {
      const auth::Principal& principal = **who;
      auto admin_error = co_await handle_admin(worker, ex, principal, ctx);
      error = std::move(admin_error);
    } else {
      error = api::make_error(Errc::kNotFound, "Route not found: " + std::string(ctx.identity.path));
    }
  }
  if (error) co_await send_error(ex, *error, ctx);
  ctx.settle();  // failures, and answers cut short (the client left, the stream broke)
  log_request(worker, ctx);
}

boost::asio::awaitable<std::optional<api::ApiError>> ProxyHandler::serve_llm(http::Exchange& ex,
                                                                             std::string_view path,
                                                                             api::Endpoint endpoint,
                                                                             const auth::Principal& principal,
                                                                             RequestContext& ctx) {
  Worker& worker = *worker_;
  const std::shared_ptr<const Snapshot> snap = ctx.snapshot;  // keeps this request's config version
  const http::Request& req = ex.request();
  // Parse: the front end turns the client's dialect into the internal request.
  auto inbound = ctx.front_end->parse(path, req.body());
  if (!inbound) co_return inbound.error();
  if (inbound->local_answer) {  // answered by the front end once the caller may use the model
    auto allowed = check_access(principal, inbound->model, snap->authenticator.catalog());
    if (!allowed) co_return allowed.error();
    auto target = decide(snap->router, *allowed, inbound->model);
    if (!target) co_return target.error();
    co_await send_json(ex, std::move(*inbound->local_answer), ctx);
    co_return std::nullopt;
  }
  const std::string_view body = inbound->translated.empty() ? std::string_view(req.body()) : inbound->translated;
  auto parsed = api::parse_request(body, endpoint);
  if (!parsed) co_return parsed.error();
  const api::RequestFields& fields = parsed->fields;
  ctx.call = {.endpoint = endpoint, .client_body = req.body(), .stream = fields.stream};
  ctx.settlement.emplace(ctx);  // from here the request settles on every exit path
  ctx.routing.model_group = capped_name(fields.model);
  // The end user: the body's `user`, else the x-litellm-end-user-id header.
  ctx.identity.end_user = fields.user.empty() ? header_text(req["x-litellm-end-user-id"]) : capped_name(fields.user);

  // Access, then decide which group answers, then admission to its limits and budgets.
  auto allowed = check_access(principal, fields.model, snap->authenticator.catalog());
  if (!allowed) co_return allowed.error();
  auto target = decide(snap->router, *allowed, fields.model);
  if (!target) co_return target.error();
  ctx.routing.model_group = capped_name(target->name);
  if (auto too_many = check_max_tokens(snap->prices, *target, fields)) co_return too_many;
  ctx.routing.max_retries = snap->router.max_retries(fields.num_retries);
  std::vector<std::string> tags = fields.tags;
  if (auto header = req["x-litellm-tags"]; !header.empty()) add_header_tags(header, tags);
  ctx.identity.tags = tags;
  const std::int64_t estimate = estimate_prompt_tokens(fields);
  const router::Target& decided = *target;
  auto limited = co_await admit_limits(worker, principal, fields, decided, estimate, ctx);
  if (limited) co_return limited;

  // Cache lookup: a hit answers without an upstream call.
  if (worker.hooks.cache && !fields.stream) {
    const CacheQuery query{.endpoint = endpoint, .model_group = target->name, .request_body = body};
    if (std::optional<CachedAnswer> hit = worker.hooks.cache->lookup(query)) {
      auto answer = ctx.front_end->render(std::move(hit->body));
      if (!answer) co_return answer.error();
      ctx.answer.status = 200;
      ctx.cost.usage = hit->usage;
      ctx.settle(*answer);  // releases the admission's charge; no deployment answered, nothing spent
      co_await send_json(ex, std::move(*answer), ctx);
      co_return std::nullopt;
    }
  }

  // The attempt plan and the upstream calls; then the shadow call, when the hook asks for one.
  router::Target& group = *target;
  auto failed = co_await run_attempts(worker, ex, ctx, *parsed, group, tags, principal);
  if (!failed) start_shadow(worker, ctx, body);
  co_return failed;
}

}  // namespace tollgate::proxy
