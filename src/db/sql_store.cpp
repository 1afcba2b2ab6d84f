// db::Store over SQL sessions (SQLite or PostgreSQL): every call is a job on a WorkerPool whose
// thread `i` owns session `i`. See tollgate/db/store.hpp for the contract, docs/storage.md for
// the design.
//
// Readiness, before each job: the worker's session is opened (reconnecting when needed), and the
// first session to get a connection applies the migrations, under a mutex, before any other
// statement runs anywhere. A PostgreSQL server that is down at start-up therefore only delays
// migrations to the first call that reaches it. With migrations skipped (`--skip-migrations`, a
// replica started after a migration job), that first session checks instead that every migration
// is recorded, and every call fails with kDbUnavailable until one finds it so.
#include <atomic>
#include <mutex>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "db/await_job.hpp"
#include "db/migrations.hpp"
#include "db/pg_session.hpp"
#include "db/queries.hpp"
#include "db/sqlite_session.hpp"
#include "db/worker_pool.hpp"
#include "tollgate/db/store.hpp"

namespace tollgate::db {
namespace {

using boost::system::error_code;
using RecordList = std::vector<Record>;
using Memberships = std::vector<Membership>;
using ModelSpend = std::vector<std::pair<std::string, double>>;

bool is(const error_code& ec, Errc e) { return ec == make_error_code(e); }

class SqlStore final : public Store {
 public:
  SqlStore(std::vector<std::unique_ptr<Session>> sessions, std::shared_ptr<spdlog::logger> log, bool apply_migrations)
      : sessions_(std::move(sessions)),
        log_(std::move(log)),
        apply_migrations_(apply_migrations),
        postgres_(sessions_.front()->postgres()),
        pool_(std::make_unique<WorkerPool>(sessions_.size())) {}

  ~SqlStore() override { pool_.reset(); }  // explicit: no job may outlive the sessions
  bool wait_idle(std::chrono::milliseconds timeout) override { return pool_->wait_idle(timeout); }

  /// open_store's step, on the calling thread before any job: connect and migrate. Throws when
  /// SQLite fails or a migration fails; a PostgreSQL server that cannot be reached is a warning.
  void start() {
    Session& first = *sessions_.front();
    const Result<void> r = ready(first);
    if (r) {
      log_->info("db ready backend={}", backend());
      return;
    }
    if (!apply_migrations_ && is(r.error(), Errc::kDbUnavailable)) {
      down_ = true;
      log_->warn("db schema not ready at start-up backend={}; waiting for the migrations (tollgate --migrate-only)",
                 backend());
      return;
    }
    if (postgres_ && is(r.error(), Errc::kDbUnavailable)) {
      down_ = true;
      log_->warn("db unavailable at start-up backend=postgresql error=\"{}\"; migrations run on the first connection",
                 first.last_error());
      return;
    }
    throw std::runtime_error(std::string("database ") + backend() + " could not be prepared: " + first.last_error());
  }

  bool postgres() const override { return postgres_; }
  bool schema_ready() const override { return migrated_.load(std::memory_order_acquire); }
  bool schema_pending() const override { return pending_.load(std::memory_order_relaxed); }

  asio::awaitable<Result<std::optional<Record>>> get(Entity entity, std::string id) override {
    auto job = [entity, id = std::move(id)](Session& s) { return queries::get(s, entity, id); };
    Result<std::optional<Record>> r = co_await run<std::optional<Record>>(job);
    co_return r;
  }

  asio::awaitable<Result<Record>> insert(Entity entity, Record record) override {
    auto job = [entity, record = std::move(record)](Session& s) { return queries::insert(s, entity, record); };
    Result<Record> r = co_await run<Record>(job);
    co_return r;
  }

  asio::awaitable<Result<bool>> update(Entity entity, Record record, bool set_spend) override {
    auto job = [entity, record = std::move(record), set_spend](Session& s) {
      return queries::update(s, entity, record, set_spend);
    };
    Result<bool> r = co_await run<bool>(job);
    co_return r;
  }

  asio::awaitable<Result<bool>> remove(Entity entity, std::string id) override {
    auto job = [entity, id = std::move(id)](Session& s) { return queries::remove(s, entity, id); };
    Result<bool> r = co_await run<bool>(job);
    co_return r;
  }

  asio::awaitable<Result<RecordList>> list(Entity entity, ListFilter filter) override {
    auto job = [entity, filter = std::move(filter)](Session& s) { return queries::list(s, entity, filter); };
    Result<RecordList> r = co_await run<RecordList>(job);
    co_return r;
  }

  asio::awaitable<Result<void>> put_member(Membership m) override {
    auto job = [m = std::move(m)](Session& s) { return queries::put_member(s, m); };
    Result<void> r = co_await run<void>(job);
    co_return r;
  }

  asio::awaitable<Result<bool>> remove_member(std::string team_id, std::string user_id) override {
    auto job = [team_id = std::move(team_id), user_id = std::move(user_id)](Session& s) {
      return queries::remove_member(s, team_id, user_id);
    };
    Result<bool> r = co_await run<bool>(job);
    co_return r;
  }

  asio::awaitable<Result<Memberships>> members_of_team(std::string team_id) override {
    auto job = [team_id = std::move(team_id)](Session& s) { return queries::members_of_team(s, team_id); };
    Result<Memberships> r = co_await run<Memberships>(job);
    co_return r;
  }

  asio::awaitable<Result<std::optional<KeyBundle>>> key_bundle(std::string key_id) override {
    auto job = [key_id = std::move(key_id)](Session& s) { return queries::key_bundle(s, key_id); };
    Result<std::optional<KeyBundle>> r = co_await run<std::optional<KeyBundle>>(job);
    co_return r;
  }

  asio::awaitable<Result<Memberships>> teams_of_user(std::string user_id) override {
    auto job = [user_id = std::move(user_id)](Session& s) { return queries::teams_of_user(s, user_id); };
    Result<Memberships> r = co_await run<Memberships>(job);
    co_return r;
  }

  asio::awaitable<Result<void>> add_spend(std::vector<SpendDelta> deltas) override {
    auto job = [deltas = std::move(deltas)](Session& s) { return queries::add_spend(s, deltas); };
    Result<void> r = co_await run<void>(job);
    co_return r;
  }

  asio::awaitable<Result<ModelSpend>> model_spend(std::string key_id, std::int64_t window_ms) override {
    auto job = [key_id = std::move(key_id), window_ms](Session& s) {
      return queries::model_spend(s, key_id, window_ms);
    };
    Result<ModelSpend> r = co_await run<ModelSpend>(job);
    co_return r;
  }

  asio::awaitable<Result<RecordList>> due_for_reset(Entity entity, std::int64_t now_ms) override {
    auto job = [entity, now_ms](Session& s) { return queries::due_for_reset(s, entity, now_ms); };
    Result<RecordList> r = co_await run<RecordList>(job);
    co_return r;
  }

  asio::awaitable<Result<bool>> reset_budget(Entity entity, std::string id, std::int64_t expected_ms,
                                             std::int64_t next_ms) override {
    auto job = [entity, id = std::move(id), expected_ms, next_ms](Session& s) {
      return queries::reset_budget(s, entity, id, expected_ms, next_ms);
    };
    Result<bool> r = co_await run<bool>(job);
    co_return r;
  }

  asio::awaitable<Result<std::size_t>> write_spend(std::span<const SpendEvent> events) override {
    auto job = [events](Session& s) { return queries::write_spend(s, events); };
    Result<std::size_t> r = co_await run<std::size_t>(job);
    co_return r;
  }

  asio::awaitable<Result<std::vector<SpendEvent>>> spend_logs(SpendLogFilter filter) override {
    auto job = [filter = std::move(filter)](Session& s) { return queries::spend_logs(s, filter); };
    Result<std::vector<SpendEvent>> r = co_await run<std::vector<SpendEvent>>(job);
    co_return r;
  }

  asio::awaitable<Result<std::vector<SpendSummaryRow>>> spend_summary(SpendSummaryQuery query) override {
    auto job = [query = std::move(query)](Session& s) { return queries::spend_summary(s, query); };
    Result<std::vector<SpendSummaryRow>> r = co_await run<std::vector<SpendSummaryRow>>(job);
    co_return r;
  }

  asio::awaitable<Result<std::size_t>> purge_spend_logs(std::int64_t before_ms, std::size_t limit) override {
    auto job = [before_ms, limit](Session& s) { return queries::purge_spend_logs(s, before_ms, limit); };
    Result<std::size_t> r = co_await run<std::size_t>(job);
    co_return r;
  }

  asio::awaitable<Result<void>> ping() override {
    auto job = [](Session& s) { return queries::ping(s); };
    Result<void> r = co_await run<void>(job);
    co_return r;
  }

 private:
  const char* backend() const { return postgres_ ? "postgresql" : "sqlite"; }

  // Runs `query(session)` on a pool thread once its session is ready; `query` is moved from (a
  // reference, not a by-value parameter: see docs/request-lifecycle.md on GCC 12). The job holds
  // `this`: the destructor stops the pool (abandoning queued jobs, finishing running ones) first.
  template <class T, class Query>
  asio::awaitable<Result<T>> run(Query& query) {
    auto job = [this, query = std::move(query)](std::size_t worker) -> Result<T> {
      Session& s = *sessions_[worker];
      Result<T> result = failure<T>(make_error_code(Errc::kInternal));
      try {
        Result<void> readied = ready(s);
        result = readied ? query(s) : failure<T>(readied.error());
      } catch (const std::exception& e) {
        // Queries report failures as values; a throw (allocation, a bug) is answered kInternal.
        log_->error("db call threw backend={} error=\"{}\"", backend(), e.what());
      }
      observe(result ? error_code() : result.error(), s);
      return result;
    };
    Result<T> result = co_await run_on<T>(*pool_, job);
    co_return result;
  }

  Result<void> ready(Session& s) {
    if (Result<void> opened = s.open(); !opened) return opened;
    if (migrated_.load(std::memory_order_acquire)) return {};
    const std::lock_guard lock(migrate_mutex_);
    if (migrated_.load(std::memory_order_relaxed)) return {};
    if (!apply_migrations_) {
      const Result<bool> current = migrated(s, migrations());
      if (!current) return current.error();
      pending_.store(!*current, std::memory_order_relaxed);
      if (!*current) return make_error_code(Errc::kDbUnavailable);  // not yet: the migration job has not run
      migrated_.store(true, std::memory_order_release);
      log_->info("db schema found current backend={} (migrations skipped)", backend());
      return {};
    }
    Result<void> r = migrate(s, migrations(), *log_);
    if (r) migrated_.store(true, std::memory_order_release);
    return r;
  }

  // Logs an outage once when it starts and once when it ends, and every statement the database
  // refused (a bug or a schema mismatch). Conflicts and rejected input are the caller's business.
  void observe(const error_code& ec, const Session& s) {
    if (is(ec, Errc::kDbUnavailable)) {
      if (!down_.exchange(true)) log_->warn("db unavailable backend={} error=\"{}\"", backend(), s.last_error());
      return;
    }
    if (down_.exchange(false)) log_->info("db available again backend={}", backend());
    if (is(ec, Errc::kDbError)) log_->error("db statement failed backend={} error=\"{}\"", backend(), s.last_error());
  }

  std::vector<std::unique_ptr<Session>> sessions_;
  std::shared_ptr<spdlog::logger> log_;
  const bool apply_migrations_;
  bool postgres_;
  std::mutex migrate_mutex_;
  std::atomic<bool> migrated_{false};
  std::atomic<bool> pending_{false};  // schema_pending()
  std::atomic<bool> down_{false};
  std::unique_ptr<WorkerPool> pool_;  // last member: its threads use the sessions
};

}  // namespace

std::unique_ptr<Store> open_store(const config::DatabaseSettings& settings, std::shared_ptr<spdlog::logger> log) {
  if (!log) log = std::make_shared<spdlog::logger>("db");  // no sinks: silent
  std::vector<std::unique_ptr<Session>> sessions;
  if (settings.postgres()) {
    PgSession::validate_url(settings.url);
    for (int i = 0; i < std::max(settings.pool_size, 1); ++i) {
      sessions.push_back(std::make_unique<PgSession>(settings.url));
    }
  } else {
    // One connection: SQLite has one writer at a time anyway, and WAL keeps reads from waiting.
    sessions.push_back(std::make_unique<SqliteSession>(settings.sqlite_path));
  }
  auto store = std::make_unique<SqlStore>(std::move(sessions), std::move(log), settings.apply_migrations);
  store->start();
  return store;
}

std::string apply_migrations(const config::DatabaseSettings& settings, spdlog::logger& log) {
  std::unique_ptr<Session> session;
  if (settings.postgres()) {
    PgSession::validate_url(settings.url);
    session = std::make_unique<PgSession>(settings.url);
  } else {
    session = std::make_unique<SqliteSession>(settings.sqlite_path);
  }
  const char* backend = settings.postgres() ? "postgresql" : "sqlite";
  if (Result<void> opened = session->open(); !opened) {
    return std::string("cannot connect to the database (") + backend + "): " + session->last_error();
  }
  if (Result<void> r = migrate(*session, migrations(), log); !r) {
    return std::string("migration failed (") + backend + "): " + session->last_error();
  }
  log.info("db migrations complete backend={} version={}", backend, migrations().back().version);
  return {};
}

}  // namespace tollgate::db
