#pragma once
// Module-private to proxy/: the routes beside the LLM endpoints — /v1/models filtered by the key,
// the admin API (through ControlAccess), /metrics, /health/readiness and /config/reload.
// Each answers the client itself or returns the error to send.
#include <optional>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "proxy/request_context.hpp"
#include "proxy/worker.hpp"
#include "tollgate/api/api_error.hpp"

namespace tollgate::proxy {

using Answer = boost::asio::awaitable<std::optional<api::ApiError>>;

/// GET /v1/models[/<id>]: the models `principal` may call.
Answer list_models(http::Exchange& ex, std::string_view id, const auth::Principal& principal, RequestContext& out);
/// The admin REST API (docs/admin-api.md).
Answer handle_admin(Worker& worker, http::Exchange& ex, const auth::Principal& principal, RequestContext& out);
/// GET /metrics. `principal`: who asked, when require_auth_for_metrics_endpoint is set (only an
/// admin may read every key's spend); null when the endpoint is open.
Answer serve_metrics(http::Exchange& ex, const auth::Principal* principal, RequestContext& out);
/// GET /health/readiness.
boost::asio::awaitable<void> readiness(Worker& worker, http::Exchange& ex, RequestContext& out);
/// POST /config/reload (master key only).
Answer reload_config(Worker& worker, http::Exchange& ex, const auth::Principal& principal, RequestContext& out);

}  // namespace tollgate::proxy
