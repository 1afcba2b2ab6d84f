#pragma once
// LiteLLM's management API: /key, /team, /user, /organization, /customer (/end_user) and
// /budget routes (docs/admin-api.md has every route, its fields and the authorization matrix).
// Requests are JSON (POST) or query strings (GET); answers use LiteLLM's field names.
//
// Thread safety: stateless apart from the ControlPlane it refers to; call from any io thread.
// Lifetime: `control` (and `catalog`, when given) must outlive the AdminApi.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/auth/principal.hpp"

namespace tollgate::auth {
class ModelCatalog;
}

namespace tollgate::admin {

class ControlPlane;

struct AdminRequest {
  bool post = false;           // POST (else GET; other methods are refused before)
  std::string_view path;       // without the query string
  std::string_view query;      // after '?', raw
  std::string_view body;
};

class AdminApi {
 public:
  /// `catalog`: the running snapshot's model catalog (access groups), used to check that alias
  /// targets a non-admin sets are groups they may use. Both must outlive the AdminApi.
  AdminApi(ControlPlane& control, const auth::ModelCatalog& catalog) : control_(control), catalog_(catalog) {}

  /// Whether `path` is an admin route (so the caller answers 404 for the rest).
  static bool handles(std::string_view path);

  /// The JSON answer, or the error to send. `caller` is the authenticated key (or the master key).
  boost::asio::awaitable<api::ApiResult<std::string>> handle(const AdminRequest& request, const auth::Principal& caller,
                                                             std::int64_t now_ms);

 private:
  ControlPlane& control_;
  const auth::ModelCatalog& catalog_;
};

/// A query-string parameter, percent-decoded; empty when absent.
std::string query_param(std::string_view query, std::string_view name);

}  // namespace tollgate::admin
