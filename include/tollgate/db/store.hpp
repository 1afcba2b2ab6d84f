#pragma once
// The control plane's durable state — keys, teams, team memberships, users, organizations, end
// users (customers) and budgets — behind one interface with two implementations: SQLite (the
// embedded default, WAL, a file created and migrated on first start) and PostgreSQL (libpq, a
// connection pool, migrations applied on start under an advisory lock so replicas may start
// together). Both pass the same test suite (tests/integration/store_test.cpp).
//
// Records are kept as a JSON object of their LiteLLM fields (`data`) beside the columns that
// queries need: the id, the owner ids (indexed), spend and the budget window. The admin API owns
// the meaning of the fields; the store only persists them.
//
// Asynchrony: every call runs on the store's own threads (blocking SQLite/libpq calls never run on
// an io thread) and completes on the awaiting coroutine's executor.
// Errors: kDbUnavailable when the database cannot be reached (the store reconnects by itself on a
// later call), kDbConflict when an insert hits an existing id, kDbError for anything else.
// Thread safety: all methods may be called from any thread concurrently.
#include <chrono>
#include <cstdint>
#include <climits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "tollgate/auth/key_store.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/core/errc.hpp"
#include "tollgate/spend/spend_store.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::db {

namespace asio = boost::asio;

// The rows and events this store keeps are declared by the modules that read them: auth (entities,
// their records, a key's bundle) and spend (spend events and their entity deltas).
using auth::Entity;
using auth::KeyBundle;
using auth::Record;
using spend::SpendDelta;
using spend::SpendEvent;

/// list() filters; unset fields do not filter. Owner ids are read from data's user_id, team_id,
/// organization_id (indexed columns).
struct ListFilter {
  std::optional<std::string> user_id;
  std::optional<std::string> team_id;
  std::optional<std::string> organization_id;
  std::size_t limit = 100;
  std::size_t offset = 0;
};

/// spend_logs() filters; unset fields do not filter. Newest first.
struct SpendLogFilter {
  std::optional<std::string> api_key;     // key hash
  std::optional<std::string> user;
  std::optional<std::string> team_id;
  std::optional<std::string> request_id;
  std::optional<std::int64_t> start_ms;   // startTime >= start_ms
  std::optional<std::int64_t> end_ms;     // startTime < end_ms
  std::size_t limit = 100;
  std::size_t offset = 0;
};

/// What spend_summary() groups by (any combination; none = one row for everything).
enum class SpendColumn { kDay, kApiKey, kUser, kTeam, kOrganization, kEndUser, kModelGroup, kModel, kProvider };

struct SpendSummaryQuery {
  std::vector<SpendColumn> group_by;
  std::int64_t start_ms = 0;                        // startTime >= start_ms
  std::int64_t end_ms = INT64_MAX;                  // startTime < end_ms
  std::optional<std::string> user;                  // only this user's rows
  std::optional<std::string> team_id;               // only this team's rows
};

/// One group of spend_summary(): `keys` in group_by's order (a day as "YYYY-MM-DD" UTC).
struct SpendSummaryRow {
  std::vector<std::string> keys;
  double spend = 0;
  double counterfactual_spend = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cache_read_input_tokens = 0;
  std::int64_t cache_creation_input_tokens = 0;
  std::int64_t requests = 0;
  std::int64_t successful_requests = 0;
};

struct Membership {
  std::string team_id;
  std::string user_id;
  std::string role;  // "admin" | "user"
};

/// get() and key_bundle(): auth::KeyStore; write_spend(): spend::SpendStore.
class Store : public auth::KeyStore, public spend::SpendStore {
 public:
  virtual ~Store() = default;
  virtual bool postgres() const = 0;
  /// Waits, at most `timeout`, until no call is queued or running. Before the io_contexts that
  /// await calls go away (App's destructor), so that no call completes onto a destroyed one.
  virtual bool wait_idle(std::chrono::milliseconds timeout) = 0;

  /// kDbConflict when the id exists.
  virtual asio::awaitable<Result<Record>> insert(Entity entity, Record record) = 0;
  /// Replaces data and budget_reset_at_ms (and spend when `set_spend`). Returns false when missing.
  virtual asio::awaitable<Result<bool>> update(Entity entity, Record record, bool set_spend) = 0;
  /// Also removes what belongs to the row: a team's or user's memberships, a key's model spend.
  virtual asio::awaitable<Result<bool>> remove(Entity entity, std::string id) = 0;
  /// Ordered by created_at, then id.
  virtual asio::awaitable<Result<std::vector<Record>>> list(Entity entity, ListFilter filter) = 0;

  /// Insert or change a member's role.
  virtual asio::awaitable<Result<void>> put_member(Membership m) = 0;
  virtual asio::awaitable<Result<bool>> remove_member(std::string team_id, std::string user_id) = 0;
  virtual asio::awaitable<Result<std::vector<Membership>>> members_of_team(std::string team_id) = 0;
  virtual asio::awaitable<Result<std::vector<Membership>>> teams_of_user(std::string user_id) = 0;

  /// Adds every delta in one transaction (one UPDATE per entity, never per request).
  /// kInvalidRequest, with nothing written, when a delta's amount is not finite or a non-key
  /// delta names a model.
  virtual asio::awaitable<Result<void>> add_spend(std::vector<SpendDelta> deltas) = 0;
  /// A key's per-model spend in the window `window_ms`: model → spend.
  virtual asio::awaitable<Result<std::vector<std::pair<std::string, double>>>> model_spend(std::string key_id,
                                                                                        std::int64_t window_ms) = 0;
  /// Rows whose budget window ended at or before `now_ms` (budget_reset_at_ms > 0).
  virtual asio::awaitable<Result<std::vector<Record>>> due_for_reset(Entity entity, std::int64_t now_ms) = 0;
  /// Starts the next window (spend 0, budget_reset_at_ms = next_ms) if the row is still in the
  /// window `expected_ms`; false when another replica did it first.
  virtual asio::awaitable<Result<bool>> reset_budget(Entity entity, std::string id, std::int64_t expected_ms,
                                                     std::int64_t next_ms) = 0;

  /// Spend-log rows (deltas empty), newest first.
  virtual asio::awaitable<Result<std::vector<SpendEvent>>> spend_logs(SpendLogFilter filter) = 0;
  /// Sums over spend logs, grouped; ordered by the group keys.
  virtual asio::awaitable<Result<std::vector<SpendSummaryRow>>> spend_summary(SpendSummaryQuery query) = 0;
  /// Deletes up to `limit` rows that started before `before_ms` (retention); returns how many.
  virtual asio::awaitable<Result<std::size_t>> purge_spend_logs(std::int64_t before_ms, std::size_t limit) = 0;

  /// A cheap round trip (SELECT 1), for readiness and for noticing recovery.
  virtual asio::awaitable<Result<void>> ping() = 0;

  /// True once the database has been reached and its schema is current: migrated by this process,
  /// or (migrations skipped) found migrated by another. Until then every call fails with
  /// kDbUnavailable and readiness says not ready.
  virtual bool schema_ready() const = 0;
  /// Migrations skipped and the database reached, but its schema is not current yet.
  virtual bool schema_pending() const = 0;
};

/// Opens SQLite (settings.url empty) or PostgreSQL and applies migrations (blocking; called at
/// start-up, before the io threads). On PostgreSQL an unreachable server is not fatal: the store is
/// returned and migrations run on the first successful connection. Throws std::runtime_error on
/// a SQLite file that cannot be opened or a migration that fails.
std::unique_ptr<Store> open_store(const config::DatabaseSettings& settings, std::shared_ptr<spdlog::logger> log);

/// `tollgate --migrate-only`: connects once and applies the pending migrations. Returns "" on
/// success, else what went wrong (an unreachable server is an error here, not a warning).
std::string apply_migrations(const config::DatabaseSettings& settings, spdlog::logger& log);

const char* entity_name(Entity e);  // "key", "team", "user", "organization", "end_user", "budget"

}  // namespace tollgate::db
