// Webhook alerts end to end: the gateway (or an Alerter on its own) posting to a loopback webhook
// receiver. The crossing rules themselves are unit-tested on a fake clock
// (tests/unit/alerting/alert_rules_test.cpp); here: real crossings through the gateway give
// exactly one POST each, and delivery retries, gives up, times out and drops as documented.
#include <gtest/gtest.h>

#include <spdlog/sinks/null_sink.h>

#include <functional>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"
#include "support/fake_webhook.hpp"
#include "tollgate/alerting/alerter.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// 2^-7 per output token and mock answers of 2 tokens: each request costs 2^-6 exactly.
constexpr double kRequestCost = 0.015625;

std::string chat(const std::string& model, Json extra = Json::object()) {
  Json body = {{"model", model}, {"max_tokens", 2}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body.dump();
}

Headers bearer(const std::string& key) { return {{"authorization", "Bearer " + key}}; }

std::string alerting_general(const FakeWebhook& hook, const std::string& args = "") {
  std::string general = ", alerting: [\"webhook\"], alerting_webhook_url: \"" + hook.url() + "\"";
  if (!args.empty()) general += ", alerting_args: {" + args + "}";
  return general;
}

// The posted payloads, parsed.
std::vector<Json> payloads(const FakeWebhook& hook) {
  std::vector<Json> out;
  for (const auto& r : hook.requests()) out.push_back(Json::parse(r.body, nullptr, false));
  return out;
}

// Every alert `alerter` raised so far was delivered or given up: nothing is left to post.
bool settled(const alerting::Alerter* alerter) {
  if (alerter == nullptr) return true;
  const alerting::Alerter::Stats s = alerter->stats();
  return s.delivered + s.failed == s.raised;
}

// Waits for `n` POSTs, then until nothing is left that could post another (`idle`): no more follow.
bool exactly(const FakeWebhook& hook, std::size_t n, const std::function<bool()>& idle) {
  if (!eventually([&] { return hook.request_count() >= n; })) return false;
  if (!eventually(idle)) return false;
  return hook.request_count() == n;
}
// Through the gateway: no request is still being handled (a request reports what it saw after
// answering) and the gateway's alerter has nothing left to post.
bool exactly(const FakeWebhook& hook, std::size_t n, Gateway& gw) {
  return exactly(hook, n, [&] { return gw.app().active_requests() == 0 && settled(gw.app().alerter()); });
}
bool exactly(const FakeWebhook& hook, std::size_t n, const alerting::Alerter& alerter) {
  return exactly(hook, n, [&] { return settled(&alerter); });
}

bool has_line(const std::string& metrics, const std::string& line) {
  return metrics.find("\n" + line + "\n") != std::string::npos;
}

// ---- through the gateway -------------------------------------------------------------------------

TEST(AlertingGatewayTest, SoftBudgetAndBudgetExceededPostOnceEach) {
  FakeWebhook hook;
  ConfigExtras extras;
  extras.models =
      "  - model_name: cheap\n"
      "    litellm_params: {model: openai/cheap, mock_response: \"abcdefgh\", input_cost_per_token: 0, "
      "output_cost_per_token: 0.0078125}\n";
  extras.general = ", proxy_batch_write_at: 1" + alerting_general(hook);
  Gateway gw(fake_config("http://127.0.0.1:9", extras));
  HttpResponse created = gw.post("/key/generate", Json{{"soft_budget", kRequestCost}, {"max_budget", 2 * kRequestCost}}.dump());
  ASSERT_EQ(created.status, 200u) << created.body;
  const std::string key = created.json()["key"];
  const std::string token = created.json()["token"];

  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    HttpResponse r = gw.post("/v1/chat/completions", chat("cheap"), bearer(key));
    ASSERT_TRUE(r.status == 200u || r.status == 400u) << r.body;
    if (r.status == 400u) {
      EXPECT_EQ(r.json()["error"]["type"], "budget_exceeded");
      ++refused;
    }
  }
  ASSERT_GE(refused, 4);  // many refusals, one alert

  ASSERT_TRUE(exactly(hook, 2, gw)) << hook.request_count();
  const auto requests = hook.requests();
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/services/T0/B0/secret");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
  }
  const std::vector<Json> posted = payloads(hook);
  const Json& soft = posted[0];
  EXPECT_EQ(soft["tollgate"]["type"], "soft_budget");
  EXPECT_EQ(soft["tollgate"]["entity"], "key");
  EXPECT_EQ(soft["tollgate"]["id"], token);
  EXPECT_EQ(soft["tollgate"]["values"]["soft_budget"], kRequestCost);
  EXPECT_GE(soft["tollgate"]["values"]["spend"].get<double>(), kRequestCost);
  EXPECT_TRUE(soft["text"].get<std::string>().starts_with(":warning: Soft budget reached: key `" + token + "`"))
      << soft["text"];
  EXPECT_EQ(soft["text"].get<std::string>().find(key), std::string::npos);  // never the key itself

  const Json& over = posted[1];
  EXPECT_EQ(over["tollgate"]["type"], "budget_exceeded");
  EXPECT_EQ(over["tollgate"]["entity"], "key");
  EXPECT_EQ(over["tollgate"]["id"], token);
  EXPECT_EQ(over["tollgate"]["values"]["max_budget"], 2 * kRequestCost);
  EXPECT_TRUE(over["text"].get<std::string>().starts_with(":no_entry: Budget exceeded: key")) << over["text"];

  const std::string metrics = gw.get("/metrics", {}).body;
  EXPECT_TRUE(has_line(metrics, "tollgate_alerts_total{type=\"soft_budget\"} 1")) << metrics;
  EXPECT_TRUE(has_line(metrics, "tollgate_alerts_total{type=\"budget_exceeded\"} 1"));
  EXPECT_TRUE(has_line(metrics, "tollgate_alerts_total{type=\"deployment_outage\"} 0"));
  EXPECT_TRUE(has_line(metrics, "tollgate_alert_delivery_failures_total 0"));
}

TEST(AlertingGatewayTest, DeploymentOutagePostsOnce) {
  FakeProvider fake;
  fake.start();
  FakeWebhook hook;
  const std::string yaml =
      "model_list:\n"
      "  - model_name: g\n"
      "    litellm_params: {model: openai/m-a, api_base: \"" + fake_deployment_base(fake.port(), "a", "status=429/retry_after=60") +
      "\", api_key: k, order: 1}\n"
      "    model_info: {id: dep-a}\n"
      "  - model_name: g\n"
      "    litellm_params: {model: openai/m-b, api_base: \"" + fake_deployment_base(fake.port(), "b") +
      "\", api_key: k, order: 2}\n"
      "    model_info: {id: dep-b}\n"
      "general_settings: {master_key: " + kMasterKey + alerting_general(hook) + "}\n"
      "tollgate_settings: {access_log: \"off\"}\n";
  Gateway gw(yaml);
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = gw.post("/v1/chat/completions", chat("g"));
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("x-litellm-model-id"), "dep-b");
  }
  ASSERT_TRUE(exactly(hook, 1, gw)) << hook.request_count();
  const Json alert = payloads(hook).at(0);
  EXPECT_EQ(alert["tollgate"]["type"], "deployment_outage");
  EXPECT_EQ(alert["tollgate"]["entity"], "deployment");
  EXPECT_EQ(alert["tollgate"]["id"], "dep-a");
  EXPECT_EQ(alert["tollgate"]["values"], (Json{{"model_group", "g"}, {"model", "m-a"}, {"provider", "openai"}, {"state", 2}}));
  EXPECT_EQ(alert["text"],
            ":red_circle: Deployment outage: `dep-a` (model group `g`, openai/m-a) is in complete outage; the router is "
            "cooling it down and sends its requests elsewhere.");
  EXPECT_TRUE(has_line(gw.get("/metrics", {}).body, "tollgate_alerts_total{type=\"deployment_outage\"} 1"));
}

TEST(AlertingGatewayTest, FallbackRateCrossingPostsOnce) {
  FakeWebhook hook;
  ConfigExtras extras;
  extras.models =
      "  - model_name: backup\n"
      "    litellm_params: {model: openai/backup, mock_response: \"fine\"}\n";
  extras.general = alerting_general(hook, "fallback_rate_threshold: 0.5, fallback_rate_min_requests: 4");
  extras.top = "router_settings: {num_retries: 0, fallbacks: [{\"gpt-fake\": [\"backup\"]}]}\n";
  Gateway gw(fake_config("http://127.0.0.1:9", extras));
  // Two plain requests (mocked by the body), then fallbacks: the 4th request is 2 of 4 = 50%
  // (not above), the 5th 3 of 5: one alert, and no more while it stays above.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(gw.post("/v1/chat/completions", chat("gpt-fake", {{"mock_response", "hi"}})).status, 200u);
  }
  for (int i = 0; i < 6; ++i) {
    HttpResponse r = gw.post("/v1/chat/completions", chat("gpt-fake", {{"mock_testing_fallbacks", true}}));
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("x-litellm-attempted-fallbacks"), "1");
    if (i == 1) {
      EXPECT_EQ(hook.request_count(), 0u);
    }
  }
  ASSERT_TRUE(exactly(hook, 1, gw)) << hook.request_count();
  const Json alert = payloads(hook).at(0);
  EXPECT_EQ(alert["tollgate"]["type"], "fallback_rate");
  EXPECT_EQ(alert["tollgate"]["entity"], "model_group");
  EXPECT_EQ(alert["tollgate"]["id"], "gpt-fake");
  EXPECT_EQ(alert["tollgate"]["values"]["fallbacks"], 3);
  EXPECT_EQ(alert["tollgate"]["values"]["requests"], 5);
}

TEST(AlertingGatewayTest, NoAlertingConfiguredPostsNothing) {
  FakeWebhook hook;
  ConfigExtras extras;
  extras.general = ", alerting_webhook_url: \"" + hook.url() + "\"";  // a URL alone turns nothing on
  extras.top = "router_settings: {num_retries: 0}\n";
  Gateway gw(fake_config("http://127.0.0.1:9", extras));
  HttpResponse r = gw.post("/v1/chat/completions", chat("gpt-fake", {{"mock_testing_fallbacks", true}}));
  EXPECT_NE(r.status, 200u);  // no fallbacks configured
  EXPECT_TRUE(exactly(hook, 0, gw));
}

// ---- delivery ----------------------------------------------------------------------------------

class AlertDeliveryTest : public ::testing::Test {
 protected:
  std::unique_ptr<alerting::Alerter> make(config::AlertingSettings settings) {
    settings.channels = {"webhook"};
    settings.webhook_url = hook_.url();
    auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return std::make_unique<alerting::Alerter>(settings, config::UpstreamSettings{}, metrics_, log, clock_);
  }
  static alerting::Alert alert(int n) {
    alerting::Alert a;
    a.type = alerting::AlertType::kSpendWriteFailure;
    a.entity = "spend_writer";
    a.id = "database";
    a.text = "alert " + std::to_string(n);
    return a;
  }
  std::string metrics() const { return metrics_.render(); }

  FakeWebhook hook_;
  metrics::Metrics metrics_{[](std::string_view) { return false; }};
  SystemClock clock_;
};

TEST_F(AlertDeliveryTest, ServerErrorsAreRetriedUntilDelivered) {
  hook_.script({500, 503});
  auto alerter = make({});
  alerter->raise(alert(1));
  ASSERT_TRUE(eventually([&] { return alerter->stats().delivered == 1; }, 10s));
  EXPECT_EQ(hook_.request_count(), 3u);
  for (const auto& r : hook_.requests()) EXPECT_EQ(Json::parse(r.body)["text"], "alert 1");
  EXPECT_EQ(alerter->stats().failed, 0u);
  EXPECT_TRUE(has_line(metrics(), "tollgate_alert_delivery_failures_total 0"));
  EXPECT_TRUE(has_line(metrics(), "tollgate_alerts_total{type=\"spend_write_failure\"} 1"));
}

TEST_F(AlertDeliveryTest, GivesUpAfterTheRetriesAndCountsAFailure) {
  hook_.script({502, 502, 502, 502});
  config::AlertingSettings settings;
  settings.webhook_retries = 1;
  auto alerter = make(settings);
  alerter->raise(alert(1));
  ASSERT_TRUE(eventually([&] { return alerter->stats().failed == 1; }, 10s));
  EXPECT_EQ(hook_.request_count(), 2u);
  EXPECT_TRUE(has_line(metrics(), "tollgate_alert_delivery_failures_total 1"));
}

TEST_F(AlertDeliveryTest, ClientErrorsAreNotRetried) {
  hook_.script({404});
  auto alerter = make({});
  alerter->raise(alert(1));
  ASSERT_TRUE(eventually([&] { return alerter->stats().failed == 1; }));
  EXPECT_TRUE(exactly(hook_, 1, *alerter));
}

TEST_F(AlertDeliveryTest, ASlowWebhookTimesOut) {
  hook_.set_delay(3s);
  config::AlertingSettings settings;
  settings.webhook_timeout = 200ms;
  settings.webhook_retries = 0;
  auto alerter = make(settings);
  const auto t0 = std::chrono::steady_clock::now();
  alerter->raise(alert(1));
  ASSERT_TRUE(eventually([&] { return alerter->stats().failed == 1; }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_TRUE(has_line(metrics(), "tollgate_alert_delivery_failures_total 1"));
}

TEST_F(AlertDeliveryTest, AFullQueueDropsWithoutBlockingTheCaller) {
  hook_.set_delay(300ms);
  config::AlertingSettings settings;
  settings.max_queued = 2;
  auto alerter = make(settings);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) alerter->raise(alert(i));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);  // never waits for the webhook
  const auto dropped = alerter->stats().failed;
  EXPECT_GE(dropped, 17u);  // at most one in flight and two queued
  alerter->stop(5s);
  const auto s = alerter->stats();
  EXPECT_EQ(s.raised, 20u);
  EXPECT_EQ(s.delivered + s.failed, 20u);
  EXPECT_EQ(hook_.request_count(), s.delivered);
  EXPECT_TRUE(has_line(metrics(), "tollgate_alert_delivery_failures_total " + std::to_string(s.failed)));
}

TEST_F(AlertDeliveryTest, DisabledTypesAreNeitherCountedNorSent) {
  config::AlertingSettings settings;
  settings.alert_types = {"budget_alerts"};
  auto alerter = make(settings);
  alerter->raise(alert(1));  // spend_write_failure: not a budget alert
  alerter->soft_budget("team:t1", 0, 2, 1);
  ASSERT_TRUE(exactly(hook_, 1, *alerter));
  EXPECT_EQ(Json::parse(hook_.requests().at(0).body)["tollgate"]["type"], "soft_budget");
  EXPECT_EQ(alerter->stats().raised, 1u);
}

TEST_F(AlertDeliveryTest, SpendWriterFailuresPostOncePerOutage) {
  auto alerter = make({});
  alerter->spend_write_failed("database is locked");
  alerter->spend_write_failed("database is locked");
  alerter->spend_write_succeeded();
  alerter->spend_write_failed("disk I/O error");
  ASSERT_TRUE(exactly(hook_, 2, *alerter));
  const std::vector<Json> posted = payloads(hook_);
  EXPECT_EQ(posted[0]["tollgate"]["values"]["error"], "database is locked");
  EXPECT_EQ(posted[1]["tollgate"]["values"]["error"], "disk I/O error");
  EXPECT_TRUE(posted[1]["text"].get<std::string>().starts_with(":floppy_disk: Spend writes are failing: disk I/O error."));
}

}  // namespace
}  // namespace tollgate::testing
