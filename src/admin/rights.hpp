#pragma once
// Private to the admin module: "a key never carries more rights than its creator"
// (docs/admin-api.md, "Rights of keys"). A key acts with its user's role (and, in its team, with
// that user's team role), and with its aliases reaches other model groups; so whoever mints or
// takes over a key (generate, regenerate, update, block, delete) must hold every right that key
// would hold, and may not point aliases or charges at what they may not use themselves.
//
// The role order is a partial order by set inclusion of the rights each role grants:
//   proxy_admin          {manage all, read all, manage own, read own}
//   proxy_admin_viewer   {read all, read own}
//   internal_user        {manage own, read own}
//   internal_user_viewer {read own}
//   none (no user/role)  {}
// so proxy_admin is above every role, proxy_admin_viewer and internal_user are each above
// internal_user_viewer and not comparable to each other, and every role is above none. The master
// key is above everything.
#include <optional>
#include <string>
#include <string_view>

#include "admin/handlers.hpp"
#include "tollgate/auth/model_access.hpp"

namespace tollgate::admin {

/// `target` carries no right that `holder` lacks (target <= holder in the order above).
bool role_within(auth::UserRole target, auth::UserRole holder);
/// LiteLLM's name of a role ("none" for kNone).
std::string_view role_name(auth::UserRole role);
/// The role stored on a user record (none when absent or unknown).
auth::UserRole role_of(const db::Record& user);

/// A row by id; nullopt when `id` is empty or no such row exists.
boost::asio::awaitable<api::ApiResult<std::optional<db::Record>>> find(Call& c, db::Entity e, const std::string& id);

/// 403 unless the caller may act on a key of `user` (its user record, or nullopt when the key has
/// no user or the user does not exist): the user's role must be within the caller's. `doing`
/// completes "Not allowed: <doing> a key of user ...".
api::ApiResult<void> check_key_owner(const Call& c, const std::string& user_id, const std::optional<db::Record>& user,
                                     std::string_view doing);

/// 403 unless the caller is the master key, a proxy_admin, or belongs to organization `org_id`:
/// their user's `organization_id` is it, or they are a member of a team whose `organization_id`
/// is it. Nothing to check when `org_id` is empty.
boost::asio::awaitable<api::ApiResult<void>> check_organization(Call& c, const std::string& org_id);

/// For callers other than the master key and proxy_admins: every target of `aliases` (an object
/// alias -> model group, as `field` of a key or team) must be a group both `holder` (the key or
/// team the aliases are set on, as it will be) and the caller may use, aliases aside (a key's own
/// `models` may name the alias instead of the target). 403 naming the first target that is not.
api::ApiResult<void> check_alias_targets(const Call& c, const Json& aliases, const auth::Principal& holder,
                                         std::string_view field);

}  // namespace tollgate::admin
