#include "tollgate/metrics/metrics.hpp"
#include "tollgate/router/error_class.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace tollgate::metrics {
namespace {

using config::ErrorClass;
using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Parses the text exposition format far enough for these tests (no escaped quotes in values).
std::vector<Sample> parse(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t brace = line.find('{');
    std::size_t space = line.rfind(' ');
    std::size_t name_end = brace == std::string::npos ? space : brace;
    s.name = line.substr(0, name_end);
    if (brace != std::string::npos) {
      std::size_t close = line.rfind('}');
      std::string body = line.substr(brace + 1, close - brace - 1);
      for (std::size_t pos = 0; pos < body.size();) {
        std::size_t eq = body.find('=', pos);
        std::size_t end_quote = body.find('"', eq + 2);
        s.labels[body.substr(pos, eq - pos)] = body.substr(eq + 2, end_quote - eq - 2);
        pos = end_quote + 2;  // skip `",`
      }
    }
    s.value = std::stod(line.substr(space + 1));
    out.push_back(std::move(s));
  }
  return out;
}

// The value of the one sample named `name` whose labels include `want`; nullopt if none.
std::optional<double> value(const std::string& text, const std::string& name, const Labels& want) {
  std::optional<double> found;
  for (const Sample& s : parse(text)) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (!match) continue;
    EXPECT_FALSE(found) << "more than one series of " << name << " matches";
    found = s.value;
  }
  return found;
}

config::Deployment deployment(std::string id = "dep-1") {
  return {.id = std::move(id), .model_name = "gpt-4o", .provider = "openai", .model = "gpt-4o-2024-08-06",
          .api_base = "https://api.openai.com/v1"};
}

Metrics make_metrics() {
  static const std::set<std::string, std::less<>> kKnown = {"gpt-4o", "claude", "cheap"};
  return Metrics([](std::string_view m) { return kKnown.contains(m); });
}

const Labels kDeploymentLabels = {{"litellm_model_name", "gpt-4o-2024-08-06"},
                                  {"model_id", "dep-1"},
                                  {"api_base", "https://api.openai.com/v1"},
                                  {"api_provider", "openai"}};

Labels with(Labels base, const Labels& extra) {
  base.insert(extra.begin(), extra.end());
  return base;
}

TEST(MetricsTest, DeploymentCountersRenderWithTotalSuffixAndLabels) {
  Metrics m = make_metrics();
  DeploymentMetrics& d = m.deployment(deployment());
  d.success(Seconds(1.0), 100);
  d.success(Seconds(2.0), 0);
  d.failure(ErrorClass::kRateLimit);
  d.set_state(DeploymentState::kPartialOutage);
  d.cooled_down(429);
  d.cooled_down(429);

  const std::string text = m.render();
  const Labels call = with(kDeploymentLabels, {{"requested_model", "gpt-4o"}});
  EXPECT_EQ(value(text, "litellm_deployment_success_responses_total", call), 2);
  EXPECT_EQ(value(text, "litellm_deployment_total_requests_total", call), 3);
  EXPECT_EQ(value(text, "litellm_deployment_failure_responses_total",
                  with(call, {{"exception_class", "RateLimitError"}})), 1);
  EXPECT_EQ(value(text, "litellm_deployment_failure_responses_total",
                  with(call, {{"exception_class", "Timeout"}})), 0);
  EXPECT_EQ(value(text, "litellm_deployment_state", kDeploymentLabels), 1);
  EXPECT_EQ(value(text, "litellm_deployment_cooled_down_total",
                  with(kDeploymentLabels, {{"exception_status", "429"}})), 2);
  EXPECT_NE(text.find("# TYPE litellm_deployment_success_responses_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE litellm_deployment_state gauge"), std::string::npos);
  // Only one of the two successes reported output tokens: 1 s / 100 tokens.
  EXPECT_EQ(value(text, "litellm_deployment_latency_per_output_token_count", kDeploymentLabels), 1);
  EXPECT_DOUBLE_EQ(*value(text, "litellm_deployment_latency_per_output_token_sum", kDeploymentLabels), 0.01);
  const Labels api = {{"model", "gpt-4o-2024-08-06"}, {"model_id", "dep-1"}, {"requested_model", "gpt-4o"}};
  EXPECT_EQ(value(text, "litellm_llm_api_latency_metric_count", api), 2);
  EXPECT_DOUBLE_EQ(*value(text, "litellm_llm_api_latency_metric_sum", api), 3.0);
}

TEST(MetricsTest, DeploymentHandleIsCachedPerLabelSet) {
  Metrics m = make_metrics();
  DeploymentMetrics& first = m.deployment(deployment());
  EXPECT_EQ(&first, &m.deployment(deployment()));
  EXPECT_NE(&first, &m.deployment(deployment("dep-2")));
  config::Deployment moved = deployment();
  moved.api_base = "https://eu.api.openai.com/v1";
  EXPECT_NE(&first, &m.deployment(moved)) << "same id, different api_base: its own series";
}

TEST(MetricsTest, RequestedModelHandleIsCached) {
  Metrics m = make_metrics();
  RequestedModelMetrics& first = m.requested_model("gpt-4o");
  EXPECT_EQ(&first, &m.requested_model("gpt-4o"));
  EXPECT_NE(&first, &m.requested_model("claude"));
}

TEST(MetricsTest, EveryErrorClassHasLiteLLMExceptionClassName) {
  const std::map<ErrorClass, std::string_view> expected = {
      {ErrorClass::kBadRequest, "BadRequestError"},
      {ErrorClass::kAuthentication, "AuthenticationError"},
      {ErrorClass::kTimeout, "Timeout"},
      {ErrorClass::kRateLimit, "RateLimitError"},
      {ErrorClass::kContentPolicy, "ContentPolicyViolationError"},
      {ErrorClass::kServerError, "InternalServerError"},
      {ErrorClass::kContextWindow, "ContextWindowExceededError"},
      {ErrorClass::kNotFound, "NotFoundError"},
      {ErrorClass::kConnection, "APIConnectionError"},
  };
  ASSERT_EQ(expected.size(), config::kErrorClassCount);
  Metrics m = make_metrics();
  DeploymentMetrics& d = m.deployment(deployment());
  RequestedModelMetrics& r = m.requested_model("gpt-4o");
  int n = 1;
  for (const auto& [cls, name] : expected) {
    EXPECT_EQ(router::exception_class_name(cls), name);
    for (int i = 0; i < n; ++i) d.failure(cls);  // a distinct count per class catches mix-ups
    for (int i = 0; i < n; ++i) r.failed(cls);
    ++n;
  }
  const std::string text = m.render();
  n = 1;
  for (const auto& [cls, name] : expected) {
    EXPECT_EQ(value(text, "litellm_deployment_failure_responses_total",
                    with(kDeploymentLabels, {{"exception_class", std::string(name)}})), n) << name;
    EXPECT_EQ(value(text, "litellm_proxy_failed_requests_metric_total",
                    {{"requested_model", "gpt-4o"}, {"exception_class", std::string(name)}}), n) << name;
    ++n;
  }
  EXPECT_EQ(value(text, "litellm_deployment_total_requests_total", kDeploymentLabels), 45);
}

TEST(MetricsTest, UnknownRequestedModelCollapsesToOther) {
  Metrics m = make_metrics();
  RequestedModelMetrics& a = m.requested_model("made-up-1");
  RequestedModelMetrics& b = m.requested_model("made-up-2");
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.name(), "other");
  EXPECT_EQ(&m.requested_model(""), &a);
  a.request(404);
  b.request(404);
  m.requested_model("gpt-4o").fallback("not-in-config", true);

  const std::string text = m.render();
  EXPECT_EQ(value(text, "litellm_proxy_total_requests_metric_total",
                  {{"requested_model", "other"}, {"status_code", "404"}}), 2);
  EXPECT_EQ(text.find("made-up"), std::string::npos);
  EXPECT_EQ(value(text, "litellm_deployment_successful_fallbacks_total",
                  {{"requested_model", "gpt-4o"}, {"fallback_model", "other"}}), 1);
  EXPECT_EQ(text.find("not-in-config"), std::string::npos);
}

TEST(MetricsTest, ProxyAndRouterCountersPerRequestedModel) {
  Metrics m = make_metrics();
  RequestedModelMetrics& r = m.requested_model("gpt-4o");
  r.request(200);
  r.request(200);
  r.request(429);
  r.request(42);  // not an HTTP status: one shared series
  r.retry();
  r.no_deployment();
  r.fallback("claude", true);
  r.fallback("cheap", false);
  r.fallback("cheap", false);
  m.redis_error();
  m.set_redis_connected(true);

  const std::string text = m.render();
  const auto total = [&](const char* status) {
    return value(text, "litellm_proxy_total_requests_metric_total",
                 {{"requested_model", "gpt-4o"}, {"status_code", status}});
  };
  EXPECT_EQ(total("200"), 2);
  EXPECT_EQ(total("429"), 1);
  EXPECT_EQ(total("other"), 1);
  EXPECT_EQ(total("500"), std::nullopt) << "status series appear on first use only";
  EXPECT_EQ(value(text, "tollgate_router_retries_total", {{"model_group", "gpt-4o"}}), 1);
  EXPECT_EQ(value(text, "tollgate_router_no_deployment_total", {{"model_group", "gpt-4o"}}), 1);
  EXPECT_EQ(value(text, "litellm_deployment_successful_fallbacks_total",
                  {{"requested_model", "gpt-4o"}, {"fallback_model", "claude"}}), 1);
  EXPECT_EQ(value(text, "litellm_deployment_failed_fallbacks_total",
                  {{"requested_model", "gpt-4o"}, {"fallback_model", "cheap"}}), 2);
  EXPECT_EQ(value(text, "tollgate_redis_errors_total", {}), 1);
  EXPECT_EQ(value(text, "tollgate_redis_connected", {}), 1);
}

TEST(MetricsTest, HistogramObservationsShowInBucketsSumAndCount) {
  Metrics m = make_metrics();
  RequestedModelMetrics& r = m.requested_model("gpt-4o");
  r.latency(Seconds(0.3), Seconds(0.00003));
  r.latency(Seconds(4.0), Seconds(0.002));
  r.latency(Seconds(700), Seconds(0.0003));
  m.deployment(deployment()).time_to_first_token(Seconds(0.2));

  const std::string text = m.render();
  const Labels model = {{"requested_model", "gpt-4o"}};
  const auto bucket = [&](const char* name, const char* le) { return value(text, name, with(model, {{"le", le}})); };
  const char* total = "litellm_request_total_latency_metric_bucket";
  EXPECT_EQ(bucket(total, "0.25"), 0);
  EXPECT_EQ(bucket(total, "0.5"), 1);
  EXPECT_EQ(bucket(total, "5"), 2);
  EXPECT_EQ(bucket(total, "600"), 2);
  EXPECT_EQ(bucket(total, "+Inf"), 3);
  EXPECT_EQ(value(text, "litellm_request_total_latency_metric_count", model), 3);
  EXPECT_DOUBLE_EQ(*value(text, "litellm_request_total_latency_metric_sum", model), 704.3);

  const char* overhead = "litellm_overhead_latency_metric_bucket";
  EXPECT_EQ(bucket(overhead, "5e-05"), 1) << "tens of microseconds have their own bucket";
  EXPECT_EQ(bucket(overhead, "0.0005"), 2);
  EXPECT_EQ(bucket(overhead, "0.0025"), 3);
  EXPECT_EQ(value(text, "litellm_overhead_latency_metric_count", model), 3);

  const Labels api = {{"model_id", "dep-1"}};
  EXPECT_EQ(value(text, "litellm_llm_api_time_to_first_token_metric_bucket", with(api, {{"le", "0.25"}})), 1);
  EXPECT_EQ(value(text, "litellm_llm_api_time_to_first_token_metric_bucket", with(api, {{"le", "0.1"}})), 0);
  EXPECT_EQ(value(text, "litellm_llm_api_time_to_first_token_metric_count", api), 1);
}

TEST(MetricsTest, ApiBaseLabelDropsCredentials) {
  Metrics m = make_metrics();
  config::Deployment d = deployment();
  d.api_base = "https://user:secret@example.com:8443/v1?api-key=secret2#frag";
  m.deployment(d).set_state(DeploymentState::kCompleteOutage);
  const std::string text = m.render();
  EXPECT_EQ(text.find("secret"), std::string::npos);
  EXPECT_EQ(value(text, "litellm_deployment_state", {{"api_base", "https://example.com:8443/v1"}}), 2);
}

TEST(MetricsTest, ConcurrentIncrementsOnOneHandleAreAllCounted) {
  Metrics m = make_metrics();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      // Each thread looks the handles up itself, as io threads would.
      DeploymentMetrics& d = m.deployment(deployment());
      RequestedModelMetrics& r = m.requested_model("gpt-4o");
      for (int i = 0; i < kPerThread; ++i) {
        d.success(Seconds(0.5), 10);
        r.request(200);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.render();
  EXPECT_EQ(value(text, "litellm_deployment_success_responses_total", kDeploymentLabels), kThreads * kPerThread);
  EXPECT_EQ(value(text, "litellm_llm_api_latency_metric_count", {{"model_id", "dep-1"}}), kThreads * kPerThread);
  EXPECT_EQ(value(text, "litellm_proxy_total_requests_metric_total",
                  {{"requested_model", "gpt-4o"}, {"status_code", "200"}}), kThreads * kPerThread);
}

TEST(MetricsTest, UnpricedRequestsCountedPerModel) {
  Metrics m = make_metrics();
  EXPECT_EQ(value(m.render(), "tollgate_unpriced_requests_total", {}), std::nullopt);
  m.unpriced_request("my-finetune-7b");
  m.unpriced_request("my-finetune-7b");
  m.unpriced_request("other-local");
  const std::string text = m.render();
  EXPECT_EQ(value(text, "tollgate_unpriced_requests_total", {{"model", "my-finetune-7b"}}), 2);
  EXPECT_EQ(value(text, "tollgate_unpriced_requests_total", {{"model", "other-local"}}), 1);
}

}  // namespace
}  // namespace tollgate::metrics
