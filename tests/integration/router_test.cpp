// The router end to end: the fake provider injects 429s with retry-after, 500s, timeouts,
// context-window and content-policy errors per deployment (controls in each api_base), and the
// tests check which deployments were hit, in what order, and what the client saw.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string chat(const std::string& model, json extra = json::object()) {
  json body = {{"model", model}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body.dump();
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.start(); }

  // api_base of a deployment called `name` with fake controls, e.g. base("a", "status=500").
  std::string base(const std::string& name, const std::string& controls = "") const {
    return fake_deployment_base(fake_.port(), name, controls);
  }
  // One model_list entry.
  std::string deployment(const std::string& group, const std::string& id, const std::string& controls = "",
                         const std::string& params = "") const {
    return "  - model_name: " + group + "\n    litellm_params: {model: openai/m-" + id + ", api_base: \"" +
           base(id, controls) + "\", api_key: k" + params + "}\n    model_info: {id: " + id + "}\n";
  }
  void start(const std::string& models, const std::string& router_settings = "{}") {
    const std::string yaml = "model_list:\n" + models + "router_settings: " + router_settings +
                             "\ngeneral_settings: {master_key: " + kMasterKey + "}\n" +
                             "tollgate_settings: {access_log: \"off\"}\n";
    gw_ = std::make_unique<Gateway>(yaml);
  }
  // Which deployments the fake saw, in order.
  std::vector<std::string> hits() const {
    std::vector<std::string> out;
    for (const auto& r : fake_.requests()) {
      const auto at = r.target.find("/dep=");
      out.push_back(r.target.substr(at + 5, r.target.find('/', at + 5) - at - 5));
    }
    return out;
  }
  int header_int(const HttpResponse& r, const std::string& name) const { return std::stoi(r.header(name)); }

  FakeProvider fake_;
  std::unique_ptr<Gateway> gw_;
};

using Hits = std::vector<std::string>;

TEST_F(RouterTest, ServerErrorIsRetriedOnAnotherDeployment) {
  start(deployment("g", "a", "status=500", ", order: 1") + deployment("g", "b", "", ", order: 2"));
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), (Hits{"a", "b"}));
  EXPECT_EQ(r.header("x-litellm-model-id"), "b");
  EXPECT_EQ(header_int(r, "x-litellm-attempted-retries"), 1);
  EXPECT_EQ(header_int(r, "x-litellm-max-retries"), 2);
  EXPECT_EQ(header_int(r, "x-litellm-attempted-fallbacks"), 0);
  EXPECT_NE(r.header("x-litellm-model-api-base").find("/dep=b"), std::string::npos);
}

TEST_F(RouterTest, RetriesRunOutAndTheUpstreamErrorIsAnswered) {
  start(deployment("g", "a", "status=503"), "{num_retries: 1, disable_cooldowns: true}");
  const auto t0 = std::chrono::steady_clock::now();
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(hits(), (Hits{"a", "a"}));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 350ms);  // backoff before the same deployment again
  EXPECT_EQ(header_int(r, "x-litellm-attempted-retries"), 1);
}

TEST_F(RouterTest, RequestNumRetriesOverridesTheRouter) {
  start(deployment("g", "a", "status=500"), "{num_retries: 3, disable_cooldowns: true}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g", {{"num_retries", 0}}));
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(hits(), Hits{"a"});
  EXPECT_EQ(header_int(r, "x-litellm-max-retries"), 0);
}

TEST_F(RouterTest, RateLimitCoolsTheDeploymentDownForItsRetryAfter) {
  start(deployment("g", "a", "status=429/retry_after=30", ", order: 1") + deployment("g", "b", "", ", order: 2"));
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("x-litellm-model-id"), "b");
  }
  EXPECT_EQ(hits(), (Hits{"a", "b", "b", "b", "b", "b"}));  // a tried once, then skipped
  const std::string metrics = gw_->get("/metrics", {}).body;
  EXPECT_NE(metrics.find("litellm_deployment_cooled_down_total{"), std::string::npos);
  EXPECT_NE(metrics.find("exception_class=\"RateLimitError\""), std::string::npos);
}

TEST_F(RouterTest, EveryDeploymentCoolingDownAnswers429WithTheSoonestRecovery) {
  start(deployment("g", "a", "status=429/retry_after=30") + deployment("g", "b", "status=429/retry_after=12"),
        "{num_retries: 1}");
  HttpResponse first = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(first.status, 429u);  // the real upstream error, after both were tried
  EXPECT_EQ(hits().size(), 2u);
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.json()["error"]["message"].get<std::string>().rfind("No deployments available for selected model", 0), 0u)
      << r.body;
  const int retry_after = std::stoi(r.header("retry-after"));
  EXPECT_GE(retry_after, 11);
  EXPECT_LE(retry_after, 12);
  EXPECT_EQ(hits().size(), 2u);  // nothing called
}

TEST_F(RouterTest, RequestWithItsOwnDeadlineWaitsForRecovery) {
  start(deployment("g", "a", "", ", cooldown_time: 1"), "{allowed_fails: 0, num_retries: 0}");
  // Cool it down with one failure forced through the body.
  HttpResponse failed = gw_->post("/v1/chat/completions", chat("g", {{"fake", {{"status", 500}}}}));
  EXPECT_EQ(failed.status, 500u);
  HttpResponse at_once = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(at_once.status, 429u);  // no deadline of its own: told at once
  const auto t0 = std::chrono::steady_clock::now();
  HttpResponse waited = gw_->post("/v1/chat/completions", chat("g", {{"timeout", 5}}));
  EXPECT_EQ(waited.status, 200u) << waited.body;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST_F(RouterTest, FallbackGroupAnswersWhenTheGroupFails) {
  start(deployment("primary", "p", "status=500") + deployment("backup", "b"),
        "{num_retries: 0, fallbacks: [{primary: [backup]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("primary"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), (Hits{"p", "b"}));
  EXPECT_EQ(header_int(r, "x-litellm-attempted-fallbacks"), 1);
  EXPECT_EQ(r.header("x-litellm-model-id"), "b");
  // The client has its answer before the gateway records the attempt: wait for the record.
  const std::string fallback_line =
      "litellm_deployment_successful_fallbacks_total{fallback_model=\"backup\",requested_model=\"primary\"} 1";
  std::string metrics;
  EXPECT_TRUE(eventually([&] {
    metrics = gw_->get("/metrics", {}).body;
    return metrics.find(fallback_line) != std::string::npos;
  }, 2s));
  EXPECT_NE(metrics.find(fallback_line), std::string::npos) << metrics;
}

TEST_F(RouterTest, FallbackGroupRunsItsOwnRetries) {
  start(deployment("primary", "p", "status=500") + deployment("backup", "b1", "status=502", ", order: 1") +
            deployment("backup", "b2", "", ", order: 2"),
        "{num_retries: 1, fallbacks: [{primary: [backup]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("primary"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), (Hits{"p", "p", "b1", "b2"}));
  EXPECT_EQ(header_int(r, "x-litellm-attempted-retries"), 2);
}

TEST_F(RouterTest, ContextWindowErrorGoesToTheBiggerModelWithoutRetrying) {
  const std::string body = R"({"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}})";
  start(deployment("small", "s", "status=400/error_body=" + percent_encode(body)) + deployment("big", "b") +
            deployment("other", "o"),
        "{num_retries: 3, context_window_fallbacks: [{small: [big]}], fallbacks: [{small: [other]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("small"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), (Hits{"s", "b"}));
  // The deployment is not blamed for the caller's prompt.
  EXPECT_EQ(gw_->get("/metrics", {}).body.find("litellm_deployment_cooled_down_total{"), std::string::npos);
}

TEST_F(RouterTest, PreCallCheckSendsLongPromptsStraightToTheContextWindowFallback) {
  // `small` takes at most 10 prompt tokens; 400 characters are about 100.
  const std::string models = "  - model_name: small\n    litellm_params: {model: openai/m-s, api_base: \"" + base("s") +
                             "\", api_key: k}\n    model_info: {id: s, max_input_tokens: 10}\n" + deployment("big", "b");
  start(models, "{enable_pre_call_checks: true, context_window_fallbacks: [{small: [big]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("small", {{"messages", json::array({{{"role", "user"}, {"content", std::string(400, 'x')}}})}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), Hits{"b"});
  HttpResponse short_prompt = gw_->post("/v1/chat/completions", chat("small"));
  EXPECT_EQ(short_prompt.status, 200u);
  EXPECT_EQ(hits(), (Hits{"b", "s"}));
}

TEST_F(RouterTest, ContentPolicyIsNotEscalatedUnlessConfigured) {
  const std::string body = R"({"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"content_policy_violation"}})";
  const std::string controls = "status=400/error_body=" + percent_encode(body);
  start(deployment("g", "a", controls) + deployment("other", "o"), "{num_retries: 2, fallbacks: [{g: [other]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(hits(), Hits{"a"});  // no retry, no general fallback
  gw_.reset();
  fake_.clear();
  start(deployment("g", "a", controls) + deployment("lenient", "l"), "{content_policy_fallbacks: [{g: [lenient]}]}");
  HttpResponse r2 = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(hits(), (Hits{"a", "l"}));
}

TEST_F(RouterTest, BadRequestIsNeitherRetriedNorFallenBackNorCooled) {
  start(deployment("g", "a", "status=400") + deployment("other", "o"), "{num_retries: 3, allowed_fails: 0, fallbacks: [{g: [other]}]}");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g")).status, 400u);
  EXPECT_EQ(hits(), (Hits{"a", "a", "a"}));
}

TEST_F(RouterTest, TimeoutMovesToTheNextDeploymentAndIsEchoed) {
  start(deployment("g", "slow", "delay_headers_ms=3000", ", order: 1, timeout: 0.3") + deployment("g", "fast", "", ", order: 2"));
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("x-litellm-model-id"), "fast");
  EXPECT_EQ(hits(), (Hits{"slow", "fast"}));
  // The request's own timeout wins over the deployment's and is echoed.
  HttpResponse with_header = gw_->post("/v1/chat/completions", chat("fast"), auth_headers({{"x-litellm-timeout", "2.5"}}));
  EXPECT_EQ(with_header.header("x-litellm-timeout"), "2.500");
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("fast")).header("x-litellm-timeout"), "600.000");
  // Values that are not a usable number of seconds are ignored, never a broken deadline.
  for (const char* bad : {"nan", "inf", "-1", "1e300", "abc"}) {
    HttpResponse ignored = gw_->post("/v1/chat/completions", chat("fast"), auth_headers({{"x-litellm-timeout", bad}}));
    EXPECT_EQ(ignored.status, 200u) << bad;
    EXPECT_EQ(ignored.header("x-litellm-timeout"), "600.000") << bad;
  }
}

TEST_F(RouterTest, BodyFallbacksReplaceTheConfiguredOnes) {
  start(deployment("g", "a", "status=500") + deployment("x", "x") + deployment("y", "y"),
        "{num_retries: 0, fallbacks: [{g: [x]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g", {{"fallbacks", {"y"}}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), (Hits{"a", "y"}));
  HttpResponse bad = gw_->post("/v1/chat/completions", chat("g", {{"fallbacks", 5}}));
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.json()["error"]["param"], "fallbacks");
}

TEST_F(RouterTest, MockTestingSwitchesExerciseFallbacksWithoutCallingTheGroup) {
  start(deployment("g", "a") + deployment("backup", "b"), "{fallbacks: [{g: [backup]}]}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g", {{"mock_testing_fallbacks", true}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(hits(), Hits{"b"});
  EXPECT_EQ(header_int(r, "x-litellm-attempted-fallbacks"), 1);
  gw_.reset();
  fake_.clear();
  start(deployment("g", "a"), "{num_retries: 0}");
  HttpResponse limited = gw_->post("/v1/chat/completions", chat("g", {{"mock_testing_rate_limit_error", true}}));
  EXPECT_EQ(limited.status, 429u);
  EXPECT_TRUE(hits().empty());
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g")).status, 200u);  // not cooled down by the mock
}

TEST_F(RouterTest, WildcardGroupPassesTheModelThroughAndAliasesResolve) {
  start("  - model_name: \"openai/*\"\n    litellm_params: {model: \"openai/*\", api_base: \"" + base("w") +
            "\", api_key: k}\n" + deployment("g", "a"),
        "{model_group_alias: {fast: g, hidden-name: {model: g, hidden: true}}}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("openai/gpt-4o-mini"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(fake_.requests().back().body)["model"], "gpt-4o-mini");
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("fast")).status, 200u);
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("hidden-name")).status, 200u);
  EXPECT_EQ(hits(), (Hits{"w", "a", "a"}));
  const json models = gw_->get("/v1/models").json();
  std::vector<std::string> ids;
  for (const auto& m : models["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"openai/*", "g", "fast"}));
  // A deployment id is routable too.
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("a")).header("x-litellm-model-id"), "a");
}

TEST_F(RouterTest, UsageBasedRoutingHoldsAnRpmLimitOverTheSlidingMinute) {
  start(deployment("g", "a", "", ", rpm: 3"), "{routing_strategy: usage-based-routing-v2}");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g")).status, 200u);
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(r.status, 429u);
  EXPECT_NE(r.body.find("No deployments available for selected model"), std::string::npos);
  EXPECT_GE(std::stoi(r.header("retry-after")), 55);
  EXPECT_EQ(hits().size(), 3u);
}

TEST_F(RouterTest, TagsRouteToTheirDeployments) {
  start(deployment("g", "a", "", ", tags: [teamA]") + deployment("g", "d", "", ", tags: [default]"),
        "{enable_tag_filtering: true}");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g"), auth_headers({{"x-litellm-tags", "teamA"}}))
                  .header("x-litellm-model-id"),
              "a");
    EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g", {{"tags", {"teamA"}}})).header("x-litellm-model-id"), "a");
    EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g")).header("x-litellm-model-id"), "d");
  }
}

TEST_F(RouterTest, MaxParallelRequestsSpillsOverToTheNextDeployment) {
  start(deployment("g", "a", "delay_headers_ms=600", ", order: 1, max_parallel_requests: 1") +
        deployment("g", "b", "", ", order: 2"));
  auto slow = std::async(std::launch::async, [&] { return gw_->post("/v1/chat/completions", chat("g")); });
  ASSERT_TRUE(eventually([&] { return fake_.request_count() == 1; }, 2s));
  HttpResponse second = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(second.header("x-litellm-model-id"), "b");
  EXPECT_EQ(slow.get().header("x-litellm-model-id"), "a");
  // The slot came back (released just after the slow answer's last byte, so the next request may
  // still find it taken for a moment).
  EXPECT_TRUE(eventually([&] {
    return gw_->post("/v1/chat/completions", chat("g", {{"fake", {{"delay_headers_ms", 0}}}})).header("x-litellm-model-id") == "a";
  }, 2s));
}

TEST_F(RouterTest, StreamsFailOverBeforeTheFirstByte) {
  start(deployment("g", "a", "status=500", ", order: 1") + deployment("g", "b", "", ", order: 2"));
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g", {{"stream", true}}));
  ASSERT_EQ(r.status, 200u);
  StreamText s = parse_stream(r.body);
  EXPECT_TRUE(s.done);
  EXPECT_FALSE(s.text.empty());
  EXPECT_EQ(hits(), (Hits{"a", "b"}));
  // The client has its last byte before the gateway records the attempt: wait for the record.
  std::string metrics;
  EXPECT_TRUE(eventually([&] {
    metrics = gw_->get("/metrics", {}).body;
    return metrics.find("litellm_llm_api_time_to_first_token_metric_count") != std::string::npos;
  }, 2s));
  EXPECT_NE(metrics.find("litellm_llm_api_time_to_first_token_metric_count"), std::string::npos);
}

TEST_F(RouterTest, AClientsOwnShortTimeoutDoesNotCoolTheDeploymentDown) {
  start(deployment("g", "a", "delay_headers_ms=300"), "{allowed_fails: 0, num_retries: 0}");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g", {{"timeout", 0.05}})).status, 408u);
  }
  HttpResponse patient = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(patient.status, 200u) << patient.body;
  EXPECT_EQ(gw_->get("/metrics", {}).body.find("litellm_deployment_cooled_down_total{"), std::string::npos);
}

TEST_F(RouterTest, RetriesEndAtOnceWhenTheFailureCooledEveryDeployment) {
  start(deployment("g", "a", "status=429/retry_after=30"), "{num_retries: 3}");
  const auto t0 = std::chrono::steady_clock::now();
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g"));
  EXPECT_EQ(r.status, 429u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms);  // no backoff towards a cooling deployment
  EXPECT_EQ(header_int(r, "x-litellm-attempted-retries"), 0);
  EXPECT_EQ(hits(), Hits{"a"});
}

TEST_F(RouterTest, StreamBrokenAfterTheFirstByteIsNotRetriedButCountsAsAFailure) {
  start(deployment("g", "a", "disconnect_after=1", ", order: 1") + deployment("g", "b", "", ", order: 2"),
        "{allowed_fails: 0}");
  HttpResponse r = gw_->post("/v1/chat/completions", chat("g", {{"stream", true}}));
  ASSERT_EQ(r.status, 200u);
  EXPECT_FALSE(parse_stream(r.body).error.is_null()) << r.body;
  EXPECT_EQ(hits(), Hits{"a"});
  // The client has its last byte before the gateway records the attempt: wait for the record.
  std::string metrics;
  EXPECT_TRUE(eventually([&] {
    metrics = gw_->get("/metrics", {}).body;
    return metrics.find("litellm_deployment_cooled_down_total{") != std::string::npos;
  }, 2s)) << metrics;
  EXPECT_NE(metrics.find("litellm_deployment_failure_responses_total{api_base="), std::string::npos);
  EXPECT_NE(metrics.find("litellm_deployment_cooled_down_total{"), std::string::npos) << metrics;
  // Cooled down by that failure: the next stream goes to b.
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("g", {{"stream", true}})).header("x-litellm-model-id"), "b");
}

}  // namespace
}  // namespace tollgate::testing
