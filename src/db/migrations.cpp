#include "db/migrations.hpp"

#include <initializer_list>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

namespace tollgate::db {
namespace {

// "tollgate" in ASCII: the key of the advisory lock that serialises migrations across replicas.
constexpr std::string_view kAdvisoryLock = "SELECT pg_advisory_xact_lock(8390045734540370021)";

constexpr std::string_view kCreateMigrationTable =
    "CREATE TABLE IF NOT EXISTS tollgate_schema_migrations (\n"
    "  version BIGINT NOT NULL PRIMARY KEY,\n"
    "  description TEXT NOT NULL,\n"
    "  applied_at_ms BIGINT NOT NULL\n"
    ")";

// One table per entity, all of the same shape (tollgate/db/store.hpp, Record). The owner ids are
// copies of data's fields, kept as columns for indexed list() filters. Part of migration 1:
// frozen once released.
std::string entity_table(const std::string& table, std::initializer_list<std::string_view> owner_indexes) {
  std::string sql = "CREATE TABLE " + table +
                    " (\n"
                    "  id TEXT NOT NULL PRIMARY KEY,\n"
                    "  user_id TEXT,\n"
                    "  team_id TEXT,\n"
                    "  organization_id TEXT,\n"
                    "  data TEXT NOT NULL,\n"
                    "  spend DOUBLE PRECISION NOT NULL DEFAULT 0,\n"
                    "  budget_reset_at BIGINT NOT NULL DEFAULT 0,\n"
                    "  created_at BIGINT NOT NULL,\n"
                    "  updated_at BIGINT NOT NULL\n"
                    ");\n";
  for (std::string_view column : owner_indexes) {
    const std::string c(column);
    sql += "CREATE INDEX " + table + "_" + c + "_idx ON " + table + " (" + c + ");\n";
  }
  sql += "CREATE INDEX " + table + "_created_at_idx ON " + table + " (created_at, id);\n";
  // Partial: only rows with a budget window are ever due for a reset.
  sql +=
      "CREATE INDEX " + table + "_budget_reset_at_idx ON " + table + " (budget_reset_at) WHERE budget_reset_at > 0;\n";
  return sql;
}

std::string initial_schema() {
  return entity_table("tollgate_keys", {"user_id", "team_id", "organization_id"}) +
         entity_table("tollgate_teams", {"organization_id"}) + entity_table("tollgate_users", {"organization_id"}) +
         entity_table("tollgate_organizations", {}) + entity_table("tollgate_end_users", {}) +
         entity_table("tollgate_budgets", {}) +
         "CREATE TABLE tollgate_team_members (\n"
         "  team_id TEXT NOT NULL,\n"
         "  user_id TEXT NOT NULL,\n"
         "  role TEXT NOT NULL,\n"
         "  PRIMARY KEY (team_id, user_id)\n"
         ");\n"
         "CREATE INDEX tollgate_team_members_user_id_idx ON tollgate_team_members (user_id);\n"
         "CREATE TABLE tollgate_key_model_spend (\n"
         "  key_id TEXT NOT NULL,\n"
         "  model TEXT NOT NULL,\n"
         "  window_ms BIGINT NOT NULL,\n"
         "  spend DOUBLE PRECISION NOT NULL DEFAULT 0,\n"
         "  PRIMARY KEY (key_id, model, window_ms)\n"
         ");\n";
}

// Spend logs: one row per LLM request, LiteLLM_SpendLogs' column names (quoted where they are
// camelCase or reserved), times as unix ms. request_id is the key that makes writes idempotent.
// Two secondary indexes only (time; key and time): every row is written once per request, and
// reports by user or team scan a time range.
// Part of migration 2: frozen once released.
constexpr std::string_view kSpendLogs =
    "CREATE TABLE tollgate_spend_logs (\n"
    "  request_id TEXT NOT NULL PRIMARY KEY,\n"
    "  call_type TEXT NOT NULL,\n"
    "  api_key TEXT NOT NULL,\n"
    "  spend DOUBLE PRECISION NOT NULL,\n"
    "  counterfactual_spend DOUBLE PRECISION NOT NULL,\n"
    "  total_tokens BIGINT NOT NULL,\n"
    "  prompt_tokens BIGINT NOT NULL,\n"
    "  completion_tokens BIGINT NOT NULL,\n"
    "  cache_read_input_tokens BIGINT NOT NULL,\n"
    "  cache_creation_input_tokens BIGINT NOT NULL,\n"
    "  \"startTime\" BIGINT NOT NULL,\n"
    "  \"endTime\" BIGINT NOT NULL,\n"
    "  \"completionStartTime\" BIGINT NOT NULL,\n"
    "  model TEXT NOT NULL,\n"
    "  model_id TEXT NOT NULL,\n"
    "  model_group TEXT NOT NULL,\n"
    "  custom_llm_provider TEXT NOT NULL,\n"
    "  api_base TEXT NOT NULL,\n"
    "  \"user\" TEXT NOT NULL,\n"
    "  team_id TEXT NOT NULL,\n"
    "  organization_id TEXT NOT NULL,\n"
    "  end_user TEXT NOT NULL,\n"
    "  metadata TEXT NOT NULL,\n"
    "  cache_hit BIGINT NOT NULL,\n"
    "  request_tags TEXT NOT NULL,\n"
    "  status TEXT NOT NULL,\n"
    "  messages TEXT NOT NULL,\n"
    "  response TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX tollgate_spend_logs_start_idx ON tollgate_spend_logs (\"startTime\");\n"
    "CREATE INDEX tollgate_spend_logs_api_key_idx ON tollgate_spend_logs (api_key, \"startTime\");\n";

// Runs in the migration's transaction. Sets `applied` when this call applied it.
Result<void> apply_once(Session& s, const Migration& m, bool& applied) {
  if (s.postgres()) {
    if (Result<void> locked = s.script(kAdvisoryLock); !locked) return locked;
  }
  if (Result<void> table = s.script(kCreateMigrationTable); !table) return table;
  const std::vector<Value> version{std::int64_t{m.version}};
  const Result<Rows> seen = s.query("SELECT 1 FROM tollgate_schema_migrations WHERE version = $1", version);
  if (!seen) return seen.error();
  if (!seen->rows.empty()) return {};
  const std::string& sql = s.postgres() && !m.postgres_sql.empty() ? m.postgres_sql : m.sql;
  if (Result<void> done = s.script(sql); !done) return done;
  const std::vector<Value> row{std::int64_t{m.version}, m.description, unix_ms_now()};
  const Result<Rows> recorded =
      s.query("INSERT INTO tollgate_schema_migrations (version, description, applied_at_ms) VALUES ($1, $2, $3)", row);
  if (!recorded) return recorded.error();
  applied = true;
  return {};
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1,
       "keys, teams, users, organizations, end users, budgets; team members; per-model key spend",
       initial_schema(),
       {}},
      {2, "spend logs", std::string(kSpendLogs), {}},
  };
  return list;
}

Result<void> migrate(Session& session, const std::vector<Migration>& list, spdlog::logger& log) {
  for (const Migration& m : list) {
    bool applied = false;
    const Result<void> r = in_transaction(session, [&](Session& s) { return apply_once(s, m, applied); });
    if (!r) {
      // Unavailability is the caller's to report (once per outage), not a migration failure.
      if (r.error() != make_error_code(Errc::kDbUnavailable)) {
        log.error("db migration failed version={} error=\"{}\"", m.version, session.last_error());
      }
      return r;
    }
    if (applied) log.info("db migration applied version={} description=\"{}\"", m.version, m.description);
  }
  return {};
}

Result<bool> migrated(Session& session, const std::vector<Migration>& list) {
  const Result<Rows> seen = session.query("SELECT version FROM tollgate_schema_migrations", {});
  if (!seen) {
    if (seen.error() == make_error_code(Errc::kDbUnavailable)) return Result<bool>(boost::system::in_place_error, seen.error());
    return false;  // no bookkeeping table: nothing migrated yet
  }
  std::set<std::int64_t> versions;
  for (const auto& row : seen->rows) versions.insert(as_int(row.at(0)));
  for (const Migration& m : list) {
    if (!versions.contains(m.version)) return false;
  }
  return true;
}

}  // namespace tollgate::db
