#include "db/queries.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <tuple>
#include "tollgate/api/json_read.hpp"

namespace tollgate::db::queries {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kRecordColumns = "id, data, spend, budget_reset_at, created_at, updated_at";

// Per entity, in Entity's order: its name (entity_name()), its table, and the statement that
// removes the rows that belong to one of its rows and go with it.
struct EntityInfo {
  const char* name;
  const char* table;
  const char* dependents_sql;
};
constexpr EntityInfo kEntities[] = {
    {"key", "tollgate_keys", "DELETE FROM tollgate_key_model_spend WHERE key_id = $1"},
    {"team", "tollgate_teams", "DELETE FROM tollgate_team_members WHERE team_id = $1"},
    {"user", "tollgate_users", "DELETE FROM tollgate_team_members WHERE user_id = $1"},
    {"organization", "tollgate_organizations", nullptr},
    {"end_user", "tollgate_end_users", nullptr},
    {"budget", "tollgate_budgets", nullptr},
};

static_assert(std::size(kEntities) == static_cast<std::size_t>(Entity::kBudget) + 1);

const EntityInfo& info(Entity e) { return kEntities[static_cast<std::size_t>(e)]; }

std::string table(Entity e) { return info(e).table; }

std::string select_records(Entity e) { return "SELECT " + std::string(kRecordColumns) + " FROM " + table(e); }

Value owner(const Json& data, const char* field) {
  const auto it = data.find(field);  // end() for a non-object
  if (it != data.end() && it->is_string()) return it->get<std::string>();
  return std::monostate{};
}

std::string dump(const Json& data) {
  // Invalid UTF-8 in a string would make dump() throw: replace it instead.
  return data.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Record> to_record(Session& s, const std::vector<Value>& row) {
  Record r;
  r.id = as_text(row[0]);
  r.data = api::read_json_lenient(as_text(row[1]));
  if (r.data.is_discarded()) {
    s.set_last_error("stored data of row " + r.id + " is not valid JSON");
    return make_error_code(Errc::kDbError);
  }
  r.spend = as_double(row[2]);
  r.budget_reset_at_ms = as_int(row[3]);
  r.created_at_ms = as_int(row[4]);
  r.updated_at_ms = as_int(row[5]);
  return r;
}

Result<std::vector<Record>> to_records(Session& s, const Result<Rows>& rows) {
  if (!rows) return rows.error();
  std::vector<Record> out;
  out.reserve(rows->rows.size());
  for (const auto& row : rows->rows) {
    Result<Record> r = to_record(s, row);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::vector<Membership>> to_memberships(const Result<Rows>& rows) {
  if (!rows) return rows.error();
  std::vector<Membership> out;
  out.reserve(rows->rows.size());
  for (const auto& row : rows->rows) out.push_back({as_text(row[0]), as_text(row[1]), as_text(row[2])});
  return out;
}

Result<bool> changed_any(const Result<Rows>& rows) {
  if (!rows) return failure<bool>(rows.error());
  return rows->affected > 0;
}

Result<Rows> add_entity_spend(Session& tx, Entity entity, const std::string& id, std::int64_t window_ms,
                              double amount) {
  // Spend for the row's window is added. Spend for a later window means the row's window has
  // ended and the reset sweep has not run yet: the row moves to that window, starting from this
  // amount. Spend for an earlier window (written late, after a reset) is dropped.
  const std::vector<Value> params{amount, id, window_ms};
  return tx.query("UPDATE " + table(entity) +
                      " SET spend = CASE WHEN budget_reset_at = $3 THEN spend + $1 ELSE $1 END, budget_reset_at = $3"
                      " WHERE id = $2 AND (budget_reset_at = $3 OR (budget_reset_at > 0 AND budget_reset_at < $3))",
                  params);
}

Result<Rows> add_model_spend(Session& tx, const std::string& key_id, const std::string& model, std::int64_t window_ms,
                             double amount) {
  const std::vector<Value> params{key_id, model, window_ms, amount};
  return tx.query(
      "INSERT INTO tollgate_key_model_spend (key_id, model, window_ms, spend) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (key_id, model, window_ms) DO UPDATE SET spend = tollgate_key_model_spend.spend + excluded.spend",
      params);
}

std::int64_t clamp_to_int64(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

Result<std::optional<Record>> get(Session& s, Entity entity, const std::string& id) {
  const std::vector<Value> params{id};
  const Result<Rows> rows = s.query(select_records(entity) + " WHERE id = $1", params);
  if (!rows) return rows.error();
  if (rows->rows.empty()) return std::optional<Record>();
  Result<Record> r = to_record(s, rows->rows.front());
  if (!r) return r.error();
  return std::optional<Record>(std::move(*r));
}

namespace {

Result<std::optional<KeyBundle>> read_key_bundle(Session& s, const std::string& key_id) {
  auto string_field = [](const Record& r, const char* name) -> std::optional<std::string> {
    const auto it = r.data.find(name);
    if (it == r.data.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
    return it->get<std::string>();
  };
  Result<std::optional<Record>> key = get(s, Entity::kKey, key_id);
  if (!key) return key.error();
  if (!*key) return std::optional<KeyBundle>();
  KeyBundle b;
  b.key = std::move(**key);
  std::optional<std::string> org_id = string_field(b.key, "organization_id");
  const std::optional<std::string> team_id = string_field(b.key, "team_id");
  const std::optional<std::string> user_id = string_field(b.key, "user_id");
  if (team_id) {
    Result<std::optional<Record>> team = get(s, Entity::kTeam, *team_id);
    if (!team) return team.error();
    b.team = std::move(*team);
    if (b.team && !org_id) org_id = string_field(*b.team, "organization_id");
  }
  if (user_id) {
    Result<std::optional<Record>> user = get(s, Entity::kUser, *user_id);
    if (!user) return user.error();
    b.user = std::move(*user);
  }
  if (team_id && user_id) {
    const std::vector<Value> params{*team_id, *user_id};
    const Result<Rows> role = s.query("SELECT role FROM tollgate_team_members WHERE team_id = $1 AND user_id = $2", params);
    if (!role) return role.error();
    if (!role->rows.empty()) b.team_role = as_text(role->rows.front()[0]);
  }
  if (org_id) {
    Result<std::optional<Record>> org = get(s, Entity::kOrganization, *org_id);
    if (!org) return org.error();
    b.organization = std::move(*org);
  }
  Result<std::vector<std::pair<std::string, double>>> spend = model_spend(s, key_id, b.key.budget_reset_at_ms);
  if (!spend) return spend.error();
  b.model_spend = std::move(*spend);
  return std::optional<KeyBundle>(std::move(b));
}

}  // namespace

Result<std::optional<KeyBundle>> key_bundle(Session& s, const std::string& key_id) {
  // One transaction: the key and the rows it names are read as one consistent picture.
  return in_transaction(s, [&](Session& tx) { return read_key_bundle(tx, key_id); });
}

Result<Record> insert(Session& s, Entity entity, Record record) {
  const std::int64_t now = unix_ms_now();
  if (record.created_at_ms == 0) record.created_at_ms = now;
  record.updated_at_ms = now;
  const std::vector<Value> params{record.id,
                                  owner(record.data, "user_id"),
                                  owner(record.data, "team_id"),
                                  owner(record.data, "organization_id"),
                                  dump(record.data),
                                  record.spend,
                                  record.budget_reset_at_ms,
                                  record.created_at_ms,
                                  record.updated_at_ms};
  const Result<Rows> rows = s.query("INSERT INTO " + table(entity) +
                                        " (id, user_id, team_id, organization_id, data, spend, budget_reset_at, "
                                        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                    params);
  if (!rows) return rows.error();
  return record;
}

Result<bool> update(Session& s, Entity entity, const Record& record, bool set_spend) {
  std::vector<Value> params{record.id,
                            owner(record.data, "user_id"),
                            owner(record.data, "team_id"),
                            owner(record.data, "organization_id"),
                            dump(record.data),
                            record.budget_reset_at_ms,
                            unix_ms_now()};
  std::string sql = "UPDATE " + table(entity) +
                    " SET user_id = $2, team_id = $3, organization_id = $4, data = $5, budget_reset_at = $6, "
                    "updated_at = $7";
  // Only parameters the statement uses: PostgreSQL cannot type an unused one.
  if (set_spend) {
    sql += ", spend = $8";
    params.emplace_back(record.spend);
  }
  sql += " WHERE id = $1";
  return changed_any(s.query(sql, params));
}

Result<bool> remove(Session& s, Entity entity, const std::string& id) {
  return in_transaction(s, [&](Session& tx) -> Result<bool> {
    const std::vector<Value> params{id};
    const Result<bool> removed = changed_any(tx.query("DELETE FROM " + table(entity) + " WHERE id = $1", params));
    if (!removed) return removed;
    if (const char* dependents = info(entity).dependents_sql) {
      if (const Result<Rows> r = tx.query(dependents, params); !r) return failure<bool>(r.error());
    }
    return removed;
  });
}

Result<std::vector<Record>> list(Session& s, Entity entity, const ListFilter& filter) {
  std::vector<Value> params;
  std::string where;
  const auto add = [&](const std::optional<std::string>& value, const char* column) {
    if (!value) return;
    params.emplace_back(*value);
    where += (where.empty() ? " WHERE " : " AND ") + std::string(column) + " = $" + std::to_string(params.size());
  };
  add(filter.user_id, "user_id");
  add(filter.team_id, "team_id");
  add(filter.organization_id, "organization_id");
  params.emplace_back(clamp_to_int64(filter.limit));
  params.emplace_back(clamp_to_int64(filter.offset));
  const std::string sql = select_records(entity) + where + " ORDER BY created_at, id LIMIT $" +
                          std::to_string(params.size() - 1) + " OFFSET $" + std::to_string(params.size());
  return to_records(s, s.query(sql, params));
}

Result<void> put_member(Session& s, const Membership& m) {
  const std::vector<Value> params{m.team_id, m.user_id, m.role};
  const Result<Rows> r = s.query(
      "INSERT INTO tollgate_team_members (team_id, user_id, role) VALUES ($1, $2, $3) "
      "ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
      params);
  if (!r) return r.error();
  return {};
}

Result<bool> remove_member(Session& s, const std::string& team_id, const std::string& user_id) {
  const std::vector<Value> params{team_id, user_id};
  return changed_any(s.query("DELETE FROM tollgate_team_members WHERE team_id = $1 AND user_id = $2", params));
}

Result<std::vector<Membership>> members_of_team(Session& s, const std::string& team_id) {
  const std::vector<Value> params{team_id};
  return to_memberships(
      s.query("SELECT team_id, user_id, role FROM tollgate_team_members WHERE team_id = $1 ORDER BY user_id", params));
}

Result<std::vector<Membership>> teams_of_user(Session& s, const std::string& user_id) {
  const std::vector<Value> params{user_id};
  return to_memberships(
      s.query("SELECT team_id, user_id, role FROM tollgate_team_members WHERE user_id = $1 ORDER BY team_id", params));
}

Result<void> check_spend(Session& s, const std::vector<SpendDelta>& deltas) {
  for (const SpendDelta& d : deltas) {
    if (!std::isfinite(d.amount) || (!d.model.empty() && d.entity != Entity::kKey)) {
      s.set_last_error("spend delta for " + d.id + ": amount not finite, or a model on a non-key entity");
      return make_error_code(Errc::kInvalidRequest);
    }
  }
  return {};
}

Result<void> apply_spend(Session& tx, const std::vector<SpendDelta>& deltas) {
  // Summed per row first: one statement per entity (or key and model) whatever the number of
  // requests. The map's order is also the order rows are locked in, the same in every replica,
  // so two concurrent batches cannot deadlock.
  std::map<std::tuple<Entity, std::string, std::int64_t, std::string>, double> totals;
  for (const SpendDelta& d : deltas) totals[{d.entity, d.id, d.window_ms, d.model}] += d.amount;
  for (const auto& [target, amount] : totals) {
    if (amount == 0) continue;
    const auto& [entity, id, window_ms, model] = target;
    const Result<Rows> r = model.empty() ? add_entity_spend(tx, entity, id, window_ms, amount)
                                         : add_model_spend(tx, id, model, window_ms, amount);
    if (!r) return r.error();
  }
  return {};
}

Result<void> add_spend(Session& s, const std::vector<SpendDelta>& deltas) {
  if (Result<void> valid = check_spend(s, deltas); !valid) return valid;
  if (std::all_of(deltas.begin(), deltas.end(), [](const SpendDelta& d) { return d.amount == 0; })) return {};
  return in_transaction(s, [&](Session& tx) { return apply_spend(tx, deltas); });
}

Result<std::vector<std::pair<std::string, double>>> model_spend(Session& s, const std::string& key_id,
                                                                std::int64_t window_ms) {
  const std::vector<Value> params{key_id, window_ms};
  const Result<Rows> rows = s.query(
      "SELECT model, spend FROM tollgate_key_model_spend WHERE key_id = $1 AND window_ms = $2 ORDER BY model", params);
  if (!rows) return rows.error();
  std::vector<std::pair<std::string, double>> out;
  out.reserve(rows->rows.size());
  for (const auto& row : rows->rows) out.emplace_back(as_text(row[0]), as_double(row[1]));
  return out;
}

Result<std::vector<Record>> due_for_reset(Session& s, Entity entity, std::int64_t now_ms) {
  const std::vector<Value> params{now_ms};
  return to_records(s, s.query(select_records(entity) +
                                   " WHERE budget_reset_at > 0 AND budget_reset_at <= $1 ORDER BY budget_reset_at, id",
                               params));
}

Result<bool> reset_budget(Session& s, Entity entity, const std::string& id, std::int64_t expected_ms,
                          std::int64_t next_ms) {
  const std::vector<Value> params{id, expected_ms, next_ms, unix_ms_now()};
  return changed_any(s.query("UPDATE " + table(entity) +
                                 " SET spend = 0, budget_reset_at = $3, updated_at = $4 "
                                 "WHERE id = $1 AND budget_reset_at = $2",
                             params));
}

Result<void> ping(Session& s) {
  const Result<Rows> r = s.query("SELECT 1", {});
  if (!r) return r.error();
  return {};
}

}  // namespace tollgate::db::queries

namespace tollgate::db {

const char* entity_name(Entity e) { return queries::info(e).name; }

}  // namespace tollgate::db
