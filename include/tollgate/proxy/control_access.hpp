#pragma once
// The control plane as the request path sees it: the key cache and spend sink a snapshot links
// to, soft-budget alert dedup, database state for readiness, and the admin routes. admin::ControlPlane
// is behind it; app/ wires the two, so the data plane (proxy) never includes the control plane (admin).
//
// Thread safety: every member may be called from any worker.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/auth/key_cache.hpp"
#include "tollgate/auth/model_access.hpp"
#include "tollgate/auth/principal.hpp"
#include "tollgate/spend/spend_sink.hpp"

namespace tollgate::proxy {

/// One call to an admin route (GET or POST; other methods are refused before).
struct AdminCall {
  bool post = false;
  std::string_view path;   // without the query string
  std::string_view query;  // after '?', raw
  std::string_view body;
};

class ControlAccess {
 public:
  virtual ~ControlAccess() = default;

  virtual auth::KeyCache& keys() = 0;
  virtual spend::SpendSink& spend() = 0;
  /// True for the first request that finds `scope` past its soft budget in the window ending at
  /// `window_ms` (one alert per window).
  virtual bool first_soft_budget_alert(const std::string& scope, std::int64_t window_ms) = 0;

  // For GET /health/readiness.
  virtual bool db_up() const = 0;
  virtual bool schema_ready() const = 0;
  virtual bool schema_pending() const = 0;

  /// Whether `path` is an admin route (the caller answers 404 for the rest).
  virtual bool handles_admin(std::string_view path) const = 0;
  /// The admin route's JSON answer, or the error to send. `caller`: the authenticated key.
  virtual boost::asio::awaitable<api::ApiResult<std::string>> admin(const AdminCall& call, const auth::Principal& caller,
                                                                    const auth::ModelCatalog& catalog,
                                                                    std::int64_t now_ms) = 0;
};

}  // namespace tollgate::proxy
