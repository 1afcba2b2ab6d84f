// The Grafana dashboards in deploy/grafana/dashboards/: each parses, has unique panel ids and uses
// the DS_PROMETHEUS datasource variable, and every metric they query is exported by a live gateway
// after traffic that produces every series (a failing and cooling deployment, a fallback that
// answers and one that fails, a stream, a virtual key with budgets, a refused key).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "integration/gateway_fixture.hpp"
#include "support/dashboard_metrics.hpp"
#include "support/eventually.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

const fs::path kDashboards = fs::path(TOLLGATE_SOURCE_DIR) / "deploy" / "grafana" / "dashboards";

std::map<std::string, Json> load_dashboards() {
  std::map<std::string, Json> out;
  for (const auto& entry : fs::directory_iterator(kDashboards)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    out[entry.path().filename().string()] = Json::parse(text.str(), nullptr, false);
  }
  return out;
}

TEST(DashboardsTest, EachParsesWithUniquePanelIdsAndThePrometheusVariable) {
  const auto dashboards = load_dashboards();
  ASSERT_EQ(dashboards.size(), 3u);
  std::set<std::string> uids;
  for (const auto& [file, d] : dashboards) {
    SCOPED_TRACE(file);
    ASSERT_FALSE(d.is_discarded()) << "not JSON";
    ASSERT_TRUE(d.is_object());
    EXPECT_TRUE(d.value("title", "").starts_with("Tollgate "));
    EXPECT_TRUE(uids.insert(d.value("uid", "")).second) << "uid repeated";
    EXPECT_EQ(panel_id_problems(d), std::vector<std::string>{});
    bool has_variable = false;
    for (const auto& v : d["templating"]["list"]) {
      if (v.value("name", "") == "DS_PROMETHEUS" && v.value("type", "") == "datasource") {
        has_variable = true;
        EXPECT_EQ(v["current"]["value"], "prometheus");
      }
    }
    EXPECT_TRUE(has_variable);
    std::size_t queries = 0;
    for (const auto& p : d["panels"]) {
      if (p.value("type", "") == "row") continue;
      EXPECT_EQ(p["datasource"]["uid"], "${DS_PROMETHEUS}") << p.value("title", "");
      ASSERT_TRUE(p["targets"].is_array()) << p.value("title", "");
      EXPECT_FALSE(p["targets"].empty()) << p.value("title", "");
      for (const auto& t : p["targets"]) {
        EXPECT_EQ(t["datasource"]["uid"], "${DS_PROMETHEUS}") << p.value("title", "");
        EXPECT_FALSE(metric_names(t.value("expr", "")).empty()) << p.value("title", "") << ": " << t.value("expr", "");
        ++queries;
      }
    }
    EXPECT_GE(queries, 10u);
  }
}

class DashboardMetricsLiveTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.start(); }

  std::string deployment(const std::string& group, const std::string& id, const std::string& controls = "") const {
    return "  - model_name: " + group + "\n    litellm_params: {model: openai/m-" + id + ", api_base: \"" +
           fake_deployment_base(fake_.port(), id, controls) +
           "\", api_key: k, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\n"
           "    model_info: {id: " + id + "}\n";
  }

  FakeProvider fake_;
};

std::string chat(const std::string& model, bool stream = false) {
  Json body = {{"model", model}, {"max_tokens", 5}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  if (stream) body["stream"] = true;
  return body.dump();
}

TEST_F(DashboardMetricsLiveTest, EveryQueriedMetricIsExportedAfterTraffic) {
  const std::string yaml =
      "model_list:\n" + deployment("main", "ok") + deployment("flaky", "limited", "status=429/retry_after=60") +
      deployment("broken", "erroring", "status=500") +
      // No price (the table does not know m-free): tollgate_unpriced_requests_total.
      "  - model_name: unpriced\n    litellm_params: {model: openai/m-free, api_base: \"" +
      fake_deployment_base(fake_.port(), "free") + "\", api_key: k}\n" +
      "router_settings: {num_retries: 0, fallbacks: [{\"flaky\": [\"main\"]}, {\"broken\": [\"flaky\"]}]}\n"
      "general_settings: {master_key: " + kMasterKey + ", proxy_batch_write_at: 1}\n"
      "tollgate_settings: {access_log: \"off\"}\n";
  Gateway gw(yaml);

  // A team with a budget and a key in it with soft and hard budgets: spend, token and budget series.
  ASSERT_EQ(gw.post("/team/new", Json{{"team_id", "t1"}, {"team_alias", "team-one"}, {"max_budget", 100}}.dump()).status, 200u);
  HttpResponse created = gw.post("/key/generate", Json{{"key_alias", "ci"}, {"team_id", "t1"}, {"soft_budget", 0.000001},
                                                       {"max_budget", 50}}.dump());
  ASSERT_EQ(created.status, 200u) << created.body;
  const Headers key = {{"authorization", "Bearer " + created.json()["key"].get<std::string>()}};

  EXPECT_EQ(gw.post("/v1/chat/completions", chat("main"), key).status, 200u);
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("main"), key).status, 200u);  // spend now over the soft budget
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("main", /*stream=*/true), key).status, 200u);
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("unpriced")).status, 200u);
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("flaky")).status, 200u);     // 429, cooled, fallback to main answers
  EXPECT_NE(gw.post("/v1/chat/completions", chat("broken")).status, 200u);    // 500, fallback to flaky: none available
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("main"), {{"authorization", "Bearer sk-wrong"}}).status, 401u);

  // Some series may come from background work (the spend writer): poll briefly before judging.
  std::string text;
  Exposition exposition;
  std::vector<std::string> missing;
  std::map<std::string, std::set<std::string>> where;  // metric -> dashboards
  for (const auto& [file, d] : load_dashboards()) {
    for (const std::string& q : dashboard_queries(d)) {
      for (const std::string& name : metric_names(q)) where[name].insert(file);
    }
  }
  ASSERT_GE(where.size(), 30u);
  eventually([&] {
    text = gw.get("/metrics", {}).body;
    exposition = parse_exposition(text);
    missing.clear();
    for (const auto& [name, files] : where) {
      if (!exported(exposition, name)) missing.push_back(name);
    }
    return missing.empty();
  }, std::chrono::seconds(3));

  std::string report;
  for (const std::string& name : missing) {
    report += "\n  " + name + "  (queried by";
    for (const std::string& f : where[name]) report += " " + f;
    report += ")";
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << where.size()
                               << " metrics the dashboards query are not exported by the gateway:" << report;
}

}  // namespace
}  // namespace tollgate::testing
