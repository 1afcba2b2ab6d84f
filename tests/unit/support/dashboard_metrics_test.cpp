#include "support/dashboard_metrics.hpp"

#include <gtest/gtest.h>

namespace tollgate::testing {
namespace {

using Names = std::set<std::string>;

TEST(DashboardMetricsTest, MetricNamesSkipFunctionsLabelsRangesAndNumbers) {
  EXPECT_EQ(metric_names("histogram_quantile(0.95, sum by (le, requested_model) "
                         "(rate(litellm_request_total_latency_metric_bucket{requested_model=~\"$model_group\"}[$__rate_interval])))"),
            Names{"litellm_request_total_latency_metric_bucket"});
  EXPECT_EQ(metric_names("sum(rate(a_total{x=\"y\"}[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9) * 3600"),
            (Names{"a_total", "b_total"}));
  EXPECT_EQ(metric_names("sum(rate(a_sum[1m])) by (model) / sum(rate(a_count[1m])) by (model)"), (Names{"a_count", "a_sum"}));
  EXPECT_EQ(metric_names("topk(10, sum without (instance) (increase(c_total[$__range])))"), Names{"c_total"});
  EXPECT_EQ(metric_names("max by (model_id) (litellm_deployment_state)"), Names{"litellm_deployment_state"});
  EXPECT_EQ(metric_names("a_total and on (job) group_left (team) b_info offset 5m"), (Names{"a_total", "b_info"}));
  EXPECT_EQ(metric_names("up == bool 1 or vector(0)"), Names{"up"});
  EXPECT_EQ(metric_names("{__name__=\"x\"}"), Names{});
}

TEST(DashboardMetricsTest, QueriesComeFromNestedPanelsAndLabelValuesVariables) {
  const auto dashboard = nlohmann::json::parse(R"json({
    "panels": [
      {"id": 1, "type": "row", "panels": [{"id": 2, "targets": [{"expr": "rate(a_total[1m])"}]}]},
      {"id": 3, "targets": [{"expr": "b"}, {"refId": "B"}]}
    ],
    "templating": {"list": [
      {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
      {"name": "g", "type": "query", "definition": "label_values(c_total{x=\"1\"}, requested_model)"}
    ]}
  })json");
  EXPECT_EQ(dashboard_queries(dashboard), (std::vector<std::string>{"rate(a_total[1m])", "b", "c_total{x=\"1\"}"}));
}

TEST(DashboardMetricsTest, ExpositionNamesAndHistogramSuffixes) {
  const Exposition e = parse_exposition(
      "# HELP h Latency\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_sum 0\nh_count 0\n"
      "# TYPE c_total counter\nc_total{a=\"b\"} 3\n# TYPE empty_family gauge\n");
  EXPECT_TRUE(exported(e, "h_bucket"));
  EXPECT_TRUE(exported(e, "h_count"));
  EXPECT_TRUE(exported(e, "c_total"));
  EXPECT_TRUE(exported(e, "empty_family_bucket"));  // declared family: its suffixes count
  EXPECT_FALSE(exported(e, "c"));
  EXPECT_FALSE(exported(e, "missing_total"));
}

TEST(DashboardMetricsTest, PanelIdsMustBeUnique) {
  const auto dashboard = nlohmann::json::parse(R"({"panels": [
      {"id": 1, "title": "a", "panels": [{"id": 2, "title": "b"}]},
      {"id": 2, "title": "c"}, {"title": "d"}]})");
  EXPECT_EQ(panel_id_problems(dashboard),
            (std::vector<std::string>{"panel 'c': id 2 repeated (also 'b')", "panel 'd': no integer id"}));
}

}  // namespace
}  // namespace tollgate::testing
