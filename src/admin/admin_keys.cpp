// /key/* routes.
#include <openssl/rand.h>

#include <algorithm>

#include "admin/fields.hpp"
#include "admin/handlers.hpp"
#include "admin/rights.hpp"
#include "tollgate/auth/budget_window.hpp"

namespace tollgate::admin {
namespace {

constexpr std::size_t kMaxListPage = 1000;
// What an internal user may change on their own key; everything else needs an admin.
constexpr std::array<std::string_view, 4> kSelfServiceFields{"key", "key_alias", "metadata", "tags"};

std::string random_key() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = "sk-";
  // 128 bits as 22 base64url characters.
  unsigned acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string key_name(std::string_view key) { return "sk-..." + std::string(key.substr(key.size() - 4)); }

bool is_token(std::string_view k) {
  return k.size() == 64 && std::all_of(k.begin(), k.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A key is named by itself ("sk-...") or by its token (the SHA-256 hex the API returns).
std::string token_of(std::string_view k) { return is_token(k) ? std::string(k) : auth::hash_key(k); }

bool may_manage(const auth::Principal& c, const db::Record& key) {
  if (is_admin(c)) return true;
  if (c.team_admin && !c.team_id().empty() && string_of(key.data, "team_id") == c.team_id()) return true;
  return c.role == auth::UserRole::kInternalUser && !c.user_id().empty() && string_of(key.data, "user_id") == c.user_id();
}

bool may_read(const auth::Principal& c, const db::Record& key) {
  if (may_manage(c, key) || can_view_all(c) || key.id == c.token) return true;
  return c.role == auth::UserRole::kInternalUserViewer && !c.user_id().empty() &&
         string_of(key.data, "user_id") == c.user_id();
}

// May the caller change, regenerate, block or delete `key`? Beside who may manage which keys
// (may_manage), the key's user may not outrank the caller: whoever holds the key acts with that
// user's role (regenerate hands over a working key).
boost::asio::awaitable<api::ApiResult<void>> check_manage(Call& c, const db::Record& key, std::string_view doing) {
  if (!may_manage(c.caller, key)) co_return forbidden(std::string(doing) + " another key");
  if (is_admin(c.caller)) co_return api::ApiResult<void>();  // above every role
  const std::string user_id = string_of(key.data, "user_id");
  auto user = co_await find(c, db::Entity::kUser, user_id);
  if (!user) co_return user.error();
  co_return check_key_owner(c, user_id, *user, doing);
}

// The aliases of the key `rec` will be, against its model lists as the request path reads them
// (its own, its team's, its user's).
api::ApiResult<void> check_key_aliases(const Call& c, const db::Record& rec, const std::optional<db::Record>& team,
                                       const std::optional<db::Record>& user) {
  const auto aliases = rec.data.find("aliases");
  if (aliases == rec.data.end() || !aliases->is_object() || aliases->empty()) return {};
  const auth::Principal holder = auth::make_principal(rec, team, user, std::nullopt, std::nullopt);
  return check_alias_targets(c, *aliases, holder, "aliases");
}

void set_expiry(Json& data, std::int64_t now_ms) {
  const auto it = data.find("duration");
  if (it == data.end()) return;
  if (it->is_string()) {
    data["expires"] = auth::iso8601(auth::add_duration(now_ms, *auth::parse_duration(it->get_ref<const std::string&>())));
  } else {
    data["expires"] = nullptr;
  }
}

Json key_json(const db::Record& r) { return record_json(r, "token"); }

std::string key_param(const Call& c) {
  if (c.request.post) return string_of(c.body, "key");
  return c.param("key");
}

boost::asio::awaitable<api::ApiResult<db::Record>> load_key(Call& c, const std::string& given) {
  if (given.empty()) co_return api::make_error(Errc::kInvalidRequest, "Missing 'key'.", "key");
  const std::string token = token_of(given);
  auto rec = co_await c.control.store().get(db::Entity::kKey, token);
  if (!rec) co_return store_error(rec.error());
  if (!*rec) co_return api::make_error(Errc::kNotFound, "Key not found.", "key");
  co_return std::move(**rec);
}

boost::asio::awaitable<Reply> key_info(Call& c) {
  std::string given = c.param("key");
  if (given.empty()) {
    if (c.caller.master) co_return api::make_error(Errc::kInvalidRequest, "Missing 'key'.", "key");
    given = c.caller.token;
  }
  auto rec = co_await load_key(c, given);
  if (!rec) co_return rec.error();
  if (!may_read(c.caller, *rec)) co_return forbidden("reading another key's info");
  Json info = key_json(*rec);
  auto spend = co_await c.control.store().model_spend(rec->id, rec->budget_reset_at_ms);
  if (!spend) co_return store_error(spend.error());
  Json model_spend = Json::object();
  for (const auto& [model, amount] : *spend) model_spend[model] = amount;
  info["model_spend"] = std::move(model_spend);
  co_return Json{{"key", given}, {"info", std::move(info)}}.dump();
}

boost::asio::awaitable<Reply> key_update(Call& c) {
  auto rec = co_await load_key(c, key_param(c));
  if (!rec) co_return rec.error();
  if (auto ok = co_await check_manage(c, *rec, "updating"); !ok) co_return ok.error();
  auto fields = validate_fields(c.body, key_fields());
  if (!fields) co_return fields.error();
  for (const auto& [name, value] : fields->items()) {
    const bool self_service = std::find(kSelfServiceFields.begin(), kSelfServiceFields.end(), name) != kSelfServiceFields.end();
    if (!is_admin(c.caller) && !self_service && !(c.caller.team_admin && name != "team_id" && name != "user_id")) {
      co_return forbidden("changing '" + name + "' of a key");
    }
    if (name == "key") continue;  // names the key; regenerate changes it
    if (value.is_null()) {
      rec->data.erase(name);
    } else {
      rec->data[name] = value;
    }
  }
  if (fields->contains("organization_id")) {
    auto member = co_await check_organization(c, string_of(*fields, "organization_id"));
    if (!member) co_return member.error();
  }
  if (const auto a = fields->find("aliases"); a != fields->end() && !a->is_null() && !is_admin(c.caller)) {
    auto team = co_await find(c, db::Entity::kTeam, string_of(rec->data, "team_id"));
    if (!team) co_return team.error();
    auto user = co_await find(c, db::Entity::kUser, string_of(rec->data, "user_id"));
    if (!user) co_return user.error();
    if (auto ok = check_key_aliases(c, *rec, *team, *user); !ok) co_return ok.error();
  }
  set_expiry(rec->data, c.now_ms);
  if (fields->contains("budget_duration")) start_budget_window(*rec, c.now_ms);
  auto updated = co_await c.control.store().update(db::Entity::kKey, *rec, false);
  if (!updated) co_return store_error(updated.error());
  if (!*updated) co_return api::make_error(Errc::kNotFound, "Key not found.", "key");
  c.control.changed(db::Entity::kKey, rec->id);
  Json out = key_json(*rec);
  out["key"] = key_param(c);
  co_return out.dump();
}

boost::asio::awaitable<Reply> key_delete(Call& c) {
  std::vector<std::string> given;
  const auto keys = c.body.find("keys");
  const auto aliases = c.body.find("key_aliases");
  if (keys != c.body.end() && keys->is_array()) {
    for (const Json& k : *keys) {
      if (!k.is_string()) co_return api::make_error(Errc::kInvalidRequest, "'keys' must be a list of keys.", "keys");
      given.push_back(k.get<std::string>());
    }
  } else if (aliases != c.body.end() && aliases->is_array()) {
    auto all = co_await c.control.store().list(db::Entity::kKey, db::ListFilter{.limit = 100'000});
    if (!all) co_return store_error(all.error());
    for (const Json& a : *aliases) {
      for (const db::Record& r : *all) {
        if (a.is_string() && string_of(r.data, "key_alias") == a.get_ref<const std::string&>()) given.push_back(r.id);
      }
    }
  } else {
    co_return api::make_error(Errc::kInvalidRequest, "Pass 'keys' (a list of keys) or 'key_aliases'.", "keys");
  }
  std::vector<db::Record> found;
  for (const std::string& k : given) {
    auto rec = co_await load_key(c, k);
    if (!rec) co_return rec.error();
    if (auto ok = co_await check_manage(c, *rec, "deleting"); !ok) co_return ok.error();
    found.push_back(std::move(*rec));
  }
  for (const db::Record& r : found) {
    auto removed = co_await c.control.store().remove(db::Entity::kKey, r.id);
    if (!removed) co_return store_error(removed.error());
    c.control.changed(db::Entity::kKey, r.id);
  }
  co_return Json{{"deleted_keys", given}}.dump();
}

boost::asio::awaitable<Reply> key_regenerate(Call& c) {
  auto rec = co_await load_key(c, key_param(c));
  if (!rec) co_return rec.error();
  if (auto ok = co_await check_manage(c, *rec, "regenerating"); !ok) co_return ok.error();
  std::string fresh = string_of(c.body, "new_key");
  if (fresh.empty()) fresh = random_key();
  if (!fresh.starts_with("sk-") || fresh.size() < 8) {
    co_return api::make_error(Errc::kInvalidRequest, "'new_key' must start with 'sk-' (at least 8 characters).", "new_key");
  }
  const std::string old_id = rec->id;
  db::Record next = std::move(*rec);
  next.id = auth::hash_key(fresh);
  next.created_at_ms = 0;
  next.data["key_name"] = key_name(fresh);
  auto inserted = co_await c.control.store().insert(db::Entity::kKey, next);
  if (!inserted) co_return store_error(inserted.error());
  auto with_spend = co_await c.control.store().update(db::Entity::kKey, next, true);
  if (!with_spend) co_return store_error(with_spend.error());
  auto removed = co_await c.control.store().remove(db::Entity::kKey, old_id);
  if (!removed) co_return store_error(removed.error());
  c.control.changed(db::Entity::kKey, old_id);
  Json out = key_json(*inserted);
  out["spend"] = next.spend;
  out["key"] = fresh;
  co_return out.dump();
}

boost::asio::awaitable<Reply> key_list(Call& c) {
  db::ListFilter filter{.limit = 100'000};
  if (auto u = c.param("user_id"); !u.empty()) filter.user_id = u;
  if (auto t = c.param("team_id"); !t.empty()) filter.team_id = t;
  if (auto o = c.param("organization_id"); !o.empty()) filter.organization_id = o;
  if (!can_view_all(c.caller)) {
    if (c.caller.team_admin) {
      filter.team_id = c.caller.team_id();
    } else if ((c.caller.role == auth::UserRole::kInternalUser || c.caller.role == auth::UserRole::kInternalUserViewer) &&
               !c.caller.user_id().empty()) {
      filter.user_id = c.caller.user_id();
    } else {
      co_return forbidden("listing keys");
    }
  }
  const std::size_t page = std::max<std::size_t>(1, std::strtoull(c.param("page").c_str(), nullptr, 10));
  std::size_t size = std::strtoull(c.param("size").c_str(), nullptr, 10);
  if (size == 0) size = 10;
  size = std::min(size, kMaxListPage);
  auto all = co_await c.control.store().list(db::Entity::kKey, filter);
  if (!all) co_return store_error(all.error());
  const bool full = c.param("return_full_object") == "true";
  Json keys = Json::array();
  for (std::size_t i = (page - 1) * size; i < all->size() && i < page * size; ++i) {
    keys.push_back(full ? key_json((*all)[i]) : Json((*all)[i].id));
  }
  const std::size_t total = all->size();
  co_return Json{{"keys", std::move(keys)},
                 {"total_count", total},
                 {"current_page", page},
                 {"total_pages", (total + size - 1) / size}}
      .dump();
}

boost::asio::awaitable<Reply> key_block(Call& c, bool blocked) {
  auto rec = co_await load_key(c, key_param(c));
  if (!rec) co_return rec.error();
  if (auto ok = co_await check_manage(c, *rec, blocked ? "blocking" : "unblocking"); !ok) co_return ok.error();
  rec->data["blocked"] = blocked;
  auto updated = co_await c.control.store().update(db::Entity::kKey, *rec, false);
  if (!updated) co_return store_error(updated.error());
  c.control.changed(db::Entity::kKey, rec->id);
  co_return key_json(*rec).dump();
}

}  // namespace

boost::asio::awaitable<api::ApiResult<Json>> create_key(Call& c, Json fields) {
  const auth::Principal& caller = c.caller;
  if (!is_admin(caller)) {
    const std::string team = string_of(fields, "team_id");
    if (caller.team_admin && team == caller.team_id()) {
      // A team admin mints keys for their team: for themselves, for no user, or for a member.
      const std::string user = string_of(fields, "user_id");
      if (!user.empty() && user != caller.user_id()) {
        auto members = co_await c.control.store().members_of_team(team);
        if (!members) co_return store_error(members.error());
        if (std::none_of(members->begin(), members->end(), [&](const db::Membership& m) { return m.user_id == user; })) {
          co_return forbidden("creating a key for user '" + user + "', who is not a member of team '" + team + "'",
                              "user_id");
        }
      }
    } else if (caller.role == auth::UserRole::kInternalUser && !caller.user_id().empty()) {
      const std::string user = string_of(fields, "user_id");
      if (!user.empty() && user != caller.user_id()) co_return forbidden("creating keys for another user");
      if (!team.empty() && team != caller.team_id()) co_return forbidden("creating keys for another team");
      fields["user_id"] = caller.user_id();
    } else {
      co_return forbidden("creating keys");
    }
  }
  const std::string team_id = string_of(fields, "team_id");
  auto team = co_await find(c, db::Entity::kTeam, team_id);
  if (!team) co_return team.error();
  if (!team_id.empty() && !*team) {
    co_return api::make_error(Errc::kInvalidRequest, "Team not found: '" + team_id + "'.", "team_id");
  }
  const std::string user_id = string_of(fields, "user_id");
  auto user = co_await find(c, db::Entity::kUser, user_id);
  if (!user) co_return user.error();
  if (!user_id.empty() && !*user && !is_admin(caller)) {
    // A key for a user who does not exist yet would take the role that user is later given.
    co_return api::make_error(Errc::kInvalidRequest, "User not found: '" + user_id + "'.", "user_id");
  }
  if (auto ok = check_key_owner(c, user_id, *user, "creating"); !ok) co_return ok.error();
  if (auto ok = co_await check_organization(c, string_of(fields, "organization_id")); !ok) co_return ok.error();
  std::string key = string_of(fields, "key");
  if (key.empty()) key = random_key();
  fields.erase("key");  // only the hash is stored
  db::Record r;
  r.id = auth::hash_key(key);
  r.data = std::move(fields);
  r.data["key_name"] = key_name(key);
  if (!r.data.contains("expires")) r.data["expires"] = nullptr;
  if (auto ok = check_key_aliases(c, r, *team, *user); !ok) co_return ok.error();
  set_expiry(r.data, c.now_ms);
  start_budget_window(r, c.now_ms);
  auto inserted = co_await c.control.store().insert(db::Entity::kKey, r);
  if (!inserted) {
    if (inserted.error() == Errc::kDbConflict) co_return api::make_error(Errc::kDbConflict, "Key already exists.", "key");
    co_return store_error(inserted.error());
  }
  Json out = key_json(*inserted);
  out["key"] = key;
  co_return json_ok(std::move(out));
}

boost::asio::awaitable<Reply> key_route(Call& c, std::string_view action) {
  if (action == "generate") {
    auto fields = validate_fields(c.body, key_fields());
    if (!fields) co_return fields.error();
    Json valid = std::move(*fields);
    auto created = co_await create_key(c, std::move(valid));
    if (!created) co_return created.error();
    co_return created->dump();
  }
  Reply r = api::make_error(Errc::kNotFound, "Route not found: /key/" + std::string(action));
  if (action == "info") {
    r = co_await key_info(c);
  } else if (action == "update") {
    r = co_await key_update(c);
  } else if (action == "delete") {
    r = co_await key_delete(c);
  } else if (action == "regenerate") {
    r = co_await key_regenerate(c);
  } else if (action == "list") {
    r = co_await key_list(c);
  } else if (action == "block" || action == "unblock") {
    const bool block = action == "block";
    r = co_await key_block(c, block);
  }
  co_return r;
}

}  // namespace tollgate::admin
