#include "tollgate/alerting/alert_rules.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace tollgate::alerting {
namespace {

using namespace std::chrono_literals;
using metrics::DeploymentState;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a fixed "now" (unix ms)
constexpr std::int64_t kWindow1 = kT0 + 86'400'000;
constexpr std::int64_t kWindow2 = kWindow1 + 86'400'000;

// ---- budgets -------------------------------------------------------------------------------------

TEST(BudgetAlertsTest, SoftBudgetFiresOncePerEntityAndWindow) {
  BudgetAlerts rules;
  auto first = rules.soft_budget("key:abc123", kWindow1, 12.5, 10, kT0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, AlertType::kSoftBudget);
  EXPECT_EQ(first->entity, "key");
  EXPECT_EQ(first->id, "abc123");
  EXPECT_EQ(first->values["spend"], 12.5);
  EXPECT_EQ(first->values["soft_budget"], 10.0);
  EXPECT_EQ(first->values["budget_reset_at"], iso8601_utc(kWindow1));
  EXPECT_NE(first->text.find("Soft budget reached: key `abc123` has spent $12.50 of its $10.00 soft budget"),
            std::string::npos);
  // Every later request of the same window: nothing.
  for (int i = 1; i < 100; ++i) EXPECT_FALSE(rules.soft_budget("key:abc123", kWindow1, 12.5 + i, 10, kT0 + i * 1000));
  // Another entity, or the same entity in its next window: once each.
  EXPECT_TRUE(rules.soft_budget("team:t1", kWindow1, 11, 10, kT0));
  EXPECT_TRUE(rules.soft_budget("key:abc123", kWindow2, 10, 10, kWindow1 + 1));
  EXPECT_FALSE(rules.soft_budget("key:abc123", kWindow2, 11, 10, kWindow1 + 2));
}

TEST(BudgetAlertsTest, ExceededFiresOncePerEntityAndWindowIndependentlyOfSoftBudget) {
  BudgetAlerts rules;
  ASSERT_TRUE(rules.soft_budget("team:t1", kWindow1, 8, 5, kT0));
  auto exceeded = rules.exceeded("team:t1", kWindow1, 10.2, 10, kT0 + 1);
  ASSERT_TRUE(exceeded);
  EXPECT_EQ(exceeded->type, AlertType::kBudgetExceeded);
  EXPECT_EQ(exceeded->entity, "team");
  EXPECT_EQ(exceeded->id, "t1");
  EXPECT_EQ(exceeded->values["max_budget"], 10.0);
  EXPECT_NE(exceeded->text.find("requests are refused until the budget resets"), std::string::npos);
  EXPECT_FALSE(rules.exceeded("team:t1", kWindow1, 10.3, 10, kT0 + 2));
  EXPECT_TRUE(rules.exceeded("team:t1", kWindow2, 10.1, 10, kWindow1 + 5));
}

TEST(BudgetAlertsTest, BudgetWithoutWindowsAlertsOnceEver) {
  BudgetAlerts rules;
  auto a = rules.exceeded("key_model:hash:gpt-4o", 0, 3, 2, kT0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->entity, "key_model");
  EXPECT_EQ(a->id, "hash:gpt-4o");
  EXPECT_TRUE(a->values["budget_reset_at"].is_null());
  EXPECT_NE(a->text.find("until the budget is raised"), std::string::npos);
  EXPECT_FALSE(rules.exceeded("key_model:hash:gpt-4o", 0, 4, 2, kT0 + 365LL * 86'400'000));
}

TEST(BudgetAlertsTest, FullMemoryForgetsEndedWindowsFirst) {
  BudgetAlerts rules(/*max_remembered=*/3);
  ASSERT_TRUE(rules.soft_budget("key:a", kT0 + 10, 1, 1, kT0));         // window ends soon
  ASSERT_TRUE(rules.soft_budget("key:b", kWindow1, 1, 1, kT0));
  ASSERT_TRUE(rules.soft_budget("key:c", kWindow1, 1, 1, kT0));
  // Full: the entry whose window ended is dropped, the live ones are kept.
  ASSERT_TRUE(rules.soft_budget("key:d", kWindow1, 1, 1, kT0 + 20));
  EXPECT_FALSE(rules.soft_budget("key:b", kWindow1, 1, 1, kT0 + 21));
  EXPECT_FALSE(rules.soft_budget("key:c", kWindow1, 1, 1, kT0 + 21));
  EXPECT_FALSE(rules.soft_budget("key:d", kWindow1, 1, 1, kT0 + 21));
}

// ---- fallback rate -------------------------------------------------------------------------------

TEST(FallbackRateAlertsTest, FiresOnceWhenTheRateCrossesAboveTheThreshold) {
  FallbackRateAlerts rules(0.2, 60s, 20);
  std::int64_t now = kT0;
  // 20 requests, 4 fallbacks: exactly 20%, not above.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(rules.record("gpt-4o", i % 5 == 0, now += 100));
  // One more fallback: 5 of 21 = 23.8% > 20%: one alert.
  auto alert = rules.record("gpt-4o", true, now += 100);
  ASSERT_TRUE(alert);
  EXPECT_EQ(alert->type, AlertType::kFallbackRate);
  EXPECT_EQ(alert->entity, "model_group");
  EXPECT_EQ(alert->id, "gpt-4o");
  EXPECT_EQ(alert->values["fallbacks"], 5);
  EXPECT_EQ(alert->values["requests"], 21);
  EXPECT_EQ(alert->values["threshold"], 0.2);
  EXPECT_EQ(alert->values["window_seconds"], 60.0);
  EXPECT_NE(alert->text.find("model group `gpt-4o` needed a fallback on 24% of its requests (5 of 21) in the last 60 s"),
            std::string::npos);
  // Still above, and climbing: no more alerts.
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(rules.record("gpt-4o", true, now += 100));
}

TEST(FallbackRateAlertsTest, NeedsMinRequestsInTheWindow) {
  FallbackRateAlerts rules(0.2, 60s, 20);
  std::int64_t now = kT0;
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(rules.record("g", true, now += 10)) << i;  // 100% but only 19 requests
  EXPECT_TRUE(rules.record("g", true, now += 10));
}

TEST(FallbackRateAlertsTest, ReArmsOnlyAfterDroppingBelowTheThreshold) {
  FallbackRateAlerts rules(0.5, 10s, 4);
  std::int64_t now = kT0;
  for (int i = 0; i < 3; ++i) rules.record("g", true, now += 100);
  ASSERT_TRUE(rules.record("g", true, now += 100));  // 4 of 4
  // Successes bring it down to exactly 50%: not below, still armed off.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(rules.record("g", false, now += 100));
  EXPECT_FALSE(rules.record("g", true, now += 100));  // 5 of 9 > 50%, but no re-arm happened
  EXPECT_FALSE(rules.record("g", false, now += 100));  // 5 of 10 = 50%
  EXPECT_FALSE(rules.record("g", false, now += 100));  // 5 of 11 < 50%: re-armed
  EXPECT_FALSE(rules.record("g", true, now += 100));   // 6 of 12 = 50%: not above
  EXPECT_TRUE(rules.record("g", true, now += 100));    // 7 of 13 > 50%: the next crossing
}

TEST(FallbackRateAlertsTest, TheWindowSlides) {
  FallbackRateAlerts rules(0.5, 10s, 4);
  std::int64_t now = kT0;
  for (int i = 0; i < 3; ++i) rules.record("g", true, now += 100);
  ASSERT_TRUE(rules.record("g", true, now += 100));
  // Eleven seconds later the fallbacks have left the window: a success re-arms (0 of 1).
  now += 11'000;
  EXPECT_FALSE(rules.record("g", false, now));
  // A new burst alerts again once the window holds min_requests.
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(rules.record("g", true, now += 100));
  EXPECT_TRUE(rules.record("g", true, now += 100));  // 3 of 4
}

TEST(FallbackRateAlertsTest, GroupsAreIndependent) {
  FallbackRateAlerts rules(0.2, 60s, 2);
  std::int64_t now = kT0;
  EXPECT_FALSE(rules.record("a", true, now += 1));
  EXPECT_FALSE(rules.record("b", false, now += 1));
  EXPECT_FALSE(rules.record("b", false, now += 1));
  EXPECT_TRUE(rules.record("a", true, now += 1));
  EXPECT_FALSE(rules.record("b", false, now += 1));
}

// ---- deployment outage ---------------------------------------------------------------------------

config::Deployment deployment(std::string id) {
  config::Deployment d;
  d.id = std::move(id);
  d.model_name = "gpt-fake";
  d.provider = "openai";
  d.model = "fake-model";
  return d;
}

TEST(OutageAlertsTest, FiresOnTheTransitionToCompleteOutageAndRecoversOnHealthy) {
  OutageAlerts rules;
  const config::Deployment a = deployment("fake-a");
  EXPECT_FALSE(rules.state(a, DeploymentState::kHealthy));
  EXPECT_FALSE(rules.state(a, DeploymentState::kPartialOutage));
  auto down = rules.state(a, DeploymentState::kCompleteOutage);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->type, AlertType::kDeploymentOutage);
  EXPECT_EQ(down->entity, "deployment");
  EXPECT_EQ(down->id, "fake-a");
  EXPECT_EQ(down->values["model_group"], "gpt-fake");
  EXPECT_EQ(down->values["state"], 2);
  // Staying down, or flapping between partial and complete outage: no repeat.
  EXPECT_FALSE(rules.state(a, DeploymentState::kCompleteOutage));
  EXPECT_FALSE(rules.state(a, DeploymentState::kPartialOutage));
  EXPECT_FALSE(rules.state(a, DeploymentState::kCompleteOutage));
  // Healthy: one "recovered", and the next outage alerts again.
  auto up = rules.state(a, DeploymentState::kHealthy);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->type, AlertType::kDeploymentRecovered);
  EXPECT_EQ(up->values["state"], 0);
  EXPECT_FALSE(rules.state(a, DeploymentState::kHealthy));
  EXPECT_TRUE(rules.state(a, DeploymentState::kCompleteOutage));
}

TEST(OutageAlertsTest, DeploymentsAreIndependent) {
  OutageAlerts rules;
  EXPECT_TRUE(rules.state(deployment("a"), DeploymentState::kCompleteOutage));
  EXPECT_TRUE(rules.state(deployment("b"), DeploymentState::kCompleteOutage));
  EXPECT_FALSE(rules.state(deployment("a"), DeploymentState::kCompleteOutage));
  EXPECT_TRUE(rules.state(deployment("b"), DeploymentState::kHealthy));
  EXPECT_FALSE(rules.state(deployment("a"), DeploymentState::kPartialOutage));
}

// ---- spend writer --------------------------------------------------------------------------------

TEST(SpendWriterAlertsTest, FirstFailureAfterASuccessFiresAndTheNextSuccessReArms) {
  SpendWriterAlerts rules;
  auto first = rules.failed("database is locked");
  ASSERT_TRUE(first);  // a writer that never succeeded yet alerts on its first failure
  EXPECT_EQ(first->type, AlertType::kSpendWriteFailure);
  EXPECT_EQ(first->values["error"], "database is locked");
  EXPECT_FALSE(rules.failed("database is locked"));
  EXPECT_FALSE(rules.failed("connection refused"));
  rules.succeeded();
  rules.succeeded();
  EXPECT_TRUE(rules.failed("connection refused"));
  EXPECT_FALSE(rules.failed("connection refused"));
}

TEST(SpendWriterAlertsTest, LongErrorsAreCapped) {
  SpendWriterAlerts rules;
  auto a = rules.failed(std::string(5000, 'x'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->values["error"].get<std::string>().size(), 500u);
}

}  // namespace
}  // namespace tollgate::alerting
