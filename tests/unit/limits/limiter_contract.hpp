#pragma once
// The rules every limits::Limiter keeps (docs/limits.md), written once as a typed test pattern and
// instantiated for the in-process limiter (unit/limits/limiter_test.cpp) and for the Redis one
// against a real redis-server (integration/limits_redis_test.cpp).
//
// An Env is default-constructed for each test with empty state and provides
//   limits::Admission admit(const std::vector<limits::Scope>&, const limits::Demand&, std::int64_t now_ms);
//   void settle(limits::Ticket, std::int64_t tokens, double cost, std::int64_t now_ms);
//   static constexpr bool kViaRedis;  // what admitted tickets must say
// Time is a fake clock: kT0 is a minute boundary, at(s) is kT0 + s seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "limits/rules.hpp"
#include "tollgate/limits/limiter.hpp"

namespace tollgate::testing {

namespace limits = tollgate::limits;
using limits::Admission;
using limits::Demand;
using limits::LimitKind;
using limits::Scope;
using std::chrono::milliseconds;

inline constexpr std::int64_t kT0 = 1'699'999'980'000;  // unix ms, a minute boundary
inline std::int64_t at(double seconds) { return kT0 + std::llround(seconds * 1000); }

/// Runs `limiter.admit` on `io` to completion (Redis limiters need the loop for their replies).
inline Admission run_admit(boost::asio::io_context& io, limits::Limiter& limiter, const std::vector<Scope>& scopes,
                           const Demand& demand, std::int64_t now_ms) {
  std::optional<Result<Admission>> out;
  boost::asio::co_spawn(io, limiter.admit(scopes, demand, now_ms),
                        [&](std::exception_ptr e, Result<Admission> r) {
                          if (e) std::rethrow_exception(e);
                          out.emplace(std::move(r));
                        });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!out && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(milliseconds(10));
  }
  if (!out || !*out) {
    ADD_FAILURE() << "admit did not complete or failed";
    return {};
  }
  return std::move(**out);
}

template <class Env>
class LimiterContractTest : public ::testing::Test {
 protected:
  Admission admit(const std::vector<Scope>& scopes, Demand demand, std::int64_t now_ms) {
    Admission a = env_.admit(scopes, demand, now_ms);
    // Scopes without limits are admitted without asking any store.
    const bool limited = std::any_of(scopes.begin(), scopes.end(), limits::detail::limited);
    if (a.admitted() && limited) {
      EXPECT_EQ(a.ticket.via_redis, Env::kViaRedis) << "answered by the wrong store";
    }
    return a;
  }
  void settle(limits::Ticket& ticket, std::int64_t tokens, double cost, std::int64_t now_ms) {
    env_.settle(std::move(ticket), tokens, cost, now_ms);
  }
  /// How many of `n` admits of `scopes` at `now_ms` get in.
  int admitted_of(int n, const std::vector<Scope>& scopes, Demand demand, std::int64_t now_ms) {
    int in = 0;
    for (int i = 0; i < n; ++i) in += admit(scopes, demand, now_ms).admitted() ? 1 : 0;
    return in;
  }

  Env env_;
};

TYPED_TEST_SUITE_P(LimiterContractTest);

TYPED_TEST_P(LimiterContractTest, RpmAdmitsUpToTheLimitThenSaysWhenThereIsRoom) {
  const std::vector<Scope> scopes{{.id = "key:a", .rpm = 3}};
  EXPECT_EQ(this->admitted_of(1, scopes, {}, at(10.2)), 1);
  EXPECT_EQ(this->admitted_of(2, scopes, {}, at(20)), 2);
  Admission denied = this->admit(scopes, {}, at(30));
  ASSERT_FALSE(denied.admitted());
  EXPECT_EQ(denied.denial->kind, LimitKind::kRpm);
  EXPECT_EQ(denied.denial->scope, 0u);
  EXPECT_EQ(denied.denial->limit, 3);
  EXPECT_EQ(denied.denial->retry_after, milliseconds(40'000)) << "the request of second 10 leaves at 70 s";
  EXPECT_FALSE(denied.ticket.valid);
  EXPECT_FALSE(this->admit(scopes, {}, at(69.999)).admitted());
  EXPECT_TRUE(this->admit(scopes, {}, at(70)).admitted());
}

TYPED_TEST_P(LimiterContractTest, RpmHasNoBurstAtAMinuteBoundary) {
  const std::vector<Scope> scopes{{.id = "key:a", .rpm = 10}};
  EXPECT_EQ(this->admitted_of(10, scopes, {}, at(59.5)), 10);
  Admission next_minute = this->admit(scopes, {}, at(60.5));
  ASSERT_FALSE(next_minute.admitted());
  EXPECT_EQ(next_minute.denial->retry_after, milliseconds(58'500));
  EXPECT_EQ(this->admitted_of(5, scopes, {}, at(118.9)), 0);
  EXPECT_EQ(this->admitted_of(11, scopes, {}, at(119.5)), 10) << "60 s later the whole limit is back";
}

TYPED_TEST_P(LimiterContractTest, TpmCountsTheDemandAndSettleReplacesItWithTheRealCount) {
  const std::vector<Scope> scopes{{.id = "key:a", .tpm = 1000}};
  Admission first = this->admit(scopes, {.tokens = 600}, at(1));
  ASSERT_TRUE(first.admitted());
  Admission second = this->admit(scopes, {.tokens = 600}, at(2));
  ASSERT_FALSE(second.admitted());
  EXPECT_EQ(second.denial->kind, LimitKind::kTpm);
  EXPECT_EQ(second.denial->limit, 1000);
  EXPECT_EQ(second.denial->retry_after, milliseconds(59'000));

  this->settle(first.ticket, 100, 0, at(3));  // used far less than reserved
  Admission third = this->admit(scopes, {.tokens = 600}, at(4));
  ASSERT_TRUE(third.admitted());
  EXPECT_EQ(third.headroom.remaining_tokens, 300);

  this->settle(third.ticket, 850, 0, at(5));  // and more than reserved: the window holds 950
  EXPECT_FALSE(this->admit(scopes, {.tokens = 100}, at(6)).admitted());
  EXPECT_TRUE(this->admit(scopes, {.tokens = 50}, at(6)).admitted());
}

TYPED_TEST_P(LimiterContractTest, TpmSettleAfterItsSecondLeftTheWindowChangesNothing) {
  const std::vector<Scope> scopes{{.id = "key:a", .tpm = 1000}};
  Admission early = this->admit(scopes, {.tokens = 100}, at(0));
  ASSERT_TRUE(early.admitted());
  ASSERT_TRUE(this->admit(scopes, {.tokens = 300}, at(30)).admitted());
  this->settle(early.ticket, 5000, 0, at(61));  // its second is gone: the real count lands nowhere
  EXPECT_TRUE(this->admit(scopes, {.tokens = 700}, at(61)).admitted());
}

TYPED_TEST_P(LimiterContractTest, TpmDemandAboveTheLimitIsAdmittedIntoAnEmptyWindow) {
  const std::vector<Scope> scopes{{.id = "key:a", .tpm = 100}};
  ASSERT_TRUE(this->admit(scopes, {.tokens = 500}, at(0.5)).admitted());
  Admission blocked = this->admit(scopes, {.tokens = 500}, at(1));
  ASSERT_FALSE(blocked.admitted());
  EXPECT_EQ(blocked.denial->retry_after, milliseconds(59'000));
  EXPECT_FALSE(this->admit(scopes, {.tokens = 1}, at(59.9)).admitted());
  EXPECT_TRUE(this->admit(scopes, {.tokens = 500}, at(60)).admitted()) << "no lockout";
}

TYPED_TEST_P(LimiterContractTest, ParallelSlotIsReleasedBySettle) {
  const std::vector<Scope> scopes{{.id = "key:a", .max_parallel = 2}};
  Admission one = this->admit(scopes, {}, at(0));
  Admission two = this->admit(scopes, {}, at(0));
  ASSERT_TRUE(one.admitted() && two.admitted());
  Admission three = this->admit(scopes, {}, at(1));
  ASSERT_FALSE(three.admitted());
  EXPECT_EQ(three.denial->kind, LimitKind::kParallel);
  EXPECT_EQ(three.denial->limit, 2);
  EXPECT_EQ(three.denial->retry_after, milliseconds(1000));
  this->settle(one.ticket, 0, 0, at(2));
  EXPECT_TRUE(this->admit(scopes, {}, at(2)).admitted());
  EXPECT_FALSE(this->admit(scopes, {}, at(2)).admitted());
}

TYPED_TEST_P(LimiterContractTest, SettlingAnInvalidOrMovedFromTicketIsANoOp) {
  const std::vector<Scope> scopes{{.id = "key:a", .max_parallel = 1, .max_budget = 1.0}};
  limits::Ticket empty;
  this->settle(empty, 100, 5.0, at(0));
  Admission first = this->admit(scopes, {.cost = 0.1}, at(0));
  ASSERT_TRUE(first.admitted());
  limits::Ticket held = std::move(first.ticket);
  EXPECT_FALSE(first.ticket.valid) << "a moved-from ticket is invalid";
  this->settle(held, 0, 0.1, at(1));
  this->settle(held, 0, 0.1, at(1));  // twice: the second finds an invalid ticket
  Admission second = this->admit(scopes, {.cost = 0.1}, at(2));
  ASSERT_TRUE(second.admitted());
  EXPECT_DOUBLE_EQ(second.spend[0], 0.1) << "cost settled once";
  EXPECT_FALSE(this->admit(scopes, {.cost = 0.1}, at(2)).admitted()) << "the slot was released once";
}

TYPED_TEST_P(LimiterContractTest, BudgetReservesWorstCaseCostUntilSettled) {
  const std::vector<Scope> scopes{{.id = "key:a", .max_budget = 1.0}};
  Admission a = this->admit(scopes, {.cost = 0.4}, at(0));
  Admission b = this->admit(scopes, {.cost = 0.4}, at(0));
  ASSERT_TRUE(a.admitted() && b.admitted());
  EXPECT_DOUBLE_EQ(b.spend[0], 0.0) << "spend is settled spend; reservations are not spend";
  Admission c = this->admit(scopes, {.cost = 0.4}, at(0));
  ASSERT_FALSE(c.admitted());
  EXPECT_EQ(c.denial->kind, LimitKind::kBudget);
  EXPECT_DOUBLE_EQ(c.denial->spend, 0.8);
  EXPECT_DOUBLE_EQ(c.denial->max_budget, 1.0);

  this->settle(a.ticket, 10, 0.1, at(1));  // settled 0.1 + reserved 0.4 + 0.4 fits
  Admission d = this->admit(scopes, {.cost = 0.4}, at(1));
  ASSERT_TRUE(d.admitted());
  EXPECT_DOUBLE_EQ(d.spend[0], 0.1);
}

TYPED_TEST_P(LimiterContractTest, BudgetLetsALoneRequestUseWhatIsLeftThenRefuses) {
  const std::vector<Scope> scopes{{.id = "key:a", .max_budget = 1.0, .spend_seed = 0.9}};
  Admission big = this->admit(scopes, {.cost = 0.5}, at(0));
  ASSERT_TRUE(big.admitted()) << "nothing reserved and 0.1 left: a lone request may go";
  EXPECT_DOUBLE_EQ(big.spend[0], 0.9);
  EXPECT_FALSE(this->admit(scopes, {.cost = 0.01}, at(0)).admitted()) << "0.9 + 0.5 + 0.01 > 1";
  this->settle(big.ticket, 0, 0.3, at(1));
  Admission over = this->admit(scopes, {.cost = 0.0}, at(2));
  ASSERT_FALSE(over.admitted()) << "settled ≥ max_budget refuses even a free request";
  EXPECT_DOUBLE_EQ(over.denial->spend, 1.2);
  EXPECT_DOUBLE_EQ(over.denial->max_budget, 1.0);
}

TYPED_TEST_P(LimiterContractTest, BudgetWindowChangeStartsANewCounter) {
  const std::int64_t w1 = at(3600);
  const std::int64_t w2 = at(7200);
  const std::vector<Scope> first{{.id = "team:t", .max_budget = 1.0, .window_ms = w1}};
  Admission a = this->admit(first, {.cost = 0.5}, at(10));
  Admission late = this->admit(first, {.cost = 0.2}, at(10));
  ASSERT_TRUE(a.admitted() && late.admitted());
  this->settle(a.ticket, 0, 0.6, at(20));
  EXPECT_DOUBLE_EQ(this->admit(first, {}, at(30)).spend[0], 0.6);

  const std::vector<Scope> second{{.id = "team:t", .max_budget = 1.0, .window_ms = w2}};
  Admission fresh = this->admit(second, {.cost = 0.1}, at(3601));
  ASSERT_TRUE(fresh.admitted());
  EXPECT_DOUBLE_EQ(fresh.spend[0], 0.0);
  this->settle(late.ticket, 0, 0.2, at(3602));  // belongs to the old window: goes nowhere here
  EXPECT_DOUBLE_EQ(this->admit(second, {}, at(3603)).spend[0], 0.0);
}

TYPED_TEST_P(LimiterContractTest, SeedStartsACounterAndOnlyRaisesItLater) {
  std::vector<Scope> scopes{{.id = "key:a", .max_budget = 10.0, .spend_seed = 3.0}};
  Admission a = this->admit(scopes, {.cost = 1.0}, at(0));
  ASSERT_TRUE(a.admitted());
  EXPECT_DOUBLE_EQ(a.spend[0], 3.0);
  this->settle(a.ticket, 0, 1.0, at(1));
  EXPECT_DOUBLE_EQ(this->admit(scopes, {}, at(2)).spend[0], 4.0) << "the seed is not added again";
  scopes[0].spend_seed = 6.5;  // the database knows of spend the counter missed
  EXPECT_DOUBLE_EQ(this->admit(scopes, {}, at(3)).spend[0], 6.5);
  scopes[0].spend_seed = 0;
  EXPECT_DOUBLE_EQ(this->admit(scopes, {}, at(4)).spend[0], 6.5) << "a lower seed never lowers it";
}

TYPED_TEST_P(LimiterContractTest, NothingIsChargedWhenAnyScopeRefuses) {
  const Scope key{.id = "key:a", .rpm = 5, .tpm = 1000, .max_parallel = 2, .max_budget = 1.0};
  const Scope user{.id = "user:u", .rpm = 1};
  const std::vector<Scope> both{key, user};
  const std::vector<Scope> key_only{key};
  ASSERT_TRUE(this->admit(both, {.tokens = 400, .cost = 0.4}, at(0)).admitted());
  Admission refused = this->admit(both, {.tokens = 400, .cost = 0.4}, at(1));
  ASSERT_FALSE(refused.admitted());
  EXPECT_EQ(refused.denial->scope, 1u);
  EXPECT_EQ(refused.denial->kind, LimitKind::kRpm);

  // The key still has one request, 400 tokens, one slot and 0.4 reserved.
  Admission second = this->admit(key_only, {.tokens = 600, .cost = 0.6}, at(2));
  ASSERT_TRUE(second.admitted());
  EXPECT_EQ(second.headroom.remaining_requests, 3);
  EXPECT_EQ(second.headroom.remaining_tokens, 0);
  Admission third = this->admit(key_only, {}, at(3));
  ASSERT_FALSE(third.admitted());
  EXPECT_EQ(third.denial->kind, LimitKind::kParallel);
}

TYPED_TEST_P(LimiterContractTest, FirstRefusingScopeInTheGivenOrderIsReported) {
  const std::vector<Scope> scopes{{.id = "key:a", .rpm = 100},
                                  {.id = "team:t", .max_budget = 1.0, .spend_seed = 2.0},
                                  {.id = "user:u", .rpm = 0},
                                  {.id = "org:o", .tpm = 0}};
  Admission a = this->admit(scopes, {.tokens = 1}, at(0));
  ASSERT_FALSE(a.admitted());
  EXPECT_EQ(a.denial->scope, 1u);
  EXPECT_EQ(a.denial->kind, LimitKind::kBudget);
  EXPECT_DOUBLE_EQ(a.denial->spend, 2.0);
  EXPECT_EQ(this->admit({scopes[0]}, {}, at(0)).headroom.remaining_requests, 99) << "key:a was not charged";
}

TYPED_TEST_P(LimiterContractTest, ZeroLimitsRefuseEverything) {
  for (const Scope& s : {Scope{.id = "a", .rpm = 0}, Scope{.id = "b", .tpm = 0}, Scope{.id = "c", .max_parallel = 0},
                         Scope{.id = "d", .max_budget = 0}}) {
    Admission a = this->admit({s}, {}, at(0));
    EXPECT_FALSE(a.admitted()) << s.id;
  }
  Admission rpm = this->admit({Scope{.id = "a", .rpm = 0}}, {}, at(0));
  ASSERT_FALSE(rpm.admitted());
  EXPECT_EQ(rpm.denial->retry_after, milliseconds(60'000));
}

TYPED_TEST_P(LimiterContractTest, HeadroomReportsTheTightestScopes) {
  const std::vector<Scope> scopes{{.id = "key:a", .rpm = 10, .tpm = 1000, .spend_seed = 1.5},
                                  {.id = "team:t", .rpm = 5, .tpm = 100'000, .max_budget = 50, .spend_seed = 2.5}};
  Admission first = this->admit(scopes, {.tokens = 100}, at(10.2));
  ASSERT_TRUE(first.admitted());
  EXPECT_EQ(first.headroom.limit_requests, 5);
  EXPECT_EQ(first.headroom.remaining_requests, 4);
  EXPECT_EQ(first.headroom.limit_tokens, 1000);
  EXPECT_EQ(first.headroom.remaining_tokens, 900);
  EXPECT_EQ(first.headroom.reset, milliseconds(59'800)) << "second 10 leaves at 70 s";
  ASSERT_EQ(first.spend.size(), 2u);
  EXPECT_DOUBLE_EQ(first.spend[0], 1.5) << "no budget: the database's spend as given";
  EXPECT_DOUBLE_EQ(first.spend[1], 2.5);

  Admission second = this->admit(scopes, {.tokens = 100}, at(20.5));
  EXPECT_EQ(second.headroom.remaining_requests, 3);
  EXPECT_EQ(second.headroom.remaining_tokens, 800);
  EXPECT_EQ(second.headroom.reset, milliseconds(49'500)) << "the oldest charge still decides";

  Admission none = this->admit({Scope{.id = "key:b", .max_parallel = 5}}, {}, at(21));
  ASSERT_TRUE(none.admitted());
  EXPECT_EQ(none.headroom.limit_requests, limits::kNoLimit);
  EXPECT_EQ(none.headroom.limit_tokens, limits::kNoLimit);
}

TYPED_TEST_P(LimiterContractTest, ScopesWithoutLimitsAreAlwaysAdmitted) {
  const std::vector<Scope> scopes{{.id = "key:a", .spend_seed = 7.0}};
  for (int i = 0; i < 3; ++i) {
    Admission a = this->admit(scopes, {.tokens = 1'000'000, .cost = 1e6}, at(i));
    ASSERT_TRUE(a.admitted());
    EXPECT_DOUBLE_EQ(a.spend[0], 7.0);
    this->settle(a.ticket, 5, 1.0, at(i));
  }
  EXPECT_TRUE(this->admit({}, {}, at(0)).admitted()) << "no scopes at all";
}

TYPED_TEST_P(LimiterContractTest, SubMicroDollarBudgetAdmitsUntilSpent) {
  // max_budget: 1e-7 (LiteLLM users' tests) used to round to zero and refuse every call.
  const std::vector<Scope> scopes{{.id = "key:tiny", .max_budget = 1e-7}};
  Admission first = this->admit(scopes, {.cost = 4e-8}, at(0));
  ASSERT_TRUE(first.admitted());
  Admission second = this->admit(scopes, {.cost = 4e-8}, at(0));
  ASSERT_TRUE(second.admitted()) << "8e-8 reserved of 1e-7";
  EXPECT_FALSE(this->admit(scopes, {.cost = 4e-8}, at(0)).admitted()) << "1.2e-7 would pass the budget";
  this->settle(first.ticket, 0, 4e-8, at(1));
  this->settle(second.ticket, 0, 7e-8, at(1));
  Admission over = this->admit(scopes, {}, at(2));
  ASSERT_FALSE(over.admitted()) << "spent 1.1e-7 of 1e-7";
  EXPECT_NEAR(over.denial->spend, 1.1e-7, 1e-12);
}

TYPED_TEST_P(LimiterContractTest, LargeBudgetsKeepMicroDollarPrecision) {
  const std::vector<Scope> scopes{{.id = "org:o", .max_budget = 2'000'000.0, .spend_seed = 1'999'999.999'998}};
  Admission a = this->admit(scopes, {.cost = 0.000'001}, at(0));
  ASSERT_TRUE(a.admitted());
  Admission b = this->admit(scopes, {.cost = 0.000'001}, at(0));
  ASSERT_TRUE(b.admitted()) << "exactly at the budget";
  EXPECT_FALSE(this->admit(scopes, {.cost = 0.000'001}, at(0)).admitted());
  this->settle(a.ticket, 0, 0.000'001, at(1));
  this->settle(b.ticket, 0, 0.000'001, at(1));
  Admission over = this->admit(scopes, {}, at(2));
  ASSERT_FALSE(over.admitted());
  EXPECT_DOUBLE_EQ(over.denial->spend, 2'000'000.0);
}

REGISTER_TYPED_TEST_SUITE_P(LimiterContractTest, RpmAdmitsUpToTheLimitThenSaysWhenThereIsRoom,
                            RpmHasNoBurstAtAMinuteBoundary, TpmCountsTheDemandAndSettleReplacesItWithTheRealCount,
                            TpmSettleAfterItsSecondLeftTheWindowChangesNothing,
                            TpmDemandAboveTheLimitIsAdmittedIntoAnEmptyWindow, ParallelSlotIsReleasedBySettle,
                            SettlingAnInvalidOrMovedFromTicketIsANoOp, BudgetReservesWorstCaseCostUntilSettled,
                            BudgetLetsALoneRequestUseWhatIsLeftThenRefuses, BudgetWindowChangeStartsANewCounter,
                            SeedStartsACounterAndOnlyRaisesItLater, NothingIsChargedWhenAnyScopeRefuses,
                            FirstRefusingScopeInTheGivenOrderIsReported, ZeroLimitsRefuseEverything,
                            HeadroomReportsTheTightestScopes, ScopesWithoutLimitsAreAlwaysAdmitted,
                            LargeBudgetsKeepMicroDollarPrecision, SubMicroDollarBudgetAdmitsUntilSpent);

}  // namespace tollgate::testing
