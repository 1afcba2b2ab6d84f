#pragma once
// Private to the admin module: one call's context and the route handlers (admin_keys.cpp,
// admin_entities.cpp), dispatched from admin_api.cpp.
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "tollgate/admin/admin_api.hpp"
#include "tollgate/admin/control_plane.hpp"
#include "tollgate/auth/model_access.hpp"

namespace tollgate::admin {

using Json = nlohmann::json;
using Reply = api::ApiResult<std::string>;

struct Call {
  ControlPlane& control;
  const auth::Principal& caller;
  const AdminRequest& request;
  Json body;  // POST body (an object); {} for GET
  std::int64_t now_ms;
  const auth::ModelCatalog& catalog;  // which model groups a name allows (access groups)

  std::string param(std::string_view name) const { return query_param(request.query, name); }
};

// Who may do what (docs/admin-api.md, "Authorization").
bool is_admin(const auth::Principal& p);   // master key or proxy_admin
bool can_view_all(const auth::Principal& p);  // is_admin or proxy_admin_viewer
/// 403 permission_error "Not allowed: <what>. Ask a proxy admin." (`param`: the field at fault).
api::ApiError forbidden(std::string_view what, std::optional<std::string> param = std::nullopt);

/// `data[name]` when it is a string, else "".
std::string string_of(const Json& data, std::string_view name);

/// A record as LiteLLM shows it: its fields, its id under `id_field`, spend, budget_reset_at,
/// created_at/updated_at (ISO 8601).
Json record_json(const db::Record& r, std::string_view id_field);
/// The id field of an entity's records ("team_id", "user_id", ...; "token" for keys).
std::string_view id_field(db::Entity e);
/// Sets budget_reset_at for a record whose budget_duration is (re)set; clears it when unset.
void start_budget_window(db::Record& r, std::int64_t now_ms);
/// 500/503 for a store failure.
api::ApiError store_error(const boost::system::error_code& ec);

boost::asio::awaitable<Reply> key_route(Call& c, std::string_view action);
boost::asio::awaitable<Reply> entity_route(Call& c, db::Entity entity, std::string_view action);
/// Spend reports (admin_spend.cpp): /spend/logs, /global/spend/*, /user|team/daily/activity.
bool is_spend_route(std::string_view path);
boost::asio::awaitable<Reply> spend_route(Call& c);
/// /user/new creates a key too (unless auto_create_key is false): shared with key_route.
boost::asio::awaitable<api::ApiResult<Json>> create_key(Call& c, Json fields);

}  // namespace tollgate::admin
