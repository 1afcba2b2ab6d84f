// The routes the control plane adds to the proxy: /v1/models filtered by the key, the admin API,
// and the admission of a request to its rate limits and budgets (docs/admin-api.md).
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "proxy/call_outcome.hpp"
#include "tollgate/admin/control_plane.hpp"
#include "tollgate/proxy/proxy_handler.hpp"

namespace tollgate::proxy {

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::list_models(http::Exchange& ex, std::string_view id,
                                                                        const auth::Principal& principal,
                                                                        CallOutcome& out) {
  const auth::ModelCatalog& catalog = out.snapshot->gate.catalog();
  auto may_use = [&](std::string_view name) { return auth::check_model_access(principal, name, catalog).allowed; };
  auto model_json = [](std::string_view name) {
    return nlohmann::json{{"id", name}, {"object", "model"}, {"created", 1677610602}, {"owned_by", "openai"}};
  };
  std::string body;
  if (!id.empty()) {
    if (!out.snapshot->router.knows(id) || !may_use(id)) {
      co_return api::make_error(Errc::kNotFound, "The model '" + std::string(id) + "' does not exist.", "model");
    }
    body = model_json(id).dump();
  } else {
    nlohmann::json data = nlohmann::json::array();
    for (const auto& name : out.snapshot->router.listed_models()) {
      if (may_use(name)) data.push_back(model_json(name));
    }
    body = nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump();
  }
  co_await send_json(ex, std::move(body), out);
  co_return std::nullopt;
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::handle_admin(http::Exchange& ex,
                                                                         const auth::Principal& principal,
                                                                         CallOutcome& out) {
  namespace bhttp = boost::beast::http;
  const http::Request& req = ex.request();
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::post) {
    co_return api::make_error(Errc::kMethodNotAllowed, "Use GET or POST for " + std::string(out.path) + ".");
  }
  const std::string_view target = req.target();
  const auto q = target.find('?');
  const admin::AdminRequest request{.post = req.method() == bhttp::verb::post,
                                    .path = out.path,
                                    .query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1),
                                    .body = req.body()};
  admin::AdminApi api(*out.snapshot->gate.control(), out.snapshot->gate.catalog());
  const std::int64_t now = clock_.unix_ms();
  api::ApiResult<std::string> answer = co_await api.handle(request, principal, now);
  if (!answer) co_return answer.error();
  co_await send_json(ex, std::move(*answer), out);
  co_return std::nullopt;
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::admit_limits(const auth::Principal& principal,
                                                                         const api::RequestFields& fields,
                                                                         const router::Target& group,
                                                                         std::int64_t estimate, CallOutcome& out) {
  const Gate& gate = out.snapshot->gate;
  // Keyless callers (the master key) still answer to the end user's limits, when one is named.
  const bool keyed = !principal.master && !principal.token.empty();
  if (gate.control() == nullptr || (!keyed && out.end_user.empty())) co_return std::nullopt;
  admin::ControlPlane& control = *gate.control();
  const std::string& end_user_id = out.end_user;
  std::shared_ptr<const auth::EntityLimits> end_user;
  if (!end_user_id.empty()) {
    Result<std::shared_ptr<const auth::EntityLimits>> found = co_await control.cache().lookup_end_user(end_user_id);
    if (found) end_user = *found;  // a database outage leaves the end user's limits unchecked
    if (end_user && end_user->blocked) {
      co_return api::make_error(Errc::kForbidden, "Blocked end user: " + capped_name(end_user_id) + ".", "user");
    }
  }
  const TokenRates rates = gate.worst_rates(group.group->members);
  const std::int64_t output = gate.reserved_output(group.group->members, fields.max_tokens, estimate);
  const limits::Demand demand{.tokens = estimate + output,
                              .cost = static_cast<double>(estimate) * rates.input + static_cast<double>(output) * rates.output};
  const std::int64_t now = clock_.unix_ms();
  const std::string& model_group = group.name;
  const auth::EntityLimits* end_user_limits = end_user.get();
  BudgetDenial denied;
  api::ApiResult<GateAdmission> admitted =
      co_await proxy::admit(*limiter_, principal, end_user_limits, model_group, demand, now, &denied);
  if (!admitted && out.snapshot->alerter && !denied.scope.empty()) {
    out.snapshot->alerter->budget_exceeded(denied.scope, denied.window_ms, denied.spend, denied.max_budget);
  }
  if (!admitted) co_return admitted.error();
  out.headroom = admitted->headroom;
  out.key_spend = admitted->key_spend;
  out.team_spend = admitted->team_spend;
  for (const SoftBudgetCrossing& c : admitted->soft_crossings) {
    if (!control.first_soft_budget_alert(c.scope, c.window_ms)) continue;
    const std::string_view entity = std::string_view(c.scope).substr(0, c.scope.find(':'));
    out.snapshot->metrics.soft_budget_alert(entity);
    if (out.snapshot->alerter) out.snapshot->alerter->soft_budget(c.scope, c.window_ms, c.spend, c.soft_budget);
    log_->warn("request_id={} msg=\"soft budget reached\" scope={} spend={} soft_budget={}", out.request_id, c.scope,
               c.spend, c.soft_budget);
  }
  out.limit.emplace(*limiter_, clock_, std::move(admitted->ticket), std::move(admitted->targets));
  co_return std::nullopt;
}

}  // namespace tollgate::proxy

namespace tollgate::proxy {

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::serve_metrics(http::Exchange& ex,
                                                                          const auth::Principal* principal,
                                                                          CallOutcome& out) {
  // The series name key aliases, key hashes, teams and their spend: with the endpoint protected,
  // only the master key and proxy admins (viewers included) may read them. Without a control
  // plane there are no keys to tell apart, and the endpoint stays open (the loader warns).
  const bool admin = principal == nullptr || principal->master || principal->role == auth::UserRole::kProxyAdmin ||
                     principal->role == auth::UserRole::kProxyAdminViewer;
  if (!admin && out.snapshot->gate.enabled()) {
    co_return api::make_error(Errc::kForbidden,
                              "Not allowed: /metrics requires the master key or a proxy_admin / proxy_admin_viewer key "
                              "(require_auth_for_metrics_endpoint is set).");
  }
  std::string body = out.snapshot->metrics.render();
  out.status = 200;
  const http::HeaderList none;
  co_await ex.send(200, "text/plain; version=0.0.4; charset=utf-8", std::move(body), none);
  co_return std::nullopt;
}

asio::awaitable<void> ProxyHandler::readiness(http::Exchange& ex, CallOutcome& out) {
  // Ready = may take traffic: not draining, and (with a control plane) the database has been
  // reached and its schema is current, so virtual keys can be checked. A database or Redis lost
  // later is reported but keeps the replica ready: cached keys and local limits keep serving
  // (docs/deployment.md, "Readiness").
  const Snapshot& snap = *out.snapshot;
  const admin::ControlPlane* control = snap.gate.control();
  const bool draining = ex.stopping();
  const bool schema_ready = control == nullptr || control->schema_ready();
  const bool db_up = control != nullptr && control->db_up() && schema_ready;
  const bool redis_configured = snap.config->router.redis.enabled();
  const bool redis_up = redis_configured && (shared_ == nullptr || shared_->connected()) &&
                        (redis_ == nullptr || redis_->connected());
  const bool ready = !draining && schema_ready;
  const char* status = draining ? "draining"
                       : !ready ? "unhealthy"
                       : (control != nullptr && !db_up) || (redis_configured && !redis_up) ? "degraded"
                                                                                           : "healthy";
  const char* db = control == nullptr ? "Not connected"
                   : !schema_ready    ? (control->schema_pending() ? "schema not migrated" : "disconnected")
                   : db_up            ? "connected"
                                      : "disconnected";
  const char* redis = !redis_configured ? "not configured" : redis_up ? "connected" : "disconnected";
  nlohmann::json body = {{"status", status},
                         {"db", db},
                         {"cache", redis_configured ? nlohmann::json("redis") : nlohmann::json(nullptr)},
                         {"redis", redis},
                         {"config_version", snapshots_.version()},
                         {"tollgate_version", TOLLGATE_VERSION}};
  std::string text = body.dump();
  out.status = ready ? 200 : 503;
  const http::HeaderList none;
  co_await ex.send(out.status, kJson, std::move(text), none);
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::reload_config(http::Exchange& ex,
                                                                          const auth::Principal& principal,
                                                                          CallOutcome& out) {
  if (ex.request().method() != boost::beast::http::verb::post) {
    co_return api::make_error(Errc::kMethodNotAllowed, "Use POST for /config/reload.");
  }
  if (!principal.master) co_return api::make_error(Errc::kForbidden, "Not allowed: reloading the config. Use the master key.");
  if (!reload_) {
    co_return api::make_error(Errc::kInvalidRequest, "This gateway was started without a config file; nothing to reload.");
  }
  // Blocking for the time it takes to read and validate the file and build the snapshot
  // (milliseconds): an operator's call, not a request on the hot path.
  const config::ReloadOutcome outcome = reload_();
  if (!outcome.applied) {
    std::string message = "Config not reloaded; the running config (version " + std::to_string(outcome.version) +
                          ") stays in effect. Problems:";
    for (const auto& e : outcome.errors) message += "\n" + e;
    co_return api::make_error(Errc::kInvalidRequest, message);
  }
  nlohmann::json body = {{"status", "reloaded"},
                         {"config_version", outcome.version},
                         {"deployments", outcome.deployments},
                         {"warnings", outcome.warnings}};
  std::string text = body.dump();
  co_await send_json(ex, std::move(text), out);
  co_return std::nullopt;
}

}  // namespace tollgate::proxy
