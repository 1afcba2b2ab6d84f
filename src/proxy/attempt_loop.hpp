#pragma once
// Module-private to proxy/: drives the attempt plan (router/attempt_plan.hpp) for one request —
// waits when it says wait, checks the cluster-wide rpm admission, calls the deployment it picks
// through an UpstreamCall, and reports each attempt (deployment metrics, cooldown broadcast,
// health, alerts). The plan decides; this loop only does what it says.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "proxy/request_context.hpp"
#include "proxy/worker.hpp"
#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/router/router.hpp"

namespace tollgate::proxy {

/// Runs the attempts of `request` on `target` until one answers the client (nullopt) or the plan
/// gives up (the error to answer). Fallback groups are tried only where `principal` may call them.
/// `target` and `tags` are moved from (references: see the coroutine rule in http/server.hpp).
boost::asio::awaitable<std::optional<api::ApiError>> run_attempts(Worker& worker, http::Exchange& ex,
                                                                  RequestContext& ctx,
                                                                  const api::ParsedRequest& request,
                                                                  router::Target& target, std::vector<std::string>& tags,
                                                                  const auth::Principal& principal);

}  // namespace tollgate::proxy
