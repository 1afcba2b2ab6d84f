#include "admin/rights.hpp"

namespace tollgate::admin {
namespace {

// The rights a role grants, as bits: the role order is inclusion of these sets.
enum Right : unsigned {
  kReadOwn = 1u << 0,    // own keys and user
  kManageOwn = 1u << 1,  // mint and change own keys
  kReadAll = 1u << 2,    // every info/list
  kManageAll = 1u << 3,  // everything
};

unsigned rights_of(auth::UserRole role) {
  switch (role) {
    case auth::UserRole::kProxyAdmin: return kReadOwn | kManageOwn | kReadAll | kManageAll;
    case auth::UserRole::kProxyAdminViewer: return kReadOwn | kReadAll;
    case auth::UserRole::kInternalUser: return kReadOwn | kManageOwn;
    case auth::UserRole::kInternalUserViewer: return kReadOwn;
    case auth::UserRole::kNone: break;
  }
  return 0;
}

// Model access to `group` itself, aliases aside: an alias is a name, not a right.
bool may_use(auth::Principal p, std::string_view group, const auth::ModelCatalog& catalog) {
  p.aliases.clear();
  p.team_model_aliases.clear();
  return auth::check_model_access(p, group, catalog).allowed;
}

}  // namespace

bool role_within(auth::UserRole target, auth::UserRole holder) { return (rights_of(target) & ~rights_of(holder)) == 0; }

std::string_view role_name(auth::UserRole role) {
  switch (role) {
    case auth::UserRole::kProxyAdmin: return "proxy_admin";
    case auth::UserRole::kProxyAdminViewer: return "proxy_admin_viewer";
    case auth::UserRole::kInternalUser: return "internal_user";
    case auth::UserRole::kInternalUserViewer: return "internal_user_viewer";
    case auth::UserRole::kNone: break;
  }
  return "none";
}

auth::UserRole role_of(const db::Record& user) {
  return auth::parse_user_role(string_of(user.data, "user_role")).value_or(auth::UserRole::kNone);
}

boost::asio::awaitable<api::ApiResult<std::optional<db::Record>>> find(Call& c, db::Entity e, const std::string& id) {
  if (id.empty()) co_return std::optional<db::Record>();
  auto rec = co_await c.control.store().get(e, id);
  if (!rec) co_return store_error(rec.error());
  co_return std::move(*rec);
}

api::ApiResult<void> check_key_owner(const Call& c, const std::string& user_id, const std::optional<db::Record>& user,
                                     std::string_view doing) {
  if (c.caller.master || !user) return {};
  const auth::UserRole role = role_of(*user);
  if (role_within(role, c.caller.role)) return {};
  return forbidden(std::string(doing) + " a key of user '" + user_id + "' (role " + std::string(role_name(role)) +
                       "): a key never carries more rights than its creator (your role: " +
                       std::string(role_name(c.caller.role)) + ")",
                   "user_id");
}

boost::asio::awaitable<api::ApiResult<void>> check_organization(Call& c, const std::string& org_id) {
  if (org_id.empty() || is_admin(c.caller)) co_return api::ApiResult<void>();
  const std::string& user_id = c.caller.user_id();
  if (!user_id.empty()) {
    auto user = co_await find(c, db::Entity::kUser, user_id);
    if (!user) co_return user.error();
    if (*user && string_of((*user)->data, "organization_id") == org_id) co_return api::ApiResult<void>();
    auto teams = co_await c.control.store().teams_of_user(user_id);
    if (!teams) co_return store_error(teams.error());
    for (const db::Membership& m : *teams) {
      auto team = co_await find(c, db::Entity::kTeam, m.team_id);
      if (!team) co_return team.error();
      if (*team && string_of((*team)->data, "organization_id") == org_id) co_return api::ApiResult<void>();
    }
  }
  co_return forbidden("charging organization '" + org_id + "', which you are not a member of", "organization_id");
}

api::ApiResult<void> check_alias_targets(const Call& c, const Json& aliases, const auth::Principal& holder,
                                         std::string_view field) {
  if (is_admin(c.caller) || !aliases.is_object()) return {};
  const std::string_view holder_name = field == "model_aliases" ? "this team" : "this key";
  for (const auto& [alias, target] : aliases.items()) {
    if (!target.is_string()) continue;  // validate_fields refused it already
    const std::string& group = target.get_ref<const std::string&>();
    // A key's own `models` may name the alias instead of its target (the request path accepts
    // either at the key's level); its team's and user's lists must allow the target itself.
    auth::Principal bounds = holder;
    if (field == "aliases" && c.catalog.allows(bounds.key.models, alias)) bounds.key.models.clear();
    const bool holder_may = may_use(std::move(bounds), group, c.catalog);
    if (holder_may && may_use(c.caller, group, c.catalog)) continue;
    return forbidden("alias '" + alias + "' targets model group '" + group + "', which " +
                         std::string(holder_may ? "you" : holder_name) + " may not use",
                     std::string(field));
  }
  return {};
}

}  // namespace tollgate::admin
