// The in-process limiter: the shared contract (limiter_contract.hpp) on a fake clock, plus what
// only the local state has: the sliding window's buckets, eviction, counters and concurrency.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "limits/rules.hpp"
#include "tollgate/limits/local_state.hpp"
#include "unit/limits/limiter_contract.hpp"

namespace tollgate::testing {
namespace {

using limits::LocalLimitState;
using limits::detail::MinuteWindow;

struct LocalEnv {
  static constexpr bool kViaRedis = false;
  std::shared_ptr<LocalLimitState> state = limits::make_local_state();
  std::unique_ptr<limits::Limiter> limiter = limits::make_local_limiter(state);
  boost::asio::io_context io;

  Admission admit(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms) {
    return run_admit(io, *limiter, scopes, demand, now_ms);
  }
  void settle(limits::Ticket ticket, std::int64_t tokens, double cost, std::int64_t now_ms) {
    limiter->settle(std::move(ticket), tokens, cost, now_ms);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Local, LimiterContractTest, LocalEnv);

// ---- the sliding window ----------------------------------------------------------------------

TEST(MinuteWindowTest, ChargeCountsForTheRestOfItsSecondPlusFiftyNine) {
  MinuteWindow w;
  w.add(at(5.9), 3);
  EXPECT_EQ(w.sum(at(5.9)), 3);
  EXPECT_EQ(w.sum(at(64.999)), 3);
  EXPECT_EQ(w.sum(at(65)), 0);
  EXPECT_TRUE(w.idle(at(65)));
}

TEST(MinuteWindowTest, EarlierSecondArrivingLateIsKeptInOrder) {
  MinuteWindow w;
  w.add(at(10), 1);
  w.add(at(12), 4);
  w.add(at(11), 2);  // another thread read its clock a moment before
  EXPECT_EQ(w.sum(at(12)), 7);
  EXPECT_EQ(w.ms_until_at_most(at(12), 6), 58'000);
  EXPECT_EQ(w.ms_until_at_most(at(12), 4), 59'000);
  EXPECT_EQ(w.ms_until_at_most(at(12), 0), 60'000);
  EXPECT_EQ(w.ms_until_at_most(at(12), -1), 60'000) << "never: a whole window";
  EXPECT_EQ(w.ms_until_oldest_leaves(at(12)), 58'000);
}

TEST(MinuteWindowTest, CorrectionsStayInTheirSecondAndNeverGoNegative) {
  MinuteWindow w;
  w.add(at(1), 100);
  w.add(at(2), 100);
  w.correct(at(1), at(30), -250);
  EXPECT_EQ(w.sum(at(30)), 100);
  EXPECT_EQ(w.ms_until_oldest_leaves(at(30)), 32'000) << "the emptied second is gone";
  w.correct(at(3), at(30), 40);  // a second with no charge yet (a zero-token estimate)
  EXPECT_EQ(w.sum(at(30)), 140);
  w.correct(at(4), at(30), -5);  // nothing there to take from
  EXPECT_EQ(w.sum(at(30)), 140);
  w.correct(at(2), at(62), 1000);  // left the window
  EXPECT_EQ(w.sum(at(62)), 40);
}

TEST(MoneyTest, NanoDollarsRoundAndClamp) {
  using limits::detail::to_nanos;
  EXPECT_EQ(to_nanos(0.02), 20'000'000);
  EXPECT_EQ(to_nanos(0.000'000'1), 100) << "LiteLLM users' max_budget: 1e-7 is a budget";
  EXPECT_EQ(to_nanos(0.000'000'000'4), 1) << "a positive amount is never zero";
  EXPECT_EQ(to_nanos(0.000'000'001'6), 2);
  EXPECT_EQ(to_nanos(0), 0);
  EXPECT_EQ(to_nanos(-3), 0);
  EXPECT_EQ(to_nanos(std::nan("")), 0);
  EXPECT_EQ(to_nanos(1e300), (std::int64_t{1} << 53) - 1);
  std::int64_t sum = 0;
  for (int i = 0; i < 50; ++i) sum += to_nanos(0.02);
  EXPECT_EQ(sum, to_nanos(1.0)) << "fifty 0.02 requests fill a 1.0 budget exactly";
}

// ---- state, eviction, counters ---------------------------------------------------------------

class LocalStateTest : public ::testing::Test {
 protected:
  Admission admit(const std::vector<Scope>& scopes, Demand demand, std::int64_t now_ms) {
    return state_->admit(scopes, demand, now_ms);
  }
  std::shared_ptr<LocalLimitState> state_ = limits::make_local_state();
};

TEST_F(LocalStateTest, IdleEntriesAreEvicted) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(admit({{.id = "end_user:" + std::to_string(i), .rpm = 10, .tpm = 100}}, {.tokens = 5}, at(0)).admitted());
  }
  EXPECT_EQ(state_->entries(), 100u);
  state_->evict_idle(at(59.9));
  EXPECT_EQ(state_->entries(), 100u) << "still in the window";
  state_->evict_idle(at(60));
  EXPECT_EQ(state_->entries(), 0u);
  EXPECT_EQ(state_->stats().evicted.load(), 100u);
}

TEST_F(LocalStateTest, EntriesHoldingASlotStayUntilSettled) {
  Admission held = admit({{.id = "key:a", .max_parallel = 3}}, {}, at(0));
  ASSERT_TRUE(held.admitted());
  state_->evict_idle(at(3600));
  EXPECT_EQ(state_->entries(), 1u);
  state_->settle(held.ticket, 0, 0, at(3600));
  state_->evict_idle(at(3600));
  EXPECT_EQ(state_->entries(), 0u);
}

TEST_F(LocalStateTest, BudgetCountersGoWhenTheirWindowEndsOrWhenIdle) {
  const std::vector<Scope> windowed{{.id = "team:t", .max_budget = 10, .window_ms = at(600)}};
  const std::vector<Scope> forever{{.id = "key:k", .max_budget = 10, .spend_seed = 1}};
  Admission reserved = admit(windowed, {.cost = 1}, at(0));
  Admission settled = admit(forever, {.cost = 1}, at(0));
  ASSERT_TRUE(reserved.admitted() && settled.admitted());
  state_->settle(settled.ticket, 0, 2, at(1));  // settled 3, nothing reserved

  state_->evict_idle(at(599));
  EXPECT_EQ(state_->entries(), 2u);
  state_->evict_idle(at(600));
  EXPECT_EQ(state_->entries(), 1u) << "the ended window went, reservation and all";
  state_->settle(reserved.ticket, 0, 1, at(601));  // finds nothing: a no-op

  const std::int64_t idle = LocalLimitState::kBudgetIdle.count();
  state_->evict_idle(at(1) + idle - 1);
  EXPECT_DOUBLE_EQ(admit(forever, {}, at(1) + idle - 1).spend[0], 3.0) << "touched: idle time starts again";
  state_->evict_idle(at(1) + 2 * idle);
  EXPECT_EQ(state_->entries(), 0u);
  EXPECT_DOUBLE_EQ(admit(forever, {}, at(1) + 2 * idle).spend[0], 1.0) << "seeded again from the database";
}

TEST_F(LocalStateTest, AdmitsSweepTheShardsTheyTouch) {
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(admit({{.id = "old:" + std::to_string(i), .rpm = 1}}, {}, at(0)).admitted());
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(admit({{.id = "new:" + std::to_string(i), .rpm = 1}}, {}, at(120)).admitted());
  EXPECT_EQ(state_->entries(), 200u) << "every shard was touched and swept";
}

TEST_F(LocalStateTest, SweepIfDueSweepsAtMostEveryInterval) {
  ASSERT_TRUE(admit({{.id = "a", .rpm = 1}}, {}, at(0)).admitted());
  const std::int64_t first = at(59.5);
  state_->sweep_if_due(first);  // due (the first call), but "a" is still in its window
  state_->sweep_if_due(at(60));  // "a" is idle now, but the last sweep was 0.5 s ago
  state_->sweep_if_due(first + LocalLimitState::kSweepInterval.count() - 1);
  EXPECT_EQ(state_->entries(), 1u);
  state_->sweep_if_due(first + LocalLimitState::kSweepInterval.count());
  EXPECT_EQ(state_->entries(), 0u);
}

TEST_F(LocalStateTest, DeniedAdmitsCreateNothing) {
  EXPECT_FALSE(admit({{.id = "a", .rpm = 0}, {.id = "b", .rpm = 5}}, {}, at(0)).admitted());
  EXPECT_FALSE(admit({{.id = "b", .rpm = 5}, {.id = "a", .rpm = 0}}, {}, at(0)).admitted());
  EXPECT_EQ(state_->entries(), 0u);
}

TEST_F(LocalStateTest, CountsAdmissionsAndDenialsByKind) {
  ASSERT_TRUE(admit({{.id = "a", .rpm = 1}}, {}, at(0)).admitted());
  EXPECT_FALSE(admit({{.id = "a", .rpm = 1}}, {}, at(0)).admitted());
  EXPECT_FALSE(admit({{.id = "b", .tpm = 0}}, {}, at(0)).admitted());
  EXPECT_FALSE(admit({{.id = "c", .max_parallel = 0}}, {}, at(0)).admitted());
  EXPECT_FALSE(admit({{.id = "d", .max_budget = 0}}, {}, at(0)).admitted());
  EXPECT_FALSE(admit({{.id = "d", .max_budget = 0}}, {}, at(0)).admitted());
  const limits::LimitStats& s = state_->stats();
  EXPECT_EQ(s.admitted.load(), 1u);
  EXPECT_EQ(s.denials(LimitKind::kRpm), 1u);
  EXPECT_EQ(s.denials(LimitKind::kTpm), 1u);
  EXPECT_EQ(s.denials(LimitKind::kParallel), 1u);
  EXPECT_EQ(s.denials(LimitKind::kBudget), 2u);
}

// ---- concurrency -----------------------------------------------------------------------------

constexpr int kThreads = 8;

/// Runs `body(limiter, io, thread index)` on kThreads threads at once, each with its own limiter
/// over `state` (as the workers of one process).
template <class Body>
void on_threads(const std::shared_ptr<LocalLimitState>& state, Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<limits::Limiter> limiter = limits::make_local_limiter(state);
      boost::asio::io_context io;
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      body(*limiter, io, t);
    });
  }
  for (auto& th : threads) th.join();
}

TEST(LocalConcurrencyTest, BudgetForFiftyAdmitsExactlyFiftyOfTwoHundred) {
  auto state = limits::make_local_state();
  const std::vector<Scope> scopes{{.id = "key:k", .rpm = 1000, .max_budget = 1.0}, {.id = "team:t", .max_budget = 5}};
  std::atomic<int> admitted{0};
  on_threads(state, [&](limits::Limiter& limiter, boost::asio::io_context& io, int) {
    for (int i = 0; i < 200 / kThreads; ++i) {
      Admission a = run_admit(io, limiter, scopes, {.tokens = 10, .cost = 0.02}, at(1));
      if (!a.admitted()) continue;
      admitted.fetch_add(1);
      if (i % 2 == 0) limiter.settle(std::move(a.ticket), 10, 0.02, at(2));  // half settle at the estimate
    }
  });
  EXPECT_EQ(admitted.load(), 50);
  EXPECT_EQ(state->stats().denials(LimitKind::kBudget), 150u);
}

TEST(LocalConcurrencyTest, MaxParallelFiveNeverHasMoreThanFiveInFlight) {
  auto state = limits::make_local_state();
  const std::vector<Scope> scopes{{.id = "key:k", .max_parallel = 5}, {.id = "user:u", .rpm = 1'000'000}};
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  std::atomic<int> admitted{0};
  on_threads(state, [&](limits::Limiter& limiter, boost::asio::io_context& io, int) {
    for (int i = 0; i < 500; ++i) {
      Admission a = run_admit(io, limiter, scopes, {}, at(1));
      if (!a.admitted()) continue;
      admitted.fetch_add(1);
      const int now = in_flight.fetch_add(1) + 1;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::yield();
      in_flight.fetch_sub(1);
      limiter.settle(std::move(a.ticket), 0, 0, at(1));
    }
  });
  EXPECT_LE(most.load(), 5);
  EXPECT_GE(most.load(), 1);
  EXPECT_GT(admitted.load(), 0);
  int after = 0;  // every slot came back
  for (int i = 0; i < 6; ++i) after += state->admit(scopes, {}, at(2)).admitted() ? 1 : 0;
  EXPECT_EQ(after, 5);
}

TEST(LocalConcurrencyTest, AtomicAcrossScopesUnderContention) {
  // Two scopes with different room, hit in both orders: each admission is charged on both or on
  // neither, so the tighter one decides and the other ends exactly as full.
  auto state = limits::make_local_state();
  const Scope a{.id = "key:a", .rpm = 30};
  const Scope b{.id = "team:b", .rpm = 1000, .max_budget = 0.6};
  std::atomic<int> admitted{0};
  on_threads(state, [&](limits::Limiter& limiter, boost::asio::io_context& io, int t) {
    const std::vector<Scope> scopes = t % 2 == 0 ? std::vector<Scope>{a, b} : std::vector<Scope>{b, a};
    for (int i = 0; i < 25; ++i) admitted += run_admit(io, limiter, scopes, {.cost = 0.01}, at(1)).admitted() ? 1 : 0;
  });
  EXPECT_EQ(admitted.load(), 30);
  Admission b_alone = state->admit({b}, {}, at(1));
  ASSERT_TRUE(b_alone.admitted());
  EXPECT_EQ(b_alone.headroom.remaining_requests, 1000 - 31);
}

}  // namespace
}  // namespace tollgate::testing
