#pragma once
// Which metrics Grafana dashboards query, and whether a gateway exports them (sans-IO helpers for
// tests/integration/dashboards_test.cpp and its unit test).
//
// metric_names() reads a PromQL expression the way a person would scan it for series names: string
// literals, label matchers `{...}` and ranges `[...]` are dropped, function calls and the label
// lists of by/without/on/ignoring/group_left/group_right are skipped, keywords and numbers too;
// the identifiers left are metric names (x_bucket / x_sum / x_count included as written).
//
// Thread safety: pure functions.
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tollgate::testing {

/// Metric names in one PromQL expression.
std::set<std::string> metric_names(std::string_view promql);

/// Every query of a dashboard: each panel's (and nested row panels') targets[].expr, and the
/// metric of each templating `label_values(metric, label)` query, as PromQL.
std::vector<std::string> dashboard_queries(const nlohmann::json& dashboard);

/// Names a Prometheus text exposition shows: `# TYPE` names and sample names.
struct Exposition {
  std::set<std::string> types;    // from "# TYPE <name> <type>"
  std::set<std::string> samples;  // sample names, e.g. x_bucket, x_sum, x_count, y_total
};
Exposition parse_exposition(std::string_view text);

/// Whether `name` is exported: a sample or TYPE name as is, or a histogram/summary's
/// _bucket/_sum/_count whose family is declared.
bool exported(const Exposition& e, const std::string& name);

/// Problems with panel ids: missing or repeated ids ("panel 'X': id 3 repeated").
std::vector<std::string> panel_id_problems(const nlohmann::json& dashboard);

}  // namespace tollgate::testing
