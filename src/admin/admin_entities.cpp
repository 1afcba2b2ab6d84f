// /team, /user, /organization, /customer (/end_user) and /budget routes: one generic CRUD with
// the few entity-specific parts (team members, a user's first key, info shapes) on top.
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "admin/fields.hpp"
#include "admin/handlers.hpp"
#include "admin/rights.hpp"

namespace tollgate::admin {
namespace {

std::span<const FieldSpec> fields_of(db::Entity e) {
  switch (e) {
    case db::Entity::kTeam: return team_fields();
    case db::Entity::kUser: return user_fields();
    case db::Entity::kOrganization: return organization_fields();
    case db::Entity::kEndUser: return end_user_fields();
    case db::Entity::kBudget: return budget_fields();
    case db::Entity::kKey: break;
  }
  return key_fields();
}

// The body field listing ids for /delete.
std::string_view delete_field(db::Entity e) {
  switch (e) {
    case db::Entity::kTeam: return "team_ids";
    case db::Entity::kUser: return "user_ids";
    case db::Entity::kOrganization: return "organization_ids";
    case db::Entity::kEndUser: return "user_ids";
    case db::Entity::kBudget: return "budget_ids";
    case db::Entity::kKey: break;
  }
  return "ids";
}

std::string new_id() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

bool is_member_of(const auth::Principal& c, const std::string& team_id) { return !team_id.empty() && c.team_id() == team_id; }

// Who may do `action` on the entity `id` (empty for new/list).
bool allowed(const Call& c, db::Entity e, std::string_view action, const std::string& id) {
  const auth::Principal& p = c.caller;
  if (is_admin(p)) return true;
  const bool read = action == "info" || action == "list";
  if (read && can_view_all(p)) return true;
  switch (e) {
    case db::Entity::kTeam:
      if (action == "info") return is_member_of(p, id);
      if (action == "list") return !p.team_id().empty();
      if (action == "update" || action == "member_add" || action == "member_delete") return p.team_admin && is_member_of(p, id);
      return false;
    case db::Entity::kUser: return action == "info" && !p.user_id().empty() && id == p.user_id();
    default: return false;
  }
}

boost::asio::awaitable<api::ApiResult<db::Record>> load(Call& c, db::Entity e, const std::string& id) {
  const std::string field(id_field(e));
  if (id.empty()) co_return api::make_error(Errc::kInvalidRequest, "Missing '" + field + "'.", field);
  auto rec = co_await c.control.store().get(e, id);
  if (!rec) co_return store_error(rec.error());
  if (!*rec) {
    co_return api::make_error(Errc::kNotFound, std::string(db::entity_name(e)) + " not found: '" + id + "'.", field);
  }
  co_return std::move(**rec);
}

boost::asio::awaitable<api::ApiResult<void>> put_members(Call& c, const std::string& team_id, const Json& members) {
  for (const Json& m : members) {
    db::Membership membership{.team_id = team_id,
                              .user_id = m["user_id"].get<std::string>(),
                              .role = m.contains("role") ? m["role"].get<std::string>() : std::string("user")};
    auto r = co_await c.control.store().put_member(membership);
    if (!r) co_return store_error(r.error());
    c.control.changed(db::Entity::kUser, membership.user_id);
  }
  co_return api::ApiResult<void>();
}

boost::asio::awaitable<api::ApiResult<Json>> members_json(Call& c, const std::string& team_id) {
  auto members = co_await c.control.store().members_of_team(team_id);
  if (!members) co_return store_error(members.error());
  Json out = Json::array();
  for (const auto& m : *members) out.push_back({{"user_id", m.user_id}, {"role", m.role}});
  co_return json_ok(std::move(out));
}

// A team's model_aliases reach every key of the team: their targets must be groups the team
// (and the caller) may use.
api::ApiResult<void> check_team_aliases(const Call& c, const db::Record& team) {
  const auto aliases = team.data.find("model_aliases");
  if (aliases == team.data.end()) return {};
  auth::Principal holder;
  holder.team = auth::limits_of(team);
  return check_alias_targets(c, *aliases, holder, "model_aliases");
}

// What a non-admin may not set on a team or user (the routes that take these fields are
// admin-only today; checked here too so that a later widening of `allowed` cannot open them).
boost::asio::awaitable<api::ApiResult<void>> check_new_fields(Call& c, db::Entity e, const Json& fields,
                                                              const db::Record& result) {
  if ((e == db::Entity::kTeam || e == db::Entity::kUser) && fields.contains("organization_id")) {
    auto member = co_await check_organization(c, string_of(fields, "organization_id"));
    if (!member) co_return member.error();
  }
  if (e == db::Entity::kTeam && fields.contains("model_aliases")) co_return check_team_aliases(c, result);
  if (e == db::Entity::kUser && fields.contains("user_role") && !is_admin(c.caller)) {
    co_return forbidden("setting 'user_role'", "user_role");
  }
  co_return api::ApiResult<void>();
}

boost::asio::awaitable<Reply> create(Call& c, db::Entity e) {
  auto fields = validate_fields(c.body, fields_of(e));
  if (!fields) co_return fields.error();
  const std::string field(id_field(e));
  db::Record r;
  r.id = string_of(*fields, field);
  if (r.id.empty()) {
    if (e == db::Entity::kEndUser) co_return api::make_error(Errc::kInvalidRequest, "Missing 'user_id'.", "user_id");
    r.id = new_id();
  }
  r.data = std::move(*fields);
  r.data.erase(field);
  Json members = Json::array();
  if (e == db::Entity::kTeam) {
    if (auto m = r.data.find("members_with_roles"); m != r.data.end() && m->is_array()) members = *m;
    r.data.erase("members_with_roles");
  }
  if (auto ok = co_await check_new_fields(c, e, r.data, r); !ok) co_return ok.error();
  start_budget_window(r, c.now_ms);
  auto inserted = co_await c.control.store().insert(e, r);
  if (!inserted) {
    if (inserted.error() == Errc::kDbConflict) {
      co_return api::make_error(Errc::kDbConflict, std::string(db::entity_name(e)) + " already exists: '" + r.id + "'.",
                                field);
    }
    co_return store_error(inserted.error());
  }
  Json out = record_json(*inserted, field);
  if (e == db::Entity::kTeam) {
    auto put = co_await put_members(c, r.id, members);
    if (!put) co_return put.error();
    out["members_with_roles"] = members;
  }
  if (e == db::Entity::kUser) {
    for (const Json& t : r.data.value("teams", Json::array())) {
      db::Membership m{.team_id = t.get<std::string>(), .user_id = r.id, .role = "user"};
      auto put = co_await c.control.store().put_member(m);
      if (!put) co_return store_error(put.error());
    }
    if (r.data.value("auto_create_key", true)) {
      Json key_fields = Json{{"user_id", r.id}};
      for (const char* f : {"models", "key_alias", "duration", "metadata"}) {
        if (r.data.contains(f)) key_fields[f] = r.data[f];
      }
      auto key = co_await create_key(c, std::move(key_fields));
      if (!key) co_return key.error();
      out["key"] = (*key)["key"];
      out["token"] = (*key)["token"];
    }
  }
  co_return out.dump();
}

boost::asio::awaitable<Reply> update(Call& c, db::Entity e) {
  const std::string field(id_field(e));
  auto rec = co_await load(c, e, string_of(c.body, field));
  if (!rec) co_return rec.error();
  auto fields = validate_fields(c.body, fields_of(e));
  if (!fields) co_return fields.error();
  if (!is_admin(c.caller)) {
    // A team admin manages the team's members and aliases, not its own limits.
    for (const auto& [name, value] : fields->items()) {
      if (name != field && name != "team_alias" && name != "metadata" && name != "model_aliases") {
        co_return forbidden("changing '" + name + "' of a team (team admins may change team_alias, metadata, model_aliases)");
      }
    }
  }
  for (const auto& [name, value] : fields->items()) {
    if (name == field || name == "members_with_roles") continue;
    if (value.is_null()) {
      rec->data.erase(name);
    } else {
      rec->data[name] = value;
    }
  }
  if (auto ok = co_await check_new_fields(c, e, *fields, *rec); !ok) co_return ok.error();
  if (fields->contains("budget_duration")) start_budget_window(*rec, c.now_ms);
  auto updated = co_await c.control.store().update(e, *rec, false);
  if (!updated) co_return store_error(updated.error());
  c.control.changed(e, rec->id);
  co_return record_json(*rec, field).dump();
}

boost::asio::awaitable<Reply> info(Call& c, db::Entity e) {
  const std::string field(id_field(e));
  std::string id = c.param(field);
  if (id.empty() && e == db::Entity::kEndUser) id = c.param("end_user_id");
  if (id.empty() && e == db::Entity::kUser) id = c.caller.user_id();
  if (!allowed(c, e, "info", id)) co_return forbidden(std::string("reading this ") + db::entity_name(e));
  auto rec = co_await load(c, e, id);
  if (!rec) co_return rec.error();
  Json body = record_json(*rec, field);
  if (e != db::Entity::kTeam && e != db::Entity::kUser) co_return body.dump();

  db::ListFilter owned{.limit = 100'000};
  if (e == db::Entity::kTeam) {
    owned.team_id = id;
  } else {
    owned.user_id = id;
  }
  auto keys = co_await c.control.store().list(db::Entity::kKey, owned);
  if (!keys) co_return store_error(keys.error());
  Json key_list = Json::array();
  for (const db::Record& k : *keys) key_list.push_back(record_json(k, "token"));
  if (e == db::Entity::kTeam) {
    auto members = co_await members_json(c, id);
    if (!members) co_return members.error();
    body["members_with_roles"] = std::move(*members);
    co_return Json{{"team_id", id}, {"team_info", std::move(body)}, {"keys", std::move(key_list)}}.dump();
  }
  auto teams = co_await c.control.store().teams_of_user(id);
  if (!teams) co_return store_error(teams.error());
  Json team_list = Json::array();
  for (const auto& m : *teams) team_list.push_back({{"team_id", m.team_id}, {"role", m.role}});
  co_return Json{{"user_id", id}, {"user_info", std::move(body)}, {"keys", std::move(key_list)}, {"teams", std::move(team_list)}}
      .dump();
}

boost::asio::awaitable<Reply> list(Call& c, db::Entity e) {
  db::ListFilter filter{.limit = 100'000};
  if (auto o = c.param("organization_id"); !o.empty()) filter.organization_id = o;
  auto all = co_await c.control.store().list(e, filter);
  if (!all) co_return store_error(all.error());
  const std::string field(id_field(e));
  Json out = Json::array();
  for (const db::Record& r : *all) {
    // A team member who is not a viewer sees their own team only.
    if (!can_view_all(c.caller) && r.id != c.caller.team_id()) continue;
    out.push_back(record_json(r, field));
  }
  if (e == db::Entity::kUser) {
    const std::size_t total = out.size();
    co_return Json{{"users", std::move(out)}, {"total", total}, {"page", 1}, {"page_size", total}}.dump();
  }
  co_return out.dump();
}

boost::asio::awaitable<Reply> remove(Call& c, db::Entity e) {
  const std::string field(delete_field(e));
  const auto ids = c.body.find(field);
  std::vector<std::string> given;
  if (ids != c.body.end() && ids->is_array()) {
    for (const Json& id : *ids) {
      if (id.is_string()) given.push_back(id.get<std::string>());
    }
  } else if (auto one = string_of(c.body, id_field(e)); !one.empty()) {
    given.push_back(one);
  }
  if (given.empty()) co_return api::make_error(Errc::kInvalidRequest, "Pass '" + field + "': a list of ids.", field);
  for (const std::string& id : given) {
    auto rec = co_await load(c, e, id);
    if (!rec) co_return rec.error();
  }
  for (const std::string& id : given) {
    auto removed = co_await c.control.store().remove(e, id);
    if (!removed) co_return store_error(removed.error());
    c.control.changed(e, id);
  }
  co_return Json{{"deleted_" + field, given}}.dump();
}

boost::asio::awaitable<Reply> member_change(Call& c, bool add) {
  const std::string team_id = string_of(c.body, "team_id");
  auto team = co_await load(c, db::Entity::kTeam, team_id);
  if (!team) co_return team.error();
  if (add) {
    Json members = Json::array();
    if (auto m = c.body.find("member"); m != c.body.end()) members = m->is_array() ? *m : Json::array({*m});
    auto valid = validate_fields(Json{{"members_with_roles", members}}, team_fields());
    if (!valid) co_return api::make_error(Errc::kInvalidRequest, valid.error().message, "member");
    auto put = co_await put_members(c, team_id, members);
    if (!put) co_return put.error();
  } else {
    const std::string user_id = string_of(c.body, "user_id");
    if (user_id.empty()) co_return api::make_error(Errc::kInvalidRequest, "Missing 'user_id'.", "user_id");
    auto removed = co_await c.control.store().remove_member(team_id, user_id);
    if (!removed) co_return store_error(removed.error());
    c.control.changed(db::Entity::kUser, user_id);
  }
  Json out = record_json(*team, "team_id");
  auto members = co_await members_json(c, team_id);
  if (!members) co_return members.error();
  out["members_with_roles"] = std::move(*members);
  co_return out.dump();
}

boost::asio::awaitable<Reply> block(Call& c, db::Entity e, bool blocked) {
  const std::string field(id_field(e));
  auto rec = co_await load(c, e, string_of(c.body, field));
  if (!rec) co_return rec.error();
  rec->data["blocked"] = blocked;
  auto updated = co_await c.control.store().update(e, *rec, false);
  if (!updated) co_return store_error(updated.error());
  c.control.changed(e, rec->id);
  co_return record_json(*rec, field).dump();
}

}  // namespace

boost::asio::awaitable<Reply> entity_route(Call& c, db::Entity e, std::string_view action) {
  std::string id;
  if (c.request.post) id = string_of(c.body, id_field(e));
  if (action != "info" && !allowed(c, e, action, id)) {
    co_return forbidden(std::string(action) + " on " + db::entity_name(e));
  }
  Reply r = api::make_error(Errc::kNotFound, "Route not found: " + std::string(c.request.path));
  if (action == "new") {
    r = co_await create(c, e);
  } else if (action == "update") {
    r = co_await update(c, e);
  } else if (action == "info") {
    r = co_await info(c, e);
  } else if (action == "list") {
    r = co_await list(c, e);
  } else if (action == "delete") {
    r = co_await remove(c, e);
  } else if (e == db::Entity::kTeam && (action == "member_add" || action == "member_delete")) {
    const bool add = action == "member_add";
    r = co_await member_change(c, add);
  } else if (e == db::Entity::kTeam && (action == "block" || action == "unblock")) {
    const bool blocked = action == "block";
    r = co_await block(c, e, blocked);
  }
  co_return r;
}

}  // namespace tollgate::admin
