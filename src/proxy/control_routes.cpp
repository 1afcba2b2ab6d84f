// The routes beside the LLM endpoints (control_routes.hpp).
#include "proxy/control_routes.hpp"

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "proxy/reply.hpp"

namespace tollgate::proxy {

Answer list_models(http::Exchange& ex, std::string_view id, const auth::Principal& principal, RequestContext& out) {
  const auth::ModelCatalog& catalog = out.snapshot->authenticator.catalog();
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

Answer handle_admin(Worker& worker, http::Exchange& ex, const auth::Principal& principal, RequestContext& out) {
  namespace bhttp = boost::beast::http;
  const http::Request& req = ex.request();
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::post) {
    co_return api::make_error(Errc::kMethodNotAllowed, "Use GET or POST for " + std::string(out.identity.path) + ".");
  }
  const std::string_view target = req.target();
  const auto q = target.find('?');
  const AdminCall call{.post = req.method() == bhttp::verb::post,
                       .path = out.identity.path,
                       .query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1),
                       .body = req.body()};
  const std::int64_t now = worker.clock.unix_ms();
  api::ApiResult<std::string> answer =
      co_await out.snapshot->control->admin(call, principal, out.snapshot->authenticator.catalog(), now);
  if (!answer) co_return answer.error();
  co_await send_json(ex, std::move(*answer), out);
  co_return std::nullopt;
}


Answer serve_metrics(http::Exchange& ex, const auth::Principal* principal, RequestContext& out) {
  // The series name key aliases, key hashes, teams and their spend: with the endpoint protected,
  // only the master key and proxy admins (viewers included) may read them. Without a control
  // plane there are no keys to tell apart, and the endpoint stays open (the loader warns).
  const bool admin = principal == nullptr || principal->master || principal->role == auth::UserRole::kProxyAdmin ||
                     principal->role == auth::UserRole::kProxyAdminViewer;
  if (!admin && out.snapshot->control != nullptr) {
    co_return api::make_error(Errc::kForbidden,
                              "Not allowed: /metrics requires the master key or a proxy_admin / proxy_admin_viewer key "
                              "(require_auth_for_metrics_endpoint is set).");
  }
  std::string body = out.snapshot->metrics.render();
  out.answer.status = 200;
  const http::HeaderList none;
  co_await ex.send(200, "text/plain; version=0.0.4; charset=utf-8", std::move(body), none);
  co_return std::nullopt;
}

boost::asio::awaitable<void> readiness(Worker& worker, http::Exchange& ex, RequestContext& out) {
  // Ready = may take traffic: not draining, and (with a control plane) the database has been
  // reached and its schema is current, so virtual keys can be checked. A database or Redis lost
  // later is reported but keeps the replica ready: cached keys and local limits keep serving
  // (docs/deployment.md, "Readiness").
  const Snapshot& snap = *out.snapshot;
  const ControlAccess* control = snap.control;
  const bool draining = ex.stopping();
  const bool schema_ready = control == nullptr || control->schema_ready();
  const bool db_up = control != nullptr && control->db_up() && schema_ready;
  const bool redis_configured = snap.config->router.redis.enabled();
  const bool redis_up = redis_configured && (worker.shared == nullptr || worker.shared->connected()) &&
                        (worker.redis == nullptr || worker.redis->connected());
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
                         {"config_version", worker.snapshots.version()},
                         {"tollgate_version", TOLLGATE_VERSION}};
  std::string text = body.dump();
  out.answer.status = ready ? 200 : 503;
  const http::HeaderList none;
  co_await ex.send(out.answer.status, kJson, std::move(text), none);
}

Answer reload_config(Worker& worker, http::Exchange& ex, const auth::Principal& principal, RequestContext& out) {
  if (ex.request().method() != boost::beast::http::verb::post) {
    co_return api::make_error(Errc::kMethodNotAllowed, "Use POST for /config/reload.");
  }
  if (!principal.master) co_return api::make_error(Errc::kForbidden, "Not allowed: reloading the config. Use the master key.");
  if (!worker.reload) {
    co_return api::make_error(Errc::kInvalidRequest, "This gateway was started without a config file; nothing to reload.");
  }
  // Blocking for the time it takes to read and validate the file and build the snapshot
  // (milliseconds): an operator's call, not a request on the hot path.
  const config::ReloadOutcome outcome = worker.reload();
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
