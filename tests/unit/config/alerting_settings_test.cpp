// general_settings' alerting keys and env SLACK_WEBHOOK_URL -> AlertingSettings.
#include <gtest/gtest.h>

#include "tollgate/config/loader.hpp"
#include "unit/config/config_test_util.hpp"

namespace tollgate::config {
namespace {

using namespace std::chrono_literals;
using test_util::Env;
using test_util::env_of;
using test_util::Strings;
using test_util::strings;

constexpr std::string_view kModel = R"(
model_list:
  - model_name: m
    litellm_params: {model: openai/x, mock_response: hi}
)";

LoadResult load(std::string_view general, Env vars = {}) {
  return load_config_text(std::string(kModel) + "general_settings:\n" + std::string(general), env_of(std::move(vars)));
}

constexpr const char* kHook = "https://hooks.slack.com/services/T0/B0/secret";

TEST(AlertingSettingsTest, DefaultsWhenAbsent) {
  auto r = load_config_text(std::string(kModel), env_of({{"SLACK_WEBHOOK_URL", kHook}}));
  ASSERT_TRUE(r.config);
  const AlertingSettings& a = r.config->alerting;
  EXPECT_FALSE(a.enabled());
  EXPECT_TRUE(a.webhook_url.empty());  // the variable alone turns nothing on
  EXPECT_EQ(a.fallback_rate_threshold, 0.2);
  EXPECT_EQ(a.fallback_rate_window, 60s);
  EXPECT_EQ(a.fallback_rate_min_requests, 20);
  EXPECT_EQ(a.slow_request_threshold, 300s);
  EXPECT_EQ(strings(r.warnings), Strings{});
}

TEST(AlertingSettingsTest, SlackWithTheEnvironmentsWebhook) {
  auto r = load(R"(
  alerting: ["slack"]
  alerting_threshold: 120
  alerting_args:
    fallback_rate_threshold: 0.35
    fallback_rate_window: 300
    fallback_rate_min_requests: 50
    webhook_timeout: 3
    webhook_retries: 1
    max_queued_alerts: 10
    budget_alert_ttl: 86400
    daily_report_frequency: 43200
)", {{"SLACK_WEBHOOK_URL", kHook}});
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{});
  ASSERT_TRUE(r.config);
  const AlertingSettings& a = r.config->alerting;
  EXPECT_TRUE(a.enabled());
  EXPECT_EQ(a.channels, std::vector<std::string>{"slack"});
  EXPECT_EQ(a.webhook_url, kHook);
  EXPECT_EQ(a.slow_request_threshold, 120s);
  EXPECT_EQ(a.fallback_rate_threshold, 0.35);
  EXPECT_EQ(a.fallback_rate_window, 300s);
  EXPECT_EQ(a.fallback_rate_min_requests, 50);
  EXPECT_EQ(a.webhook_timeout, 3s);
  EXPECT_EQ(a.webhook_retries, 1);
  EXPECT_EQ(a.max_queued, 10u);
}

TEST(AlertingSettingsTest, ConfiguredUrlWinsOverTheEnvironment) {
  auto r = load(R"(
  alerting: webhook
  alerting_webhook_url: http://127.0.0.1:9/hook
  alert_types: ["budget_alerts", "outage_alerts"]
)", {{"SLACK_WEBHOOK_URL", kHook}});
  EXPECT_EQ(strings(r.warnings), Strings{});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->alerting.channels, std::vector<std::string>{"webhook"});
  EXPECT_EQ(r.config->alerting.webhook_url, "http://127.0.0.1:9/hook");
  EXPECT_EQ(r.config->alerting.alert_types, (std::vector<std::string>{"budget_alerts", "outage_alerts"}));
}

TEST(AlertingSettingsTest, NoUrlWarnsAndLogsOnly) {
  auto r = load("  alerting: [\"slack\"]\n");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings),
            Strings{"general_settings.alerting: no webhook URL (set SLACK_WEBHOOK_URL or "
                    "general_settings.alerting_webhook_url); alerts are logged and counted, not sent"});
  ASSERT_TRUE(r.config);
  EXPECT_TRUE(r.config->alerting.enabled());
}

TEST(AlertingSettingsTest, UnsupportedChannelsAndTypesWarn) {
  auto r = load(R"(
  alerting: ["email", "slack", "slack"]
  alert_types: ["budget_alerts", "nonsense"]
  alerting_args: {surprise: 1}
)", {{"SLACK_WEBHOOK_URL", kHook}});
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), (Strings{"general_settings.alerting[0]: 'email' alerts are not supported (slack, webhook); ignored",
                                          "general_settings.alerting_args.surprise: unknown key, ignored",
                                          "general_settings.alert_types[1]: unknown alert type 'nonsense', ignored"}));
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->alerting.channels, std::vector<std::string>{"slack"});
}

TEST(AlertingSettingsTest, OnlyUnsupportedChannelsLeaveAlertingOffAndTheUrlUnused) {
  auto r = load(R"(
  alerting: ["email"]
  alerting_webhook_url: https://example.com/hook
)");
  EXPECT_EQ(strings(r.warnings), (Strings{"general_settings.alerting[0]: 'email' alerts are not supported (slack, webhook); ignored",
                                          "general_settings.alerting_webhook_url: set, but general_settings.alerting lists "
                                          "neither slack nor webhook; no alerts are sent"}));
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->alerting.enabled());
}

TEST(AlertingSettingsTest, BadValuesAreErrorsThatNeverQuoteTheUrl) {
  auto r = load(R"(
  alerting: ["slack"]
  alerting_webhook_url: "ftp://secret-host/hook"
  alerting_threshold: -1
  alerting_args:
    fallback_rate_threshold: 1.5
    fallback_rate_window: 0.5
    fallback_rate_min_requests: 0
)");
  EXPECT_EQ(strings(r.errors), (Strings{
                                   "general_settings.alerting_webhook_url: expected an http:// or https:// URL",
                                   "general_settings.alerting_args.fallback_rate_threshold: must be a fraction in (0, 1], "
                                   "e.g. 0.2 for 20%",
                                   "general_settings.alerting_args.fallback_rate_window: must be between 1 and 86400 seconds",
                                   "general_settings.alerting_args.fallback_rate_min_requests: must be between 1 and "
                                   "1000000000, got 0",
                                   "general_settings.alerting_threshold: must be a positive number of seconds, got -1",
                               }));
  for (const auto& e : r.errors) EXPECT_EQ(e.message.find("secret"), std::string::npos);
  EXPECT_FALSE(r.config);
}

TEST(AlertingSettingsTest, BadEnvironmentUrlIsAnError) {
  auto r = load("  alerting: [\"slack\"]\n", {{"SLACK_WEBHOOK_URL", "hooks.slack.com/x"}});
  EXPECT_EQ(strings(r.errors),
            Strings{"general_settings.alerting: environment variable SLACK_WEBHOOK_URL: expected an http:// or https:// URL"});
}

}  // namespace
}  // namespace tollgate::config
