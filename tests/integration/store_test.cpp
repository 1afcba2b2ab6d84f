// db::Store against SQLite (a file in a temporary directory) and a real PostgreSQL server
// (support/postgres_server.hpp): one suite for every method on both backends, then migrations,
// concurrency, and PostgreSQL outages and restarts.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <latch>
#include <limits>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "db/migrations.hpp"
#include "db/pg_session.hpp"
#include "db/sqlite_session.hpp"
#include "support/eventually.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "tollgate/db/store.hpp"

namespace tollgate::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using db::Entity;
using db::KeyBundle;
using db::ListFilter;
using db::Membership;
using db::Record;
using db::SpendColumn;
using db::SpendDelta;
using db::SpendEvent;
using db::SpendSummaryRow;
using db::Store;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

enum class Backend { kSqlite, kPostgres };

// One server for the whole program, started by the first test that needs it. Tests that stop it
// start it again; the next test's SetUp does so too, should one fail half-way.
PostgresServer& postgres_server() {
  static PostgresServer server;
  return server;
}

/// Runs `op` to completion on a fresh io_context on this thread.
template <class T>
T await(asio::awaitable<T> op) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(value));
  });
  io.run();
  return std::move(*out);
}

template <class T>
bool failed_with(const Result<T>& r, Errc e) {
  return !r && r.error() == make_error_code(e);
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

Record make_record(std::string id, Json data = Json::object(), std::int64_t reset_at = 0, double spend = 0) {
  Record r;
  r.id = std::move(id);
  r.data = std::move(data);
  r.budget_reset_at_ms = reset_at;
  r.spend = spend;
  return r;
}

std::vector<std::string> ids(const Result<std::vector<Record>>& records) {
  std::vector<std::string> out;
  if (records) {
    for (const auto& r : *records) out.push_back(r.id);
  }
  return out;
}

// "team/user/role" per membership, in the order returned.
std::vector<std::string> rendered(const Result<std::vector<Membership>>& members) {
  std::vector<std::string> out;
  if (members) {
    for (const auto& m : *members) out.push_back(m.team_id + "/" + m.user_id + "/" + m.role);
  }
  return out;
}

class StoreTestBase : public ::testing::Test {
 protected:
  void use(Backend backend) {
    backend_ = backend;
    if (backend == Backend::kPostgres) {
      if (!postgres_server().running()) postgres_server().start();
      settings_.url = postgres_server().create_database();
      settings_.pool_size = 4;
    } else {
      settings_.sqlite_path = dir_.file("tollgate.db");
    }
  }

  std::unique_ptr<Store> open() { return db::open_store(settings_, log_); }

  /// A connection of our own to the same database, for looking behind the store's back.
  std::unique_ptr<db::Session> raw_session() {
    std::unique_ptr<db::Session> s;
    if (backend_ == Backend::kPostgres) {
      s = std::make_unique<db::PgSession>(settings_.url);
    } else {
      s = std::make_unique<db::SqliteSession>(settings_.sqlite_path);
    }
    EXPECT_TRUE(s->open()) << s->last_error();
    return s;
  }

  std::int64_t count_rows(const std::string& table) {
    const Result<db::Rows> r = raw_session()->query("SELECT COUNT(*) FROM " + table, {});
    return r && !r->rows.empty() ? db::as_int(r->rows[0][0]) : -1;
  }

  /// Holds the write lock of tollgate_keys from another connection for `hold`, on a thread;
  /// returns once the lock is taken. Writes to keys through the store wait meanwhile.
  std::thread hold_write_lock(std::chrono::milliseconds hold) {
    std::promise<void> taken;
    std::future<void> ready = taken.get_future();
    std::thread holder([this, hold, taken = std::move(taken)]() mutable {
      std::unique_ptr<db::Session> s = raw_session();
      const char* lock =
          backend_ == Backend::kPostgres ? "BEGIN; LOCK TABLE tollgate_keys IN EXCLUSIVE MODE" : "BEGIN IMMEDIATE";
      EXPECT_TRUE(s->script(lock)) << s->last_error();
      taken.set_value();
      std::this_thread::sleep_for(hold);
      EXPECT_TRUE(s->script("ROLLBACK"));
    });
    ready.wait();
    return holder;
  }

  Backend backend_ = Backend::kSqlite;
  TempDir dir_{"tollgate-store"};
  config::DatabaseSettings settings_;
  std::shared_ptr<spdlog::logger> log_ = std::make_shared<spdlog::logger>("store-test");  // silent
};

class StoreTest : public StoreTestBase, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override { use(GetParam()); }
};

// ---- records --------------------------------------------------------------------------------

TEST_P(StoreTest, InsertThenGetRoundTrips) {
  auto store = open();
  const std::int64_t before = unix_ms_now();
  const Json data = {{"key_alias", "ci"},
                     {"user_id", "u1"},
                     {"models", {"gpt-4o", "gpt-4o-mini"}},
                     {"metadata", {{"nested", {{"x", 1.5}}}}},
                     {"unicode", "żółw 🐢"}};
  Result<Record> inserted = await(store->insert(Entity::kKey, make_record("k1", data, 1'700'000'000'000, 2.5)));
  ASSERT_TRUE(inserted) << inserted.error().message();
  EXPECT_GE(inserted->created_at_ms, before);
  EXPECT_EQ(inserted->updated_at_ms, inserted->created_at_ms);

  Result<std::optional<Record>> got = await(store->get(Entity::kKey, "k1"));
  ASSERT_TRUE(got && *got);
  const Record& r = **got;
  EXPECT_EQ(r.id, "k1");
  EXPECT_EQ(r.data, data);
  EXPECT_DOUBLE_EQ(r.spend, 2.5);
  EXPECT_EQ(r.budget_reset_at_ms, 1'700'000'000'000);
  EXPECT_EQ(r.created_at_ms, inserted->created_at_ms);
  EXPECT_EQ(r.updated_at_ms, inserted->updated_at_ms);

  // A given created_at is kept; the same id in another entity's table is another row.
  Record team = make_record("k1", {{"team_alias", "t"}});
  team.created_at_ms = 42;
  ASSERT_TRUE(await(store->insert(Entity::kTeam, team)));
  Result<std::optional<Record>> got_team = await(store->get(Entity::kTeam, "k1"));
  ASSERT_TRUE(got_team && *got_team);
  EXPECT_EQ((*got_team)->created_at_ms, 42);
  EXPECT_EQ((*got_team)->data, team.data);

  Result<std::optional<Record>> missing = await(store->get(Entity::kKey, "nope"));
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_P(StoreTest, InsertOfAnExistingIdConflicts) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kUser, make_record("u1", {{"user_email", "a@example.com"}}))));
  Result<Record> again = await(store->insert(Entity::kUser, make_record("u1", {{"user_email", "b@example.com"}})));
  EXPECT_TRUE(failed_with(again, Errc::kDbConflict)) << (again ? "inserted" : again.error().message());
  Result<std::optional<Record>> kept = await(store->get(Entity::kUser, "u1"));
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->data["user_email"], "a@example.com");
  // The store still works after the failed transaction.
  EXPECT_TRUE(await(store->insert(Entity::kUser, make_record("u2"))));
}

TEST_P(StoreTest, UpdateReplacesDataAndWindowAndSpendOnlyWhenAsked) {
  auto store = open();
  Result<Record> inserted = await(store->insert(Entity::kKey, make_record("k1", {{"user_id", "u1"}}, 100, 1.5)));
  ASSERT_TRUE(inserted);

  Record changed = make_record("k1", {{"user_id", "u2"}, {"max_budget", 10}}, 200, 99);
  Result<bool> updated = await(store->update(Entity::kKey, changed, false));
  ASSERT_TRUE(updated);
  EXPECT_TRUE(*updated);
  Result<std::optional<Record>> got = await(store->get(Entity::kKey, "k1"));
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->data, changed.data);
  EXPECT_EQ((*got)->budget_reset_at_ms, 200);
  EXPECT_DOUBLE_EQ((*got)->spend, 1.5);
  EXPECT_EQ((*got)->created_at_ms, inserted->created_at_ms);
  EXPECT_GE((*got)->updated_at_ms, inserted->updated_at_ms);
  // The owner column follows the data.
  ListFilter by_u2;
  by_u2.user_id = "u2";
  EXPECT_EQ(ids(await(store->list(Entity::kKey, by_u2))), std::vector<std::string>{"k1"});

  changed.spend = 0.25;
  ASSERT_TRUE(await(store->update(Entity::kKey, changed, true)));
  got = await(store->get(Entity::kKey, "k1"));
  ASSERT_TRUE(got && *got);
  EXPECT_DOUBLE_EQ((*got)->spend, 0.25);

  Result<bool> missing = await(store->update(Entity::kKey, make_record("nope"), true));
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_P(StoreTest, RemoveDeletesTheRowWithItsMembershipsAndModelSpend) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1"))));
  ASSERT_TRUE(await(store->insert(Entity::kTeam, make_record("t1"))));
  ASSERT_TRUE(await(store->insert(Entity::kUser, make_record("u1"))));
  ASSERT_TRUE(await(store->put_member({"t1", "u1", "admin"})));
  ASSERT_TRUE(await(store->put_member({"t2", "u1", "user"})));
  ASSERT_TRUE(await(store->put_member({"t2", "u2", "user"})));
  ASSERT_TRUE(await(store->add_spend({{Entity::kKey, "k1", 1.0, 0, "gpt-4o"}})));

  Result<bool> removed = await(store->remove(Entity::kKey, "k1"));
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  Result<std::optional<Record>> gone = await(store->get(Entity::kKey, "k1"));
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
  EXPECT_EQ(count_rows("tollgate_key_model_spend"), 0);
  Result<bool> again = await(store->remove(Entity::kKey, "k1"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);

  ASSERT_TRUE(await(store->remove(Entity::kTeam, "t1")));
  EXPECT_EQ(count_rows("tollgate_team_members"), 2);
  ASSERT_TRUE(await(store->remove(Entity::kUser, "u1")));
  EXPECT_EQ(rendered(await(store->members_of_team("t2"))), std::vector<std::string>{"t2/u2/user"});
}

TEST_P(StoreTest, ListFiltersByOwnerAndPagesInCreationOrder) {
  auto store = open();
  struct Row {
    const char* id;
    std::int64_t created;
    Json data;
  };
  const std::vector<Row> rows = {
      {"k3", 30, {{"user_id", "u1"}, {"team_id", "t1"}, {"organization_id", "o1"}}},
      {"k1", 10, {{"user_id", "u1"}, {"team_id", "t2"}}},
      {"k2", 20, {{"user_id", "u2"}, {"team_id", "t1"}, {"organization_id", "o1"}}},
      {"k0", 30, {{"user_id", "u1"}}},  // same created_at as k3: ordered by id
      {"k4", 40, {{"user_id", 7}}},     // not a string: no owner column
  };
  for (const Row& row : rows) {
    Record r = make_record(row.id, row.data);
    r.created_at_ms = row.created;
    ASSERT_TRUE(await(store->insert(Entity::kKey, r)));
  }
  ASSERT_TRUE(await(store->insert(Entity::kTeam, make_record("t1", {{"organization_id", "o1"}}))));

  EXPECT_EQ(ids(await(store->list(Entity::kKey, {}))), (std::vector<std::string>{"k1", "k2", "k0", "k3", "k4"}));
  ListFilter f;
  f.user_id = "u1";
  EXPECT_EQ(ids(await(store->list(Entity::kKey, f))), (std::vector<std::string>{"k1", "k0", "k3"}));
  f = {};
  f.team_id = "t1";
  EXPECT_EQ(ids(await(store->list(Entity::kKey, f))), (std::vector<std::string>{"k2", "k3"}));
  f = {};
  f.organization_id = "o1";
  EXPECT_EQ(ids(await(store->list(Entity::kKey, f))), (std::vector<std::string>{"k2", "k3"}));
  EXPECT_EQ(ids(await(store->list(Entity::kTeam, f))), std::vector<std::string>{"t1"});
  f.user_id = "u1";
  EXPECT_EQ(ids(await(store->list(Entity::kKey, f))), std::vector<std::string>{"k3"});
  f = {};
  f.user_id = "7";
  EXPECT_TRUE(ids(await(store->list(Entity::kKey, f))).empty());

  std::vector<std::string> paged;
  for (std::size_t offset = 0;; offset += 2) {
    ListFilter page;
    page.limit = 2;
    page.offset = offset;
    const std::vector<std::string> got = ids(await(store->list(Entity::kKey, page)));
    if (got.empty()) break;
    EXPECT_LE(got.size(), 2u);
    paged.insert(paged.end(), got.begin(), got.end());
  }
  EXPECT_EQ(paged, (std::vector<std::string>{"k1", "k2", "k0", "k3", "k4"}));
  ListFilter huge;
  huge.limit = std::numeric_limits<std::size_t>::max();
  huge.offset = 4;
  EXPECT_EQ(ids(await(store->list(Entity::kKey, huge))), std::vector<std::string>{"k4"});
}

// ---- team members ---------------------------------------------------------------------------

TEST_P(StoreTest, MembersArePutChangedAndRemoved) {
  using Strings = std::vector<std::string>;
  auto store = open();
  ASSERT_TRUE(await(store->put_member({"t1", "u2", "user"})));
  ASSERT_TRUE(await(store->put_member({"t1", "u1", "admin"})));
  ASSERT_TRUE(await(store->put_member({"t0", "u1", "user"})));
  EXPECT_EQ(rendered(await(store->members_of_team("t1"))), (Strings{"t1/u1/admin", "t1/u2/user"}));

  ASSERT_TRUE(await(store->put_member({"t1", "u1", "user"})));  // a role change, not a second row
  EXPECT_EQ(rendered(await(store->teams_of_user("u1"))), (Strings{"t0/u1/user", "t1/u1/user"}));

  Result<bool> removed = await(store->remove_member("t1", "u1"));
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  removed = await(store->remove_member("t1", "u1"));
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);
  EXPECT_EQ(rendered(await(store->members_of_team("t1"))), Strings{"t1/u2/user"});
  Result<std::vector<Membership>> none = await(store->teams_of_user("nobody"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// ---- spend and budgets ----------------------------------------------------------------------

double spend_of(Store& store, Entity entity, const std::string& id) {
  Result<std::optional<Record>> r = await(store.get(entity, id));
  return r && *r ? (*r)->spend : -1;
}

TEST_P(StoreTest, AddSpendAggregatesAndSkipsOtherWindows) {
  auto store = open();
  constexpr std::int64_t kWindow = 1'800'000'000'000;
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1", {}, kWindow))));
  ASSERT_TRUE(await(store->insert(Entity::kTeam, make_record("t1"))));  // no window
  ASSERT_TRUE(await(store->insert(Entity::kEndUser, make_record("c1", {}, kWindow, 1.0))));

  ASSERT_TRUE(await(store->add_spend({{Entity::kKey, "k1", 0.25, kWindow},
                                      {Entity::kTeam, "t1", 0.5, 0},
                                      {Entity::kKey, "k1", 0.5, kWindow},
                                      {Entity::kKey, "k1", 9.0, kWindow - 1},  // a window that ended
                                      {Entity::kEndUser, "c1", 0.125, kWindow},
                                      {Entity::kUser, "missing", 1.0, 0},
                                      {Entity::kTeam, "t1", 0.25, 0}})));
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kKey, "k1"), 0.75);
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kTeam, "t1"), 0.75);
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kEndUser, "c1"), 1.125);
  ASSERT_TRUE(await(store->add_spend({})));

  // Bad input is refused as a whole, before anything is written.
  Result<void> bad = await(store->add_spend({{Entity::kTeam, "t1", 1.0, 0}, {Entity::kTeam, "t1", 1.0, 0, "gpt-4o"}}));
  EXPECT_TRUE(failed_with(bad, Errc::kInvalidRequest));
  bad = await(store->add_spend({{Entity::kTeam, "t1", std::numeric_limits<double>::quiet_NaN(), 0}}));
  EXPECT_TRUE(failed_with(bad, Errc::kInvalidRequest));
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kTeam, "t1"), 0.75);
}

TEST_P(StoreTest, ModelSpendIsPerKeyAndWindow) {
  auto store = open();
  constexpr std::int64_t kWindow = 1'800'000'000'000;
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1", {}, kWindow))));
  ASSERT_TRUE(await(store->add_spend({{Entity::kKey, "k1", 1.0, kWindow, "gpt-4o"},
                                      {Entity::kKey, "k1", 0.5, kWindow, "claude"},
                                      {Entity::kKey, "k1", 2.0, kWindow, "gpt-4o"},
                                      {Entity::kKey, "k1", 4.0, kWindow + 1, "gpt-4o"},
                                      {Entity::kKey, "k2", 8.0, kWindow, "gpt-4o"}})));
  ASSERT_TRUE(await(store->add_spend({{Entity::kKey, "k1", 0.25, kWindow, "claude"}})));  // upsert adds

  using ModelSpend = std::vector<std::pair<std::string, double>>;
  Result<ModelSpend> spend = await(store->model_spend("k1", kWindow));
  ASSERT_TRUE(spend);
  EXPECT_EQ(*spend, (ModelSpend{{"claude", 0.75}, {"gpt-4o", 3.0}}));
  spend = await(store->model_spend("k1", kWindow + 1));
  ASSERT_TRUE(spend);
  EXPECT_EQ(*spend, (ModelSpend{{"gpt-4o", 4.0}}));
  spend = await(store->model_spend("k1", 0));
  ASSERT_TRUE(spend);
  EXPECT_TRUE(spend->empty());
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kKey, "k1"), 0);  // model spend is not the key's spend
}

TEST_P(StoreTest, DueRowsAreResetOnceAndTheOldWindowStopsCounting) {
  auto store = open();
  constexpr std::int64_t kNow = 1'800'000'000'000;
  ASSERT_TRUE(await(store->insert(Entity::kBudget, make_record("past", {}, kNow - 10, 3.0))));
  ASSERT_TRUE(await(store->insert(Entity::kBudget, make_record("now", {}, kNow, 1.0))));
  ASSERT_TRUE(await(store->insert(Entity::kBudget, make_record("future", {}, kNow + 1, 1.0))));
  ASSERT_TRUE(await(store->insert(Entity::kBudget, make_record("never", {}, 0, 1.0))));

  EXPECT_EQ(ids(await(store->due_for_reset(Entity::kBudget, kNow))), (std::vector<std::string>{"past", "now"}));
  EXPECT_TRUE(ids(await(store->due_for_reset(Entity::kKey, kNow))).empty());

  Result<bool> reset = await(store->reset_budget(Entity::kBudget, "past", kNow - 10, kNow + 1000));
  ASSERT_TRUE(reset);
  EXPECT_TRUE(*reset);
  reset = await(store->reset_budget(Entity::kBudget, "past", kNow - 10, kNow + 2000));  // another replica, late
  ASSERT_TRUE(reset);
  EXPECT_FALSE(*reset);
  Result<std::optional<Record>> row = await(store->get(Entity::kBudget, "past"));
  ASSERT_TRUE(row && *row);
  EXPECT_DOUBLE_EQ((*row)->spend, 0);
  EXPECT_EQ((*row)->budget_reset_at_ms, kNow + 1000);

  ASSERT_TRUE(await(store->add_spend({{Entity::kBudget, "past", 5.0, kNow - 10},  // the old window: dropped
                                      {Entity::kBudget, "past", 0.5, kNow + 1000}})));
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kBudget, "past"), 0.5);
  EXPECT_EQ(ids(await(store->due_for_reset(Entity::kBudget, kNow))), std::vector<std::string>{"now"});

  // Spend for a later window arrives before the sweep: the row moves to that window, from zero.
  ASSERT_TRUE(await(store->add_spend({{Entity::kBudget, "now", 0.25, kNow + 500}})));
  row = await(store->get(Entity::kBudget, "now"));
  ASSERT_TRUE(row && *row);
  EXPECT_DOUBLE_EQ((*row)->spend, 0.25);
  EXPECT_EQ((*row)->budget_reset_at_ms, kNow + 500);
  // A row without windows never moves.
  ASSERT_TRUE(await(store->add_spend({{Entity::kBudget, "never", 1.0, kNow}})));
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kBudget, "never"), 1.0);
}

TEST_P(StoreTest, KeyBundleReadsTheKeyAndWhatItNamesInOneCall) {
  auto store = open();
  constexpr std::int64_t kWindow = 1'800'000'000'000;
  ASSERT_TRUE(await(store->insert(Entity::kOrganization, make_record("o1", {{"max_budget", 9}}))));
  ASSERT_TRUE(await(store->insert(Entity::kTeam, make_record("t1", {{"organization_id", "o1"}}))));
  ASSERT_TRUE(await(store->insert(Entity::kUser, make_record("u1", {{"user_role", "internal_user"}}))));
  ASSERT_TRUE(await(store->put_member({"t1", "u1", "admin"})));
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1", {{"team_id", "t1"}, {"user_id", "u1"}}, kWindow))));
  ASSERT_TRUE(await(store->add_spend({{Entity::kKey, "k1", 0.5, kWindow, "gpt-4o"}})));

  Result<std::optional<KeyBundle>> b = await(store->key_bundle("k1"));
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->key.id, "k1");
  ASSERT_TRUE((*b)->team && (*b)->user && (*b)->organization);
  EXPECT_EQ((*b)->team->id, "t1");
  EXPECT_EQ((*b)->user->id, "u1");
  EXPECT_EQ((*b)->organization->id, "o1");  // through the team
  EXPECT_EQ((*b)->team_role, "admin");
  EXPECT_EQ((*b)->model_spend, (std::vector<std::pair<std::string, double>>{{"gpt-4o", 0.5}}));

  // Dangling references are absent, not errors; a missing key is nullopt.
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k2", {{"team_id", "gone"}, {"user_id", "gone"}}))));
  b = await(store->key_bundle("k2"));
  ASSERT_TRUE(b && *b);
  EXPECT_FALSE((*b)->team || (*b)->user || (*b)->organization || (*b)->team_role);
  b = await(store->key_bundle("nope"));
  ASSERT_TRUE(b);
  EXPECT_FALSE(*b);
}

TEST_P(StoreTest, PingAnswers) {
  auto store = open();
  EXPECT_TRUE(await(store->ping()));
  EXPECT_EQ(store->postgres(), GetParam() == Backend::kPostgres);
}

// ---- spend logs -----------------------------------------------------------------------------

SpendEvent spend_event(const std::string& id, double spend, std::int64_t start_ms, const std::string& key = "k1") {
  SpendEvent e;
  e.request_id = id;
  e.call_type = "acompletion";
  e.api_key = key;
  e.spend = spend;
  e.counterfactual_spend = 2 * spend;
  e.prompt_tokens = 10;
  e.completion_tokens = 5;
  e.total_tokens = 15;
  e.start_ms = start_ms;
  e.end_ms = start_ms + 100;
  e.completion_start_ms = start_ms + 50;
  e.model = "gpt-4o";
  e.model_group = "smart";
  e.custom_llm_provider = "openai";
  e.user = "u1";
  e.team_id = "t1";
  e.status = "success";
  e.metadata = R"({"note":"żółw"})";
  e.request_tags = {"a", "b"};
  e.deltas = {{.entity = Entity::kKey, .id = key, .amount = spend}, {.entity = Entity::kTeam, .id = "t1", .amount = spend}};
  return e;
}

TEST_P(StoreTest, SpendEventsAreStoredOnceByRequestIdWithTheirEntitySpend) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1", Json::object()))));
  ASSERT_TRUE(await(store->insert(Entity::kTeam, make_record("t1", Json::object()))));
  const std::int64_t t0 = 1'700'000'000'000;
  // A batch with a repeat inside it, then the same batch again (a retry after an uncertain commit).
  std::vector<SpendEvent> batch;
  for (int i = 0; i < 120; ++i) batch.push_back(spend_event("r" + std::to_string(i), 0.25, t0 + i));
  batch.push_back(spend_event("r7", 0.25, t0 + 7));
  Result<std::size_t> first = await(store->write_spend(batch));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, 120u);
  Result<std::size_t> again = await(store->write_spend(batch));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
  EXPECT_DOUBLE_EQ((*await(store->get(Entity::kKey, "k1")))->spend, 30.0);
  EXPECT_DOUBLE_EQ((*await(store->get(Entity::kTeam, "t1")))->spend, 30.0);

  Result<std::vector<SpendEvent>> one = await(store->spend_logs({.request_id = "r7"}));
  ASSERT_TRUE(one && one->size() == 1u);
  const SpendEvent& e = one->front();
  EXPECT_EQ(e.start_ms, t0 + 7);
  EXPECT_EQ(e.completion_start_ms, t0 + 57);
  EXPECT_EQ(e.metadata, R"({"note":"żółw"})");
  EXPECT_EQ(e.request_tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(e.counterfactual_spend, 0.5);
  EXPECT_TRUE(e.deltas.empty());

  Result<std::vector<SpendEvent>> page = await(store->spend_logs({.start_ms = t0 + 100, .limit = 5, .offset = 5}));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 5u);
  EXPECT_EQ(page->front().request_id, "r114");  // newest first

  // An invalid event rejects the whole batch.
  std::vector<SpendEvent> bad{spend_event("x1", 1, t0), spend_event("", 1, t0)};
  Result<std::size_t> refused = await(store->write_spend(bad));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::kInvalidRequest);
  EXPECT_TRUE(await(store->spend_logs({.request_id = "x1"}))->empty());
}

TEST_P(StoreTest, SpendSummaryGroupsByDayAndColumnsAndPurgeDeletesInBatches) {
  auto store = open();
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t day0 = 19'000 * kDay;  // 2022-01-08
  std::vector<SpendEvent> events{spend_event("a", 1, day0 + 1), spend_event("b", 2, day0 + 2, "k2"),
                                 spend_event("c", 4, day0 + kDay + 3)};
  events[2].status = "failure";
  ASSERT_TRUE(await(store->write_spend(events)));
  Result<std::vector<SpendSummaryRow>> rows =
      await(store->spend_summary({.group_by = {SpendColumn::kDay, SpendColumn::kApiKey}}));
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].keys, (std::vector<std::string>{"2022-01-08", "k1"}));
  EXPECT_DOUBLE_EQ((*rows)[0].spend, 1);
  EXPECT_EQ((*rows)[2].keys, (std::vector<std::string>{"2022-01-09", "k1"}));
  EXPECT_EQ((*rows)[2].requests, 1);
  EXPECT_EQ((*rows)[2].successful_requests, 0);
  Result<std::vector<SpendSummaryRow>> total = await(store->spend_summary({.start_ms = day0 + 2, .end_ms = day0 + kDay + 4}));
  ASSERT_TRUE(total && total->size() == 1u);
  EXPECT_DOUBLE_EQ(total->front().spend, 6);
  EXPECT_DOUBLE_EQ(total->front().counterfactual_spend, 12);
  EXPECT_EQ(total->front().prompt_tokens, 20);
  EXPECT_TRUE(await(store->spend_summary({.start_ms = 0, .end_ms = 1}))->empty());

  Result<std::size_t> purged = await(store->purge_spend_logs(day0 + kDay, 1));
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(*await(store->purge_spend_logs(day0 + kDay, 10)), 1u);
  Result<std::vector<SpendEvent>> left = await(store->spend_logs({}));
  ASSERT_TRUE(left && left->size() == 1u);
  EXPECT_EQ(left->front().request_id, "c");
}

// ---- migrations -----------------------------------------------------------------------------

TEST_P(StoreTest, MigrationsAreAppliedOnce) {
  {
    auto store = open();
    ASSERT_TRUE(await(store->insert(Entity::kOrganization, make_record("o1"))));
  }
  auto again = open();  // the same database: nothing left to apply, data kept
  Result<std::optional<Record>> kept = await(again->get(Entity::kOrganization, "o1"));
  ASSERT_TRUE(kept);
  EXPECT_TRUE(*kept);
  EXPECT_EQ(count_rows("tollgate_schema_migrations"), static_cast<std::int64_t>(db::migrations().size()));
}

TEST_P(StoreTest, StoresOpeningTogetherMigrateOnce) {
  constexpr int kStores = 3;
  std::latch start(kStores);
  std::vector<std::future<std::unique_ptr<Store>>> opening;
  for (int i = 0; i < kStores; ++i) {
    opening.push_back(std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      return open();
    }));
  }
  std::vector<std::unique_ptr<Store>> stores;
  for (auto& f : opening) stores.push_back(f.get());  // rethrows a failed open
  EXPECT_EQ(count_rows("tollgate_schema_migrations"), static_cast<std::int64_t>(db::migrations().size()));
  ASSERT_TRUE(await(stores[0]->insert(Entity::kKey, make_record("k1"))));
  EXPECT_TRUE(failed_with(await(stores[1]->insert(Entity::kKey, make_record("k1"))), Errc::kDbConflict));
  Result<std::optional<Record>> seen = await(stores[2]->get(Entity::kKey, "k1"));
  ASSERT_TRUE(seen);
  EXPECT_TRUE(*seen);
}

// ---- concurrency ----------------------------------------------------------------------------

struct Tally {
  std::atomic<int> started{0};
  std::atomic<int> done{0};
  std::atomic<int> ok{0};
  std::atomic<int> unavailable{0};
  std::atomic<int> other{0};
  std::atomic<int> off_thread{0};  // completions that resumed on another thread than the io thread
};

void count(Tally& tally, const boost::system::error_code& ec) {
  if (!ec) {
    ++tally.ok;
  } else if (ec == make_error_code(Errc::kDbUnavailable)) {
    ++tally.unavailable;
  } else {
    ++tally.other;
  }
}

asio::awaitable<void> spend_then_read(Store& store, std::thread::id io_thread, Tally& tally) {
  std::vector<SpendDelta> deltas{{Entity::kKey, "k1", 0.5, 0}};
  Result<void> spent = co_await store.add_spend(std::move(deltas));
  if (std::this_thread::get_id() != io_thread) ++tally.off_thread;
  count(tally, spent ? boost::system::error_code() : spent.error());
  const std::string id = "k1";
  Result<std::optional<Record>> got = co_await store.get(Entity::kKey, id);
  if (std::this_thread::get_id() != io_thread) ++tally.off_thread;
  count(tally, got ? boost::system::error_code() : got.error());
  ++tally.done;
}

asio::awaitable<void> spend_once(Store& store, Tally& tally) {
  ++tally.started;
  std::vector<SpendDelta> deltas{{Entity::kKey, "k1", 0.5, 0}};
  Result<void> spent = co_await store.add_spend(std::move(deltas));
  count(tally, spent ? boost::system::error_code() : spent.error());
  ++tally.done;
}

asio::awaitable<void> tick(asio::steady_timer& timer, int& ticks, const Tally& tally, int until_done) {
  while (tally.done < until_done) {
    timer.expires_after(5ms);
    co_await timer.async_wait(asio::use_awaitable);
    ++ticks;
  }
}

TEST_P(StoreTest, ManyConcurrentCallsCompleteOnTheIoThreadWhichNeverBlocks) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1"))));
  constexpr int kCalls = 200;
  std::thread holder = hold_write_lock(300ms);  // every add_spend waits for it

  asio::io_context io;
  Tally tally;
  int ticks = 0;
  asio::steady_timer timer(io);
  const std::thread::id io_thread = std::this_thread::get_id();
  for (int i = 0; i < kCalls; ++i) asio::co_spawn(io, spend_then_read(*store, io_thread, tally), asio::detached);
  asio::co_spawn(io, tick(timer, ticks, tally, kCalls), asio::detached);
  const auto start = Clock::now();
  io.run();
  const long long elapsed = ms_since(start);
  holder.join();

  EXPECT_EQ(tally.done, kCalls);
  EXPECT_EQ(tally.ok, 2 * kCalls);
  EXPECT_EQ(tally.off_thread, 0);
  EXPECT_GE(elapsed, 250) << "the lock did not hold the writes back";
  // The io thread kept running its 5 ms timer while the database made the calls wait (at least one
  // tick per 50 ms: lenient on a loaded machine, far above what a blocked io thread gets).
  EXPECT_GE(ticks * 50, elapsed) << ticks << " ticks in " << elapsed << " ms";
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kKey, "k1"), 0.5 * kCalls);
}

TEST_P(StoreTest, DestroyingTheStoreCompletesQueuedCalls) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1"))));
  constexpr int kCalls = 20;
  std::thread holder = hold_write_lock(300ms);

  asio::io_context io;
  Tally tally;
  for (int i = 0; i < kCalls; ++i) asio::co_spawn(io, spend_once(*store, tally), asio::detached);
  std::thread io_thread([&] { io.run(); });  // runs until every call has completed
  // A call reaches the pool as soon as it starts: one job per worker blocks on the lock, the rest
  // wait in the queue.
  ASSERT_TRUE(eventually([&] { return tally.started == kCalls; }));
  store.reset();  // abandons the queued jobs, waits for the running ones
  io_thread.join();
  holder.join();

  EXPECT_EQ(tally.done, kCalls);
  EXPECT_EQ(tally.other, 0);
  const int workers = GetParam() == Backend::kPostgres ? settings_.pool_size : 1;
  EXPECT_GE(tally.unavailable, kCalls - workers);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& param) {
                           return param.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

// ---- SQLite only ----------------------------------------------------------------------------

TEST(SqliteStoreTest, CreatesTheFileInWalModeButNotItsDirectory) {
  TempDir dir("tollgate-store");
  config::DatabaseSettings settings;
  settings.sqlite_path = dir.file("missing/tollgate.db");
  try {
    db::open_store(settings, nullptr);
    ADD_FAILURE() << "opened a database in a directory that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }

  settings.sqlite_path = dir.file("tollgate.db");
  auto store = db::open_store(settings, nullptr);
  EXPECT_TRUE(std::filesystem::exists(settings.sqlite_path));
  db::SqliteSession raw(settings.sqlite_path);
  Result<db::Rows> mode = raw.query("PRAGMA journal_mode", {});
  ASSERT_TRUE(mode && !mode->rows.empty());
  EXPECT_EQ(db::as_text(mode->rows[0][0]), "wal");
}

// ---- PostgreSQL only ------------------------------------------------------------------------

class PostgresStoreTest : public StoreTestBase {
 protected:
  void SetUp() override { use(Backend::kPostgres); }
  PostgresServer& server() { return postgres_server(); }
};

TEST_F(PostgresStoreTest, AnInvalidUrlIsRefusedAtOpen) {
  settings_.url = "postgresql://127.0.0.1/db?no_such_option=1";  // libpq refuses unknown options
  EXPECT_THROW(open(), std::runtime_error);
}

TEST_F(PostgresStoreTest, StoppedServerFailsFastAndTheSameStoreRecovers) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1"))));
  server().stop();
  for (int i = 0; i < 6; ++i) {  // more calls than connections: every one of them notices
    const auto start = Clock::now();
    EXPECT_TRUE(failed_with(await(store->get(Entity::kKey, "k1")), Errc::kDbUnavailable));
    EXPECT_LT(ms_since(start), 5000);
  }
  EXPECT_TRUE(failed_with(await(store->add_spend({{Entity::kKey, "k1", 1.0, 0}})), Errc::kDbUnavailable));

  server().start();
  // The first call after the restart already works: idle connections the server closed are
  // noticed and replaced before use.
  Result<std::optional<Record>> back = await(store->get(Entity::kKey, "k1"));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(*back);
  ASSERT_TRUE(await(store->add_spend({{Entity::kKey, "k1", 1.0, 0}})));
  EXPECT_DOUBLE_EQ(spend_of(*store, Entity::kKey, "k1"), 1.0);
}

TEST_F(PostgresStoreTest, UnreachableAtOpenMigratesOnFirstConnection) {
  server().stop();
  const auto start = Clock::now();
  auto store = open();  // not fatal
  EXPECT_LT(ms_since(start), 5000);
  EXPECT_TRUE(failed_with(await(store->ping()), Errc::kDbUnavailable));

  server().start();
  ASSERT_TRUE(await(store->insert(Entity::kTeam, make_record("t1"))));
  EXPECT_EQ(count_rows("tollgate_schema_migrations"), static_cast<std::int64_t>(db::migrations().size()));
}

asio::awaitable<void> keep_spending(Store& store, Tally& tally, const std::atomic<bool>& stop,
                                    std::atomic<long long>& slowest_ms) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  while (!stop) {
    std::vector<SpendDelta> deltas{{Entity::kKey, "k1", 1.0, 0}};
    const auto start = Clock::now();
    Result<void> r = co_await store.add_spend(std::move(deltas));
    const long long took = ms_since(start);
    if (took > slowest_ms) slowest_ms = took;
    count(tally, r ? boost::system::error_code() : r.error());
    if (!r) {
      pause.expires_after(10ms);  // no hot loop against a server that is down
      co_await pause.async_wait(asio::use_awaitable);
    }
  }
  ++tally.done;
}

TEST_F(PostgresStoreTest, RestartUnderLoadLosesNoCallAndNoCountedSpend) {
  auto store = open();
  ASSERT_TRUE(await(store->insert(Entity::kKey, make_record("k1"))));
  constexpr int kLoops = 16;
  asio::io_context io;
  Tally tally;
  std::atomic<bool> stop{false};
  std::atomic<long long> slowest_ms{0};
  for (int i = 0; i < kLoops; ++i) asio::co_spawn(io, keep_spending(*store, tally, stop, slowest_ms), asio::detached);
  std::thread io_thread([&] { io.run(); });

  EXPECT_TRUE(eventually([&] { return tally.ok >= 50; }));
  server().stop();
  EXPECT_TRUE(eventually([&] { return tally.unavailable >= 20; }));
  server().start();
  const int ok_before = tally.ok;
  EXPECT_TRUE(eventually([&] { return tally.ok >= ok_before + 50; }));
  stop = true;
  io_thread.join();

  EXPECT_EQ(tally.done, kLoops);
  EXPECT_EQ(tally.other, 0);
  EXPECT_LT(slowest_ms, 5000);
  // Every acknowledged add_spend is in; a call cut off by the shutdown may or may not have
  // committed before its connection went.
  const double spend = spend_of(*store, Entity::kKey, "k1");
  EXPECT_GE(spend, tally.ok.load());
  EXPECT_LE(spend, tally.ok.load() + tally.unavailable.load());
}

TEST(EntityNameTest, NamesEveryEntity) {
  EXPECT_STREQ(db::entity_name(Entity::kKey), "key");
  EXPECT_STREQ(db::entity_name(Entity::kTeam), "team");
  EXPECT_STREQ(db::entity_name(Entity::kUser), "user");
  EXPECT_STREQ(db::entity_name(Entity::kOrganization), "organization");
  EXPECT_STREQ(db::entity_name(Entity::kEndUser), "end_user");
  EXPECT_STREQ(db::entity_name(Entity::kBudget), "budget");
}

}  // namespace
}  // namespace tollgate::testing
