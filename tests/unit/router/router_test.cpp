// Router rules on a fake clock (every call takes the time) with seeded randomness. Distribution
// checks draw thousands of picks and compare shares with a tolerance, never a single sample.
#include "tollgate/router/router.hpp"

#include <atomic>
#include <map>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tollgate::router {
namespace {

using namespace std::chrono_literals;
using config::Deployment;
using config::ErrorClass;
using config::RoutingStrategy;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a fixed "now", unix ms
constexpr int kDraws = 20'000;

Deployment dep(std::string id, std::string group = "g") {
  Deployment d;
  d.id = std::move(id);
  d.model_name = std::move(group);
  d.provider = "openai";
  d.model = "m-" + d.id;
  d.api_base = "http://127.0.0.1:9/v1";
  return d;
}

struct Fixture {
  explicit Fixture(std::vector<Deployment> deployments, config::RouterSettings settings = {}) {
    cfg.model_list = std::move(deployments);
    cfg.router = std::move(settings);
    router = std::make_unique<Router>(cfg);
  }
  Target target(std::string_view name = "g") const { return *router->resolve(name); }
  PickResult pick(std::int64_t now = kT0, PickInput in = {}, std::string_view group = "g") {
    return router->pick(target(group), in, now, rng);
  }
  std::string pick_id(std::int64_t now = kT0, PickInput in = {}) {
    auto r = pick(now, in);
    return r.route ? r.route->deployment->id : "none";
  }
  std::map<std::string, int> shares(std::int64_t now = kT0, PickInput in = {}) {
    std::map<std::string, int> count;
    for (int i = 0; i < kDraws; ++i) ++count[pick_id(now, in)];
    return count;
  }
  const Route& route(std::string_view id) const {
    for (const auto& r : router->routes()) {
      if (r.deployment->id == id) return r;
    }
    throw std::runtime_error("no such route");
  }
  config::Config cfg;
  std::unique_ptr<Router> router;
  std::minstd_rand rng{42};
};

void expect_share(const std::map<std::string, int>& counts, const std::string& id, double expected) {
  const double share = counts.count(id) ? static_cast<double>(counts.at(id)) / kDraws : 0.0;
  EXPECT_NEAR(share, expected, 0.02) << id;
}

// --- sliding window -------------------------------------------------------------------------

TEST(SlidingWindowTest, SlidesASecondAtATimeInsteadOfResettingAtTheMinute) {
  SlidingWindow w;
  w.add(kT0, 5);
  w.add(kT0 + 30'000, 7);
  EXPECT_EQ(w.sum(kT0 + 30'000), 12);
  EXPECT_EQ(w.sum(kT0 + 59'999), 12);
  EXPECT_EQ(w.sum(kT0 + 60'000), 7);   // the first bucket left, the second is still in
  EXPECT_EQ(w.sum(kT0 + 90'000), 0);
}

TEST(SlidingWindowTest, TellsWhenEnoughHasLeftTheWindow) {
  SlidingWindow w;
  const std::int64_t base = kT0 - kT0 % 1000;  // start of a second
  w.add(base, 4);
  w.add(base + 10'000, 6);
  EXPECT_EQ(w.ms_until_at_most(base + 20'000, 10), 0);
  EXPECT_EQ(w.ms_until_at_most(base + 20'000, 6), 40'000);   // the 4 leave at base+60 s
  EXPECT_EQ(w.ms_until_at_most(base + 20'000, 0), 50'000);   // the 6 leave at base+70 s
}

TEST(LatencySamplesTest, OldSamplesLeaveTheMean) {
  LatencySamples s;
  EXPECT_LT(s.mean(kT0), 0);
  s.add(kT0, 2.0);
  s.add(kT0 + 1000, 4.0);
  EXPECT_DOUBLE_EQ(s.mean(kT0 + 2000), 3.0);
  EXPECT_DOUBLE_EQ(s.mean(kT0 + LatencySamples::kHorizonMs + 500), 4.0);
}

// --- resolution -----------------------------------------------------------------------------

TEST(RouterResolveTest, GroupAliasIdAndWildcard) {
  config::RouterSettings rs;
  rs.model_group_alias["fast"] = {"g", false};
  rs.model_group_alias["secret"] = {"g", true};
  auto wild = dep("w1", "openai/*");
  wild.model = "*";
  auto any = dep("w2", "*");
  any.model = "*";
  Fixture f({dep("a"), dep("b"), wild, any}, rs);
  EXPECT_EQ(f.router->resolve("g")->group->members.size(), 2u);
  EXPECT_EQ(f.router->resolve("fast")->name, "g");
  EXPECT_EQ(f.router->resolve("secret")->name, "g");
  auto by_id = f.router->resolve("b");
  ASSERT_TRUE(by_id);
  ASSERT_NE(by_id->pinned, nullptr);
  EXPECT_EQ(by_id->pinned->deployment->id, "b");
  auto w = f.router->resolve("openai/gpt-4o");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->group->name, "openai/*");  // longest literal prefix wins over "*"
  EXPECT_EQ(w->wildcard_match, "gpt-4o");
  auto star = f.router->resolve("claude-x");
  ASSERT_TRUE(star);
  EXPECT_EQ(star->group->name, "*");
  EXPECT_EQ(f.router->listed_models(), (std::vector<std::string>{"g", "openai/*", "*", "fast"}));
}

TEST(RouterResolveTest, UnknownNameResolvesToNothing) {
  Fixture f({dep("a")});
  EXPECT_FALSE(f.router->resolve("nope"));
  EXPECT_FALSE(f.router->resolve(""));
}

TEST(RouterResolveTest, PinnedDeploymentIsTheOnlyCandidate) {
  Fixture f({dep("a"), dep("b")});
  auto t = *f.router->resolve("b");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(f.router->pick(t, {}, kT0, f.rng).route->deployment->id, "b");
}

// --- simple-shuffle -------------------------------------------------------------------------

TEST(SimpleShuffleTest, WeightsDecideTheShare) {
  auto a = dep("a"), b = dep("b");
  a.weight = 1;
  b.weight = 3;
  Fixture f({a, b});
  auto s = f.shares();
  expect_share(s, "a", 0.25);
  expect_share(s, "b", 0.75);
}

TEST(SimpleShuffleTest, LooksAtAllDeploymentsNotOnlyTheFirst) {
  // The first has no weight: it counts as the average of the others (2), not as "no weights".
  auto a = dep("a"), b = dep("b"), c = dep("c");
  b.weight = 1;
  c.weight = 3;
  Fixture f({a, b, c});
  auto s = f.shares();
  expect_share(s, "a", 2.0 / 6);
  expect_share(s, "b", 1.0 / 6);
  expect_share(s, "c", 3.0 / 6);
}

TEST(SimpleShuffleTest, RpmThenTpmWhenNoWeights) {
  auto a = dep("a"), b = dep("b");
  a.rpm = 100;
  b.rpm = 300;
  a.tpm = 900;  // ignored: rpm comes first
  Fixture f({a, b});
  auto s = f.shares();
  expect_share(s, "a", 0.25);
  auto c = dep("c"), d = dep("d");
  c.tpm = 1000;
  d.tpm = 4000;
  Fixture g({c, d});
  auto t = g.shares();
  expect_share(t, "c", 0.2);
}

TEST(SimpleShuffleTest, UniformWithoutAnyHint) {
  Fixture f({dep("a"), dep("b"), dep("c"), dep("d")});
  auto s = f.shares();
  for (auto id : {"a", "b", "c", "d"}) expect_share(s, id, 0.25);
}

// --- least-busy -----------------------------------------------------------------------------

TEST(LeastBusyTest, FewestInFlightWinsTiesAreRandom) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kLeastBusy;
  Fixture f({dep("a"), dep("b"), dep("c")}, rs);
  f.router->state(f.route("a")).in_flight = 3;
  f.router->state(f.route("b")).in_flight = 1;
  f.router->state(f.route("c")).in_flight = 2;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(), "b");
  f.router->state(f.route("c")).in_flight = 1;
  auto s = f.shares();
  expect_share(s, "b", 0.5);
  expect_share(s, "c", 0.5);
  // Other replicas' requests count too.
  f.router->state(f.route("b")).remote_in_flight = 5;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(), "c");
}

// --- latency-based-routing ------------------------------------------------------------------

TEST(LatencyRoutingTest, ExploresUnseenThenPrefersTheFastest) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kLatency;
  Fixture f({dep("a"), dep("b")}, rs);
  f.router->record_success(f.route("a"), false, 2.0, 0, 100, kT0);  // 20 ms per token
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0 + 1), "b");    // b never measured
  f.router->record_success(f.route("b"), false, 5.0, 0, 100, kT0 + 2);  // 50 ms per token
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0 + 3), "a");
}

TEST(LatencyRoutingTest, StreamsCompareTimeToFirstToken) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kLatency;
  Fixture f({dep("a"), dep("b")}, rs);
  f.router->record_success(f.route("a"), false, 1.0, 0, 100, kT0);  // fast per token
  f.router->record_success(f.route("b"), false, 9.0, 0, 100, kT0);
  f.router->record_success(f.route("a"), true, 3.0, 0.9, 100, kT0);  // slow first token
  f.router->record_success(f.route("b"), true, 3.0, 0.1, 100, kT0);
  PickInput stream;
  stream.stream = true;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0 + 1, stream), "b");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0 + 1), "a");
}

TEST(LatencyRoutingTest, BufferSpreadsLoadOverNearlyAsFastDeployments) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kLatency;
  rs.lowest_latency_buffer = 0.5;
  Fixture f({dep("a"), dep("b"), dep("c")}, rs);
  f.router->record_success(f.route("a"), false, 1.0, 0, 100, kT0);   // 10 ms/token
  f.router->record_success(f.route("b"), false, 1.4, 0, 100, kT0);   // within 50 %
  f.router->record_success(f.route("c"), false, 1.6, 0, 100, kT0);   // outside
  auto s = f.shares();
  expect_share(s, "a", 0.5);
  expect_share(s, "b", 0.5);
  expect_share(s, "c", 0.0);
}

TEST(LatencyRoutingTest, TimeoutsArePenalisedAndTheWindowSlides) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kLatency;
  rs.disable_cooldowns = true;
  Fixture f({dep("a"), dep("b")}, rs);
  f.router->record_success(f.route("a"), false, 1.0, 0, 100, kT0);
  f.router->record_success(f.route("b"), false, 2.0, 0, 100, kT0);
  f.router->record_failure(f.route("a"), ErrorClass::kTimeout, std::nullopt, 30s, kT0);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0 + 1), "b");
  // Five minutes on, the old samples have left; a's new fast sample counts alone.
  const std::int64_t later = kT0 + LatencySamples::kHorizonMs + 1000;
  f.router->record_success(f.route("a"), false, 0.5, 0, 100, later);
  f.router->record_success(f.route("b"), false, 2.0, 0, 100, later);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(later + 1), "a");
}

// --- cost-based-routing ---------------------------------------------------------------------

TEST(CostRoutingTest, CheapestWinsUnknownPriceComesLastTiesRandom) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kCost;
  auto a = dep("a"), b = dep("b"), c = dep("c"), d = dep("d");
  a.input_cost_per_token = 3e-6;
  a.output_cost_per_token = 6e-6;
  b.input_cost_per_token = 1e-6;
  b.output_cost_per_token = 2e-6;
  c.input_cost_per_token = 2e-6;
  c.output_cost_per_token = 1e-6;  // same total as b
  Fixture f({a, b, c, d}, rs);
  auto s = f.shares();
  expect_share(s, "b", 0.5);
  expect_share(s, "c", 0.5);
  // With the cheap ones cooling down, the priced one beats the unpriced one.
  f.router->state(f.route("b")).cooldown_until_ms = kT0 + 10'000;
  f.router->state(f.route("c")).cooldown_until_ms = kT0 + 10'000;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(), "a");
}

// --- usage-based-routing-v2 -----------------------------------------------------------------

TEST(UsageRoutingTest, RpmClaimedBeforeTheCallOverASlidingMinute) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kUsage;
  auto a = dep("a");
  a.rpm = 3;
  Fixture f({a}, rs);
  const std::int64_t base = kT0 - kT0 % 1000;
  for (int i = 0; i < 3; ++i) {
    auto p = f.pick(base + i * 10'000);
    ASSERT_NE(p.route, nullptr);
    ASSERT_TRUE(f.router->claim(*p.route, 10, base + i * 10'000));
    f.router->release(*p.route, 10, 10, base + i * 10'000, base + i * 10'000);
  }
  auto full = f.pick(base + 25'000);
  EXPECT_EQ(full.route, nullptr);
  EXPECT_EQ(full.none.retry_after, 35'000ms);  // the first request leaves the window at base+60 s
  EXPECT_FALSE(f.router->claim(f.route("a"), 10, base + 25'000));
  // One request left the window: exactly one more fits, not a whole new minute's worth.
  EXPECT_NE(f.pick(base + 60'000).route, nullptr);
  EXPECT_TRUE(f.router->claim(f.route("a"), 10, base + 60'000));
  EXPECT_FALSE(f.router->claim(f.route("a"), 10, base + 60'500));
}

TEST(UsageRoutingTest, TpmCountsTheEstimateThenTheRealUsage) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kUsage;
  auto a = dep("a");
  a.tpm = 1000;
  Fixture f({a}, rs);
  ASSERT_TRUE(f.router->claim(f.route("a"), 600, kT0));
  PickInput in;
  in.estimated_prompt_tokens = 500;
  EXPECT_EQ(f.pick(kT0, in).route, nullptr);  // 600 + 500 > 1000
  f.router->release(f.route("a"), 600, 300, kT0, kT0);  // the call used 300
  EXPECT_NE(f.pick(kT0, in).route, nullptr);  // 300 + 500 fits
}

TEST(UsageRoutingTest, TokenCorrectionLandsInTheClaimsSecond) {
  // Claimed 1000 at t=0, the call ended at t=30 s having used 100: the window holds 100 from
  // t=0, and the whole request leaves it at t=60 s (a correction at t=30 s would leave -900 then).
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kUsage;
  auto a = dep("a");
  a.tpm = 10'000;
  Fixture f({a}, rs);
  const std::int64_t base = kT0 - kT0 % 1000;
  ASSERT_TRUE(f.router->claim(f.route("a"), 1000, base));
  f.router->release(f.route("a"), 1000, 100, base, base + 30'000);
  const DeploymentState& s = f.router->state(f.route("a"));
  EXPECT_EQ(s.tokens.sum(base + 30'000), 100);
  EXPECT_EQ(s.tokens.sum(base + 70'000), 0);
}

TEST(UsageRoutingTest, PromptOverTpmIsPermanentlyUnroutable) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kUsage;
  auto a = dep("a");
  a.tpm = 100;
  Fixture f({a}, rs);
  PickInput in;
  in.estimated_prompt_tokens = 500;
  auto r = f.pick(kT0, in);
  EXPECT_EQ(r.route, nullptr);
  EXPECT_TRUE(r.none.permanent);
}

TEST(UsageRoutingTest, LeastUsedDeploymentThatFitsWins) {
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kUsage;
  auto a = dep("a"), b = dep("b");
  a.tpm = 10'000;
  b.tpm = 10'000;
  Fixture f({a, b}, rs);
  ASSERT_TRUE(f.router->claim(f.route("a"), 5000, kT0));
  ASSERT_TRUE(f.router->claim(f.route("b"), 2000, kT0));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0), "b");
  f.router->state(f.route("b")).remote_tokens = 4000;  // another replica's usage counts
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0), "a");
}

TEST(UsageRoutingTest, PicksWhileOtherThreadsMoveTheCountsNeverComeBackEmpty) {
  // Scores change between reads under real load; a pick must still return a deployment.
  config::RouterSettings rs;
  rs.strategy = RoutingStrategy::kUsage;
  std::vector<Deployment> ds;
  for (auto id : {"a", "b", "c", "d", "e"}) {
    ds.push_back(dep(id));
    ds.back().tpm = 1'000'000'000;
  }
  Fixture f(ds, rs);
  std::atomic<bool> stop{false};
  std::vector<std::thread> movers;
  for (int t = 0; t < 2; ++t) {
    movers.emplace_back([&, t] {
      std::size_t i = static_cast<std::size_t>(t);
      while (!stop.load()) {
        const Route& r = f.router->routes()[i++ % 5];
        if (f.router->claim(r, 30, kT0)) f.router->release(r, 30, 27, kT0, kT0);
      }
    });
  }
  int empty = 0;
  for (int i = 0; i < 200'000; ++i) empty += f.pick(kT0).route == nullptr;
  stop = true;
  for (auto& m : movers) m.join();
  EXPECT_EQ(empty, 0);
}

// --- order, tags, parallel limits -----------------------------------------------------------

TEST(OrderTest, LowestOrderServesWhileHealthy) {
  auto a = dep("a"), b = dep("b"), c = dep("c");
  a.order = 2;
  b.order = 1;
  Fixture f({a, b, c});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(), "b");
  f.router->state(f.route("b")).cooldown_until_ms = kT0 + 1000;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(), "a");  // unordered c comes last
}

TEST(TagFilteringTest, TaggedRequestsGoToTaggedDeploymentsUntaggedToDefault) {
  config::RouterSettings rs;
  rs.enable_tag_filtering = true;
  auto a = dep("a"), b = dep("b"), c = dep("c");
  a.tags = {"teamA"};
  b.tags = {"default"};
  c.tags = {"teamC", "batch"};
  Fixture f({a, b, c}, rs);
  std::vector<std::string> tags{"batch"};
  PickInput in;
  in.tags = tags;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(f.pick_id(kT0, in), "c");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(f.pick_id(kT0), "b");
  std::vector<std::string> none{"nobody"};
  in.tags = none;
  auto r = f.pick(kT0, in);
  EXPECT_EQ(r.route, nullptr);
  EXPECT_NE(r.none.reason.find("tags"), std::string::npos);
}

TEST(TagFilteringTest, OffMeansTagsAreIgnored) {
  auto a = dep("a");
  a.tags = {"x"};
  Fixture f({a});
  std::vector<std::string> tags{"y"};
  PickInput in;
  in.tags = tags;
  EXPECT_EQ(f.pick_id(kT0, in), "a");
}

TEST(ParallelLimitTest, DeploymentAndDefaultLimitsHoldAndSlotsComeBack) {
  config::RouterSettings rs;
  rs.default_max_parallel_requests = 2;
  auto a = dep("a");
  a.max_parallel_requests = 1;
  Fixture f({a, dep("b")}, rs);
  ASSERT_TRUE(f.router->claim(f.route("a"), 1, kT0));
  EXPECT_FALSE(f.router->claim(f.route("a"), 1, kT0));
  ASSERT_TRUE(f.router->claim(f.route("b"), 1, kT0));
  ASSERT_TRUE(f.router->claim(f.route("b"), 1, kT0));
  EXPECT_FALSE(f.router->claim(f.route("b"), 1, kT0));
  auto none = f.pick();
  EXPECT_EQ(none.route, nullptr);
  EXPECT_EQ(none.none.retry_after, 1000ms);
  f.router->release(f.route("a"), 1, 1, kT0, kT0);
  EXPECT_EQ(f.pick_id(), "a");
  EXPECT_EQ(f.router->state(f.route("a")).in_flight.load(), 0);
}

TEST(PreCallCheckTest, PromptsTooLongForADeploymentSkipIt) {
  config::RouterSettings rs;
  rs.enable_pre_call_checks = true;
  auto small = dep("small"), big = dep("big");
  small.max_input_tokens = 1000;
  big.max_input_tokens = 100'000;
  Fixture f({small, big}, rs);
  PickInput in;
  in.estimated_prompt_tokens = 5000;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(f.pick_id(kT0, in), "big");
  in.estimated_prompt_tokens = 500'000;
  auto r = f.pick(kT0, in);
  EXPECT_EQ(r.route, nullptr);
  EXPECT_TRUE(r.none.context_window);
}

TEST(RetryPickTest, PrefersDeploymentsTheRequestHasNotFailedOn) {
  Fixture f({dep("a"), dep("b")});
  std::vector<std::size_t> tried{f.route("a").index};
  PickInput in;
  in.tried = tried;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0, in), "b");
  std::vector<std::size_t> both{0, 1};
  in.tried = both;
  EXPECT_NE(f.pick_id(kT0, in), "none");  // all tried: any healthy one again
}

// --- cooldowns ------------------------------------------------------------------------------

TEST(CooldownTest, AllowedFailsThenCooldownThenRecovery) {
  Fixture f({dep("a"), dep("b")});  // allowed_fails 3, cooldown_time 5 s
  const Route& a = f.route("a");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(f.router->record_failure(a, ErrorClass::kServerError, std::nullopt, 1s, kT0));
  EXPECT_EQ(f.router->health(a, kT0), 1);
  auto cooled = f.router->record_failure(a, ErrorClass::kServerError, std::nullopt, 1s, kT0);
  ASSERT_TRUE(cooled);
  EXPECT_EQ(*cooled, 5000ms);
  EXPECT_EQ(f.router->health(a, kT0), 2);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.pick_id(kT0 + 4999), "b");
  EXPECT_EQ(f.router->health(a, kT0 + 5000), 0);  // recovered, failures forgotten
  auto s = f.shares(kT0 + 5000);
  expect_share(s, "a", 0.5);
}

TEST(CooldownTest, FailuresOutsideTheMinuteDoNotCount) {
  Fixture f({dep("a")});
  const Route& a = f.route("a");
  for (int i = 0; i < 3; ++i) f.router->record_failure(a, ErrorClass::kTimeout, std::nullopt, 1s, kT0);
  EXPECT_FALSE(f.router->record_failure(a, ErrorClass::kTimeout, std::nullopt, 1s, kT0 + 61'000));
}

TEST(CooldownTest, RateLimitCoolsAtOnceForRetryAfterUnlessTheDeploymentSaysOtherwise) {
  auto b = dep("b");
  b.cooldown_time = 2s;
  Fixture f({dep("a"), b});
  auto cooled = f.router->record_failure(f.route("a"), ErrorClass::kRateLimit, 30s, 1s, kT0);
  ASSERT_TRUE(cooled);
  EXPECT_EQ(*cooled, 30s);
  auto cooled_b = f.router->record_failure(f.route("b"), ErrorClass::kRateLimit, 30s, 1s, kT0);
  ASSERT_TRUE(cooled_b);
  EXPECT_EQ(*cooled_b, 2s);  // deployment value > upstream retry-after > router default
  auto none = f.pick(kT0 + 1000);
  EXPECT_EQ(none.route, nullptr);
  EXPECT_EQ(none.none.retry_after, 1000ms);  // b recovers first
}

TEST(CooldownTest, CallerFaultsNeverCoolADeployment) {
  config::RouterSettings rs;
  rs.allowed_fails = 0;
  Fixture f({dep("a")}, rs);
  for (auto cls : {ErrorClass::kBadRequest, ErrorClass::kContextWindow, ErrorClass::kContentPolicy}) {
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(f.router->record_failure(f.route("a"), cls, std::nullopt, 1s, kT0));
  }
  EXPECT_EQ(f.router->health(f.route("a"), kT0), 0);
}

TEST(CooldownTest, DisableCooldownsKeepsEveryDeploymentInRotation) {
  config::RouterSettings rs;
  rs.disable_cooldowns = true;
  Fixture f({dep("a")}, rs);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(f.router->record_failure(f.route("a"), ErrorClass::kRateLimit, 5s, 1s, kT0));
  EXPECT_EQ(f.pick_id(), "a");
}

TEST(CooldownTest, AllowedFailsPolicyCountsPerClass) {
  config::RouterSettings rs;
  rs.allowed_fails_policy[static_cast<std::size_t>(ErrorClass::kRateLimit)] = 2;
  Fixture f({dep("a")}, rs);
  const Route& a = f.route("a");
  EXPECT_FALSE(f.router->record_failure(a, ErrorClass::kRateLimit, std::nullopt, 1s, kT0));
  EXPECT_FALSE(f.router->record_failure(a, ErrorClass::kRateLimit, std::nullopt, 1s, kT0));
  EXPECT_TRUE(f.router->record_failure(a, ErrorClass::kRateLimit, std::nullopt, 1s, kT0));
}

TEST(CooldownTest, BusyDeploymentsCoolOnFailureRateNotOnACount) {
  Fixture f({dep("a")});
  const Route& a = f.route("a");
  for (int i = 0; i < 40; ++i) f.router->record_success(a, false, 0.1, 0, 10, kT0);
  // 10 failures out of 50 attempts: above allowed_fails (3) but a 20 % failure rate.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(f.router->record_failure(a, ErrorClass::kServerError, std::nullopt, 1s, kT0));
  int failures = 10;
  std::optional<std::chrono::milliseconds> cooled;
  while (!cooled && failures < 100) {
    cooled = f.router->record_failure(a, ErrorClass::kServerError, std::nullopt, 1s, kT0);
    ++failures;
  }
  ASSERT_TRUE(cooled);
  EXPECT_EQ(failures, 40);  // 40 of 80 attempts: the rate reached 50 %
}

// --- retries, fallbacks, backoff ------------------------------------------------------------

TEST(RetryRulesTest, DefaultsPolicyDeploymentAndRequest) {
  config::RouterSettings rs;
  rs.num_retries = 2;
  rs.retry_policy[static_cast<std::size_t>(ErrorClass::kRateLimit)] = 5;
  rs.retry_policy[static_cast<std::size_t>(ErrorClass::kBadRequest)] = 1;
  auto b = dep("b");
  b.num_retries = 4;
  Fixture f({dep("a"), b}, rs);
  const Route& a = f.route("a");
  EXPECT_EQ(f.router->retries_for(ErrorClass::kServerError, a, std::nullopt), 2);
  EXPECT_EQ(f.router->retries_for(ErrorClass::kConnection, a, std::nullopt), 2);
  EXPECT_EQ(f.router->retries_for(ErrorClass::kRateLimit, a, std::nullopt), 5);
  EXPECT_EQ(f.router->retries_for(ErrorClass::kServerError, f.route("b"), std::nullopt), 4);
  EXPECT_EQ(f.router->retries_for(ErrorClass::kTimeout, a, 7), 7);
  EXPECT_EQ(f.router->retries_for(ErrorClass::kBadRequest, a, 7), 1);  // only by policy
  for (auto cls : {ErrorClass::kAuthentication, ErrorClass::kContentPolicy, ErrorClass::kContextWindow,
                   ErrorClass::kNotFound}) {
    EXPECT_EQ(f.router->retries_for(cls, a, 9), 0);
  }
  EXPECT_EQ(f.router->max_retries(std::nullopt), 2);
  EXPECT_EQ(f.router->max_retries(6), 6);
}

// A target for a group name the router does not know (fallback lists may name any group).
Target named(std::string name) { return Target{nullptr, std::move(name), {}, nullptr}; }

TEST(FallbackRulesTest, ListsByErrorClass) {
  config::RouterSettings rs;
  rs.fallbacks["g"] = {"g2", "g3"};
  rs.context_window_fallbacks["g"] = {"big"};
  rs.content_policy_fallbacks["g"] = {"lenient"};
  rs.default_fallbacks = {"dflt"};
  Fixture f({dep("a")}, rs);
  using V = std::vector<std::string>;
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kServerError, nullptr), (V{"g2", "g3"}));
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kRateLimit, nullptr), (V{"g2", "g3"}));
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kContextWindow, nullptr), (V{"big"}));
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kContentPolicy, nullptr), (V{"lenient"}));
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kBadRequest, nullptr), V{});
  EXPECT_EQ(f.router->fallbacks_for(named("other"), ErrorClass::kTimeout, nullptr), (V{"dflt"}));
  EXPECT_EQ(f.router->fallbacks_for(named("other"), ErrorClass::kContentPolicy, nullptr), V{});  // never escalated
  EXPECT_EQ(f.router->fallbacks_for(named("other"), ErrorClass::kContextWindow, nullptr), (V{"dflt"}));
  // Too long for every deployment before any call: only a bigger model can help.
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kContextWindow, nullptr, true), (V{"big"}));
  EXPECT_EQ(f.router->fallbacks_for(named("other"), ErrorClass::kContextWindow, nullptr, true), V{});
  const V body{"x", "g", "y"};
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kServerError, &body), (V{"x", "y"}));
}

TEST(FallbackRulesTest, WildcardRequestsUseTheirGroupsList) {
  config::RouterSettings rs;
  rs.fallbacks["openai/*"] = {"backup"};
  auto wild = dep("w", "openai/*");
  wild.model = "*";
  Fixture f({wild, dep("b", "backup")}, rs);
  const Target t = f.target("openai/gpt-4o");
  EXPECT_EQ(f.router->fallbacks_for(t, ErrorClass::kServerError, nullptr), std::vector<std::string>{"backup"});
  rs.fallbacks["openai/gpt-4o"] = {"exact"};
  Fixture g({wild, dep("b", "backup")}, rs);
  EXPECT_EQ(g.router->fallbacks_for(g.target("openai/gpt-4o"), ErrorClass::kServerError, nullptr),
            std::vector<std::string>{"exact"});  // the requested name first
}

TEST(FallbackRulesTest, MaxFallbacksCapsTheList) {
  config::RouterSettings rs;
  rs.fallbacks["g"] = {"a", "b", "c"};
  rs.max_fallbacks = 2;
  Fixture f({dep("a")}, rs);
  EXPECT_EQ(f.router->fallbacks_for(f.target("g"), ErrorClass::kServerError, nullptr).size(), 2u);
  rs.max_fallbacks = 0;
  Fixture g({dep("a")}, rs);
  EXPECT_TRUE(g.router->fallbacks_for(g.target("g"), ErrorClass::kServerError, nullptr).empty());
}

TEST(BackoffTest, ExponentialWithJitterHonouringRetryAfter) {
  config::RouterSettings rs;
  Fixture f({dep("a")}, rs);
  for (int i = 0; i < 200; ++i) {
    auto w1 = f.router->backoff(1, std::nullopt, f.rng);
    EXPECT_GE(w1, 375ms);
    EXPECT_LE(w1, 625ms);
    auto w3 = f.router->backoff(3, std::nullopt, f.rng);
    EXPECT_GE(w3, 1500ms);
    EXPECT_LE(w3, 2500ms);
    auto capped = f.router->backoff(20, std::nullopt, f.rng);
    EXPECT_LE(capped, 10'000ms);
  }
  EXPECT_GE(f.router->backoff(1, 7s, f.rng), 7s);
  rs.retry_after = 3s;
  Fixture g({dep("a")}, rs);
  EXPECT_GE(g.router->backoff(1, std::nullopt, g.rng), 3s);
}

}  // namespace
}  // namespace tollgate::router

// --- config reload --------------------------------------------------------------------------

namespace tollgate::router {
namespace {

TEST(RouterReloadTest, DeploymentsKeptByIdKeepTheirStateNewOnesStartFresh) {
  Fixture old({dep("a"), dep("b")});
  old.router->state(old.route("a")).cooldown_until_ms = kT0 + 10'000;
  ASSERT_TRUE(old.router->claim(old.route("b"), 100, kT0));  // one in flight on b

  config::Config next;
  next.model_list = {dep("b"), dep("c"), dep("a")};  // reordered, one added
  Router reloaded(next, old.router.get());
  const auto find = [&](std::string_view id) -> const Route& {
    for (const auto& r : reloaded.routes()) {
      if (r.deployment->id == id) return r;
    }
    throw std::runtime_error("no such route");
  };
  // The same objects, so a request still running on the old router releases into the new one.
  EXPECT_EQ(&reloaded.state(find("a")), &old.router->state(old.route("a")));
  EXPECT_EQ(reloaded.state(find("a")).cooldown_until_ms.load(), kT0 + 10'000);
  EXPECT_EQ(reloaded.state(find("b")).in_flight.load(), 1);
  EXPECT_EQ(reloaded.state(find("c")).cooldown_until_ms.load(), 0);
  EXPECT_EQ(reloaded.state(find("c")).in_flight.load(), 0);
  old.router->release(old.route("b"), 100, 100, kT0, kT0 + 5);
  EXPECT_EQ(reloaded.state(find("b")).in_flight.load(), 0);

  // a is cooling down on the new router too; c and b share the picks.
  std::minstd_rand rng{7};
  for (int i = 0; i < 200; ++i) {
    const PickResult r = reloaded.pick(*reloaded.resolve("g"), {}, kT0 + 1, rng);
    ASSERT_NE(r.route, nullptr);
    EXPECT_NE(r.route->deployment->id, "a");
  }
}

TEST(RouterReloadTest, ARemovedDeploymentIsNotRoutedTo) {
  Fixture old({dep("a"), dep("b")});
  config::Config next;
  next.model_list = {dep("b")};
  Router reloaded(next, old.router.get());
  EXPECT_EQ(reloaded.routes().size(), 1u);
  EXPECT_FALSE(reloaded.resolve("a").has_value() && reloaded.resolve("a")->pinned != nullptr);
}

}  // namespace
}  // namespace tollgate::router
