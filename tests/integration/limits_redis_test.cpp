// limits::make_redis_limiter against a real redis-server: the shared contract
// (unit/limits/limiter_contract.hpp) through Redis, one limit held by two replicas, the fallback
// to local state while Redis is down and the way back, leases of crashed replicas, key TTLs.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include <boost/asio/detached.hpp>
#include <spdlog/logger.h>

#include "support/redis_server.hpp"
#include "tollgate/limits/local_state.hpp"
#include "tollgate/store/redis.hpp"
#include "unit/limits/limiter_contract.hpp"

namespace tollgate::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using limits::LocalLimitState;

std::shared_ptr<spdlog::logger> quiet_log() { return std::make_shared<spdlog::logger>("limits-test"); }

/// Drives `io` until `done()` holds or `limit` passes.
bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

/// One gateway replica's worker: its io_context, Redis connection, limiter and local fallback.
struct Replica {
  explicit Replica(const RedisServer& server, limits::RedisLimiterOptions options = {})
      : conn(io, settings_for(server), quiet_log()),
        limiter(limits::make_redis_limiter(conn, state, quiet_log(), std::move(options))) {
    conn.start();
    if (!run_until(io, [&] { return conn.connected(); })) ADD_FAILURE() << "never connected to redis";
  }
  static config::RedisSettings settings_for(const RedisServer& server) {
    config::RedisSettings s;
    s.host = "127.0.0.1";
    s.port = server.port();
    return s;
  }
  Admission admit(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms) {
    return run_admit(io, *limiter, scopes, demand, now_ms);
  }
  void settle(limits::Ticket ticket, std::int64_t tokens, double cost, std::int64_t now_ms) {
    limiter->settle(std::move(ticket), tokens, cost, now_ms);
  }
  const limits::LimitStats& stats() const { return state->stats(); }

  asio::io_context io;
  std::shared_ptr<LocalLimitState> state = limits::make_local_state();
  store::RedisConnection conn;
  std::unique_ptr<limits::Limiter> limiter;
};

// One server for all contract tests, emptied before each.
const RedisServer& flushed_shared_server() {
  static RedisServer server;
  server.command({"FLUSHALL"});
  return server;
}

struct RedisEnv : Replica {
  static constexpr bool kViaRedis = true;
  RedisEnv() : Replica(flushed_shared_server()) {}
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, LimiterContractTest, RedisEnv);

// ---- across replicas -------------------------------------------------------------------------

struct Tally {
  int done = 0;
  int admitted = 0;
  int via_redis = 0;
};

asio::awaitable<void> admit_once(limits::Limiter& limiter, const std::vector<Scope>& scopes, Demand demand,
                                 std::int64_t now_ms, Tally& tally) {
  Result<Admission> a = co_await limiter.admit(scopes, demand, now_ms);
  ++tally.done;
  if (a && a->admitted()) {
    ++tally.admitted;
    if (a->ticket.via_redis) ++tally.via_redis;
  }
}

/// Two replicas on their own threads fire `each` admits at once (all in flight together).
Tally admit_from_two_replicas(const RedisServer& server, const std::vector<Scope>& scopes, const Demand& demand,
                              int each) {
  std::array<Tally, 2> tallies;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < tallies.size(); ++r) {
    threads.emplace_back([&, r] {
      Replica replica(server);
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      for (int i = 0; i < each; ++i) {
        asio::co_spawn(replica.io, admit_once(*replica.limiter, scopes, demand, at(1), tallies[r]), asio::detached);
      }
      EXPECT_TRUE(run_until(replica.io, [&] { return tallies[r].done == each; }, 10s));
    });
  }
  for (auto& t : threads) t.join();
  return {tallies[0].done + tallies[1].done, tallies[0].admitted + tallies[1].admitted,
          tallies[0].via_redis + tallies[1].via_redis};
}

TEST(RedisLimiterTest, TwoReplicasHoldOneBudget) {
  RedisServer server;
  const std::vector<Scope> scopes{{.id = "key:shared", .max_budget = 1.0}};
  const Tally t = admit_from_two_replicas(server, scopes, {.tokens = 10, .cost = 0.02}, 100);
  EXPECT_EQ(t.done, 200);
  EXPECT_EQ(t.admitted, 50);
  EXPECT_EQ(t.via_redis, 50);
}

TEST(RedisLimiterTest, TwoReplicasHoldOneRpmLimit) {
  RedisServer server;
  const std::vector<Scope> scopes{{.id = "team:shared", .rpm = 50}, {.id = "key:x", .tpm = 1'000'000}};
  const Tally t = admit_from_two_replicas(server, scopes, {.tokens = 10}, 100);
  EXPECT_EQ(t.done, 200);
  EXPECT_EQ(t.admitted, 50);
  EXPECT_EQ(t.via_redis, 50);
}

// ---- outages ---------------------------------------------------------------------------------

TEST(RedisLimiterTest, FallsBackToLocalStateWhileRedisIsDownAndReturns) {
  RedisServer server;
  Replica r(server);
  const std::vector<Scope> rpm{{.id = "key:a", .rpm = 2}};
  const std::vector<Scope> slot{{.id = "key:p", .max_parallel = 1}};
  Admission held = r.admit(slot, {}, at(0));
  ASSERT_TRUE(held.admitted());
  EXPECT_TRUE(held.ticket.via_redis);

  server.stop();
  ASSERT_TRUE(run_until(r.io, [&] { return !r.conn.connected(); }));
  const auto started = std::chrono::steady_clock::now();
  Admission local = r.admit(rpm, {}, at(1));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms) << "no waiting on a dead Redis";
  ASSERT_TRUE(local.admitted()) << "Redis down is no reason to refuse";
  EXPECT_FALSE(local.ticket.via_redis);
  EXPECT_TRUE(r.admit(rpm, {}, at(1)).admitted());
  EXPECT_FALSE(r.admit(rpm, {}, at(1)).admitted()) << "limits still hold on this replica";
  EXPECT_EQ(r.stats().redis_fallbacks.load(), 3u);
  EXPECT_TRUE(r.stats().redis_degraded.load());

  r.settle(std::move(held.ticket), 0, 0, at(2));  // a Redis ticket: cannot be sent
  EXPECT_EQ(r.stats().redis_settles_dropped.load(), 1u);
  Admission local_slot = r.admit(slot, {}, at(2));
  ASSERT_TRUE(local_slot.admitted());
  r.settle(std::move(local_slot.ticket), 0, 0, at(3));  // given back to the local state
  EXPECT_TRUE(r.admit(slot, {}, at(3)).admitted());

  server.start();  // empty: no data, no scripts
  ASSERT_TRUE(run_until(r.io, [&] { return r.conn.connected(); }, 5s));
  Admission back = r.admit(slot, {}, at(4));
  ASSERT_TRUE(back.admitted());
  EXPECT_TRUE(back.ticket.via_redis);
  EXPECT_FALSE(r.stats().redis_degraded.load());
  EXPECT_FALSE(r.admit(slot, {}, at(4)).admitted());
  r.settle(std::move(back.ticket), 0, 0, at(5));  // the settle script is loaded again first
  EXPECT_TRUE(r.admit(slot, {}, at(5)).admitted());
  EXPECT_EQ(r.stats().redis_fallbacks.load(), 5u);
}

TEST(RedisLimiterTest, ErrorReplyFallsBackToLocalState) {
  RedisServer server;
  Replica r(server);
  ASSERT_EQ(server.command({"SET", "tollgate:lim:key:a:req", "not a hash"}), "OK");
  Admission a = r.admit({{.id = "key:a", .rpm = 5}}, {}, at(0));
  ASSERT_TRUE(a.admitted());
  EXPECT_FALSE(a.ticket.via_redis);
  EXPECT_EQ(r.stats().redis_fallbacks.load(), 1u);
}

TEST(RedisLimiterTest, SettlesRecoverAfterTheScriptCacheIsFlushed) {
  RedisServer server;
  Replica r(server);
  const std::vector<Scope> slots{{.id = "key:p", .max_parallel = 2}};
  Admission warm = r.admit(slots, {}, at(0));
  ASSERT_TRUE(warm.admitted());
  r.settle(std::move(warm.ticket), 0, 0, at(0));  // the settle script is loaded with this one
  Admission a = r.admit(slots, {}, at(0));
  Admission b = r.admit(slots, {}, at(0));
  ASSERT_TRUE(a.admitted() && b.admitted());
  ASSERT_EQ(server.command({"SCRIPT", "FLUSH"}), "OK");
  r.settle(std::move(a.ticket), 0, 0, at(1));  // NOSCRIPT: lost (its slot waits for the lease)
  ASSERT_TRUE(r.admit({{.id = "key:other", .rpm = 5}}, {}, at(1)).admitted());  // the error reply is in
  r.settle(std::move(b.ticket), 0, 0, at(2));  // loads the script again first
  EXPECT_TRUE(r.admit(slots, {}, at(3)).admitted());
  EXPECT_FALSE(r.admit(slots, {}, at(3)).admitted()) << "the lost settle's slot is still held";
}

// ---- leases and TTLs -------------------------------------------------------------------------

TEST(RedisLimiterTest, SlotsAndReservationsOfACrashedReplicaExpireWithTheLease) {
  RedisServer server;
  const limits::RedisLimiterOptions options{.lease = 2min};
  const std::vector<Scope> slot{{.id = "key:p", .max_parallel = 1}};
  const std::vector<Scope> budget{{.id = "key:b", .max_budget = 1.0}};
  {
    Replica crashed(server, options);
    ASSERT_TRUE(crashed.admit(slot, {}, at(0)).admitted());
    ASSERT_TRUE(crashed.admit(budget, {.cost = 0.8}, at(0)).admitted());
  }  // never settled
  Replica survivor(server, options);
  // Admitted in minute 0: held until the end of that minute plus the lease.
  EXPECT_FALSE(survivor.admit(slot, {}, at(179.999)).admitted());
  EXPECT_FALSE(survivor.admit(budget, {.cost = 0.5}, at(179.999)).admitted());
  EXPECT_TRUE(survivor.admit(slot, {}, at(180)).admitted());
  EXPECT_TRUE(survivor.admit(budget, {.cost = 0.5}, at(180)).admitted());
}

TEST(RedisLimiterTest, EveryKeyHasATtl) {
  RedisServer server;
  Replica r(server);
  const std::int64_t window_end = at(600);
  const std::vector<Scope> scopes{
      {.id = "key:a", .rpm = 10, .tpm = 1000, .max_parallel = 2, .max_budget = 5},
      {.id = "team:t", .max_budget = 5, .window_ms = window_end}};
  Admission a = r.admit(scopes, {.tokens = 10, .cost = 0.1}, at(0));
  ASSERT_TRUE(a.admitted());
  r.settle(std::move(a.ticket), 12, 0.05, at(1));
  ASSERT_TRUE(r.admit(scopes, {.tokens = 10, .cost = 0.1}, at(2)).admitted());

  const auto pttl = [&](const std::string& key) { return std::stoll(server.command({"PTTL", key})); };
  for (const char* suffix : {":req", ":tok"}) {
    const long long ttl = pttl("tollgate:lim:key:a" + std::string(suffix));
    EXPECT_GT(ttl, 59'000) << suffix;
    EXPECT_LE(ttl, 61'000) << suffix;
  }
  const long long parallel = pttl("tollgate:lim:key:a:par");
  EXPECT_GT(parallel, 10 * 60'000);
  EXPECT_LE(parallel, 12 * 60'000);
  const long long no_window = pttl("tollgate:lim:key:a:bn:0");
  EXPECT_GT(no_window, 3'500'000);
  EXPECT_LE(no_window, LocalLimitState::kBudgetIdle.count());
  const long long windowed = pttl("tollgate:lim:team:t:bn:" + std::to_string(window_end));
  EXPECT_GT(windowed, 0);
  EXPECT_LE(windowed, window_end - at(2) + 11 * 60'000) << "window end + lease + 1 minute";
  EXPECT_EQ(server.command({"DBSIZE"}), "5") << "no other keys";
}

}  // namespace
}  // namespace tollgate::testing
