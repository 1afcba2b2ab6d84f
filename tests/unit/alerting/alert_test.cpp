#include "tollgate/alerting/alert.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tollgate::alerting {
namespace {

TEST(AlertTest, PayloadIsSlackTextPlusAStructuredObject) {
  Alert a;
  a.type = AlertType::kBudgetExceeded;
  a.entity = "team";
  a.id = "t1";
  a.values = {{"spend", 10.5}, {"max_budget", 10}};
  a.text = "Budget exceeded";
  auto body = nlohmann::json::parse(alert_payload(a));
  EXPECT_EQ(body["text"], "Budget exceeded");
  EXPECT_EQ(body["tollgate"]["type"], "budget_exceeded");
  EXPECT_EQ(body["tollgate"]["entity"], "team");
  EXPECT_EQ(body["tollgate"]["id"], "t1");
  EXPECT_EQ(body["tollgate"]["values"]["spend"], 10.5);
  EXPECT_EQ(body["tollgate"]["values"]["max_budget"], 10);
  EXPECT_EQ(body.size(), 2u);
}

TEST(AlertTest, InvalidUtf8InTextIsReplacedNotThrown) {
  Alert a;
  a.type = AlertType::kSpendWriteFailure;
  a.text = std::string("bad \xff byte");
  const std::string payload = alert_payload(a);
  EXPECT_FALSE(nlohmann::json::parse(payload, nullptr, false).is_discarded());
}

TEST(AlertTest, TypeNames) {
  EXPECT_EQ(alert_type_name(AlertType::kSoftBudget), "soft_budget");
  EXPECT_EQ(alert_type_name(AlertType::kBudgetExceeded), "budget_exceeded");
  EXPECT_EQ(alert_type_name(AlertType::kFallbackRate), "fallback_rate");
  EXPECT_EQ(alert_type_name(AlertType::kDeploymentOutage), "deployment_outage");
  EXPECT_EQ(alert_type_name(AlertType::kDeploymentRecovered), "deployment_recovered");
  EXPECT_EQ(alert_type_name(AlertType::kSpendWriteFailure), "spend_write_failure");
}

TEST(AlertTest, AlertTypesFilterTakesLiteLlmNamesAndOurs) {
  const std::vector<std::string> none;
  for (std::size_t i = 0; i < kAlertTypeCount; ++i) EXPECT_TRUE(alert_type_enabled(none, static_cast<AlertType>(i)));

  const std::vector<std::string> budgets{"budget_alerts"};
  EXPECT_TRUE(alert_type_enabled(budgets, AlertType::kSoftBudget));
  EXPECT_TRUE(alert_type_enabled(budgets, AlertType::kBudgetExceeded));
  EXPECT_FALSE(alert_type_enabled(budgets, AlertType::kFallbackRate));
  EXPECT_FALSE(alert_type_enabled(budgets, AlertType::kDeploymentOutage));

  const std::vector<std::string> mixed{"outage_alerts", "fallback_rate", "db_exceptions"};
  EXPECT_TRUE(alert_type_enabled(mixed, AlertType::kDeploymentOutage));
  EXPECT_TRUE(alert_type_enabled(mixed, AlertType::kDeploymentRecovered));
  EXPECT_TRUE(alert_type_enabled(mixed, AlertType::kFallbackRate));
  EXPECT_TRUE(alert_type_enabled(mixed, AlertType::kSpendWriteFailure));
  EXPECT_FALSE(alert_type_enabled(mixed, AlertType::kSoftBudget));
}

TEST(AlertTest, Iso8601) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso8601_utc(1'735'689'600'000), "2025-01-01T00:00:00Z");
}

}  // namespace
}  // namespace tollgate::alerting
