// Spend tracking end to end: exact cost charged to key, user, team and organization (SQLite and a
// real PostgreSQL), spend logs and reports, spend metrics, stream vs whole-answer usage, and no
// spend lost to `kill -9`.
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_fixture.hpp"
#include "support/eventually.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway_process.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

PostgresServer& postgres() {
  static PostgresServer server;
  return server;
}

// Every answer reports 16 prompt and 8 completion tokens. Prices are powers of two, so sums of
// costs are exact in binary: 16 x 2^-10 + 8 x 2^-8 = 2^-6 + 2^-5.
constexpr double kCost = 16.0 / 1024 + 8.0 / 256;
// The baseline model's prices, for the counterfactual: 16 x 2^-8 + 8 x 2^-6.
constexpr double kBaselineCost = 16.0 / 256 + 8.0 / 64;

std::string config_for(const std::string& backend, std::uint16_t provider_port, const std::string& batch_seconds = "1",
                       const std::string& more_tollgate = "", const std::string& more_general = "") {
  ConfigExtras extras;
  const std::string base = fake_deployment_base(provider_port, "priced", "prompt_tokens=16/completion_tokens=8");
  extras.models =
      "  - model_name: priced\n"
      "    litellm_params: {model: openai/priced-model, api_base: \"" + base + "\", api_key: sk-upstream, "
      "input_cost_per_token: 0.0009765625, output_cost_per_token: 0.00390625}\n"
      "    model_info: {id: priced-1}\n"
      "  - model_name: baseline\n"
      "    litellm_params: {model: openai/baseline-model, api_base: \"" + base + "\", api_key: sk-upstream, "
      "input_cost_per_token: 0.00390625, output_cost_per_token: 0.015625}\n";
  extras.general = ", proxy_batch_write_at: " + batch_seconds + ", baseline_model: baseline" + more_general;
  if (backend == "postgres") extras.general += ", database_url: \"" + postgres().create_database() + "\"";
  extras.tollgate = more_tollgate;
  return fake_config("http://127.0.0.1:9", extras);
}

Headers bearer(const std::string& key) { return {{"authorization", "Bearer " + key}}; }

std::string chat(bool stream = false, const std::string& user = "") {
  Json body = {{"model", "priced"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  if (!user.empty()) body["user"] = user;
  return body.dump();
}

// The value of the first sample of `family` whose labels contain every one of `labels`.
std::optional<double> sample(const std::string& metrics, const std::string& family,
                             const std::vector<std::string>& labels) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(family + "{") && line.rfind(family + " ", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

class SpendTest : public ::testing::TestWithParam<std::string> {
 protected:
  SpendTest() : gw_(config_for(GetParam(), started(provider_).port())) {}

  Json admin(const std::string& path, const Json& body) {
    HttpResponse r = gw_.post(path, body.dump());
    EXPECT_EQ(r.status, 200u) << path << " " << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  Json get(const std::string& path, unsigned expect = 200, Headers h = auth_headers()) {
    HttpResponse r = gw_.get(path, std::move(h));
    EXPECT_EQ(r.status, expect) << path << " " << r.body;
    return Json::parse(r.body, nullptr, false);
  }

  static FakeProvider& started(FakeProvider& p) {
    p.start();
    return p;
  }

  FakeProvider provider_;
  Gateway gw_;
};

TEST_P(SpendTest, EveryLevelIsChargedExactlyNTimesTheRequestCost) {
  const std::string org = admin("/organization/new", {{"organization_alias", "acme"}})["organization_id"];
  admin("/team/new", {{"team_id", "eng"}, {"team_alias", "Engineering"}, {"organization_id", org}, {"max_budget", 10000}});
  admin("/user/new", {{"user_id", "ada"}, {"auto_create_key", false}});
  const Json made = admin("/key/generate", {{"team_id", "eng"}, {"user_id", "ada"}, {"key_alias", "ada-ci"}, {"max_budget", 1000}});
  const std::string key = made["key"];
  const std::string hash = made["token"];

  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  constexpr int kN = kThreads * kPerThread;
  std::mutex mu;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        HttpResponse r = gw_.post("/v1/chat/completions", chat(), bearer(key));
        EXPECT_EQ(r.status, 200u) << r.body;
        EXPECT_EQ(std::stod(r.header("x-litellm-response-cost")), kCost);
        std::lock_guard lock(mu);
        ids.insert(r.header("x-litellm-call-id"));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kN));

  ASSERT_TRUE(eventually([&] { return get("/key/info?key=" + key)["info"]["spend"].get<double>() == kN * kCost; }, 10s))
      << get("/key/info?key=" + key).dump();
  EXPECT_NEAR(get("/user/info?user_id=ada")["user_info"]["spend"].get<double>(), kN * kCost, 1e-9);
  EXPECT_NEAR(get("/team/info?team_id=eng")["team_info"]["spend"].get<double>(), kN * kCost, 1e-9);
  EXPECT_NEAR(get("/organization/info?organization_id=" + org)["spend"].get<double>(), kN * kCost, 1e-9);

  const Json logs = get("/spend/logs?api_key=" + key + "&page_size=1000");
  ASSERT_EQ(logs.size(), static_cast<std::size_t>(kN));
  std::set<std::string> logged;
  for (const Json& row : logs) {
    logged.insert(row["request_id"].get<std::string>());
    EXPECT_EQ(row["spend"].get<double>(), kCost);
    EXPECT_EQ(row["counterfactual_spend"].get<double>(), kBaselineCost);
    EXPECT_EQ(row["prompt_tokens"], 16);
    EXPECT_EQ(row["completion_tokens"], 8);
    EXPECT_EQ(row["api_key"], hash);
    EXPECT_EQ(row["user"], "ada");
    EXPECT_EQ(row["team_id"], "eng");
    EXPECT_EQ(row["organization_id"], org);
    EXPECT_EQ(row["model_group"], "priced");
    EXPECT_EQ(row["model_id"], "priced-1");
    EXPECT_EQ(row["custom_llm_provider"], "openai");
    EXPECT_EQ(row["call_type"], "acompletion");
    EXPECT_EQ(row["status"], "success");
    EXPECT_EQ(row["messages"], "");  // store_prompts_in_spend_logs is off
  }
  EXPECT_EQ(logged, ids);

  // Metrics count the same traffic. The remaining-budget gauges are "as of the key's last
  // request": under concurrency an earlier request may finish last, so read them after one more.
  ASSERT_EQ(gw_.post("/v1/chat/completions", chat(), bearer(key)).status, 200u);
  const std::string metrics = gw_.get("/metrics", {}).body;
  const std::vector<std::string> who = {"hashed_api_key=\"" + hash + "\"", "team=\"eng\"", "team_alias=\"Engineering\"",
                                        "api_key_alias=\"ada-ci\"", "user=\"ada\"", "model=\"priced\""};
  EXPECT_EQ(sample(metrics, "litellm_spend_metric_total", who), (kN + 1) * kCost);
  EXPECT_EQ(sample(metrics, "litellm_input_tokens_metric_total", who), (kN + 1) * 16.0);
  EXPECT_EQ(sample(metrics, "litellm_output_tokens_metric_total", who), (kN + 1) * 8.0);
  EXPECT_EQ(sample(metrics, "litellm_remaining_api_key_budget_metric", {"hashed_api_key=\"" + hash + "\""}),
            1000 - (kN + 1) * kCost);
  EXPECT_EQ(sample(metrics, "litellm_remaining_team_budget_metric", {"team=\"eng\""}), 10000 - (kN + 1) * kCost);
  EXPECT_EQ(sample(metrics, "tollgate_spend_events_total", {}), kN + 1);
  // Stored or still queued (1 s batches), never neither.
  EXPECT_EQ(*sample(metrics, "tollgate_spend_written_total", {}) + *sample(metrics, "tollgate_spend_queue_depth", {}),
            kN + 1);
  EXPECT_EQ(sample(metrics, "tollgate_spend_write_errors_total", {}), 0);
}

TEST_P(SpendTest, StreamedUsageAndCostEqualTheWholeAnswers) {
  const std::string key = admin("/key/generate", Json::object())["key"];
  HttpResponse whole = gw_.post("/v1/chat/completions", chat(false), bearer(key));
  ASSERT_EQ(whole.status, 200u) << whole.body;
  HttpResponse streamed = gw_.post("/v1/chat/completions", chat(true), bearer(key));
  ASSERT_EQ(streamed.status, 200u) << streamed.body;
  const StreamText text = parse_stream(streamed.body);
  ASSERT_TRUE(text.done);
  // The streamed usage is the whole answer's, plus its cost (as OpenRouter reports it).
  Json usage = text.usage;
  EXPECT_EQ(usage["cost"].get<double>(), kCost);
  usage.erase("cost");
  EXPECT_EQ(usage, Json::parse(whole.body)["usage"]);

  const std::string a = whole.header("x-litellm-call-id");
  const std::string b = streamed.header("x-litellm-call-id");
  Json rows;
  ASSERT_TRUE(eventually([&] {
    rows = get("/spend/logs?api_key=" + key);
    return rows.size() == 2;
  }, 10s));
  std::map<std::string, Json> by_id;
  for (const Json& r : rows) by_id[r["request_id"]] = r;
  for (const char* field : {"prompt_tokens", "completion_tokens", "total_tokens", "spend"}) {
    EXPECT_EQ(by_id[a][field], by_id[b][field]) << field;
  }
  EXPECT_EQ(by_id[b]["spend"].get<double>(), kCost);
  EXPECT_EQ(by_id[b]["metadata"]["stream"], true);
  // The stream's first chunk came before its end.
  EXPECT_LE(by_id[b]["startTime"].get<std::string>(), by_id[b]["completionStartTime"].get<std::string>());
}

TEST_P(SpendTest, ReportsSumTheLogsByTeamCustomerKeyModelAndDay) {
  admin("/team/new", {{"team_id", "red"}});
  admin("/team/new", {{"team_id", "blue"}});
  admin("/user/new", {{"user_id", "rosa"}, {"auto_create_key", false}});
  const Json red = admin("/key/generate", {{"team_id", "red"}, {"user_id", "rosa"}});
  const Json blue = admin("/key/generate", {{"team_id", "blue"}});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(gw_.post("/v1/chat/completions", chat(false, "cust-1"), bearer(red["key"])).status, 200u);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(gw_.post("/v1/chat/completions", chat(), bearer(blue["key"])).status, 200u);
  ASSERT_TRUE(eventually([&] { return get("/spend/logs").size() == 5; }, 10s));

  const Json by_team = get("/global/spend/report?group_by=team");
  ASSERT_EQ(by_team.size(), 1u);  // one day
  std::map<std::string, double> team_spend;
  for (const Json& t : by_team[0]["teams"]) team_spend[t["team_name"]] = t["total_spend"];
  EXPECT_EQ(team_spend, (std::map<std::string, double>{{"blue", 2 * kCost}, {"red", 3 * kCost}}));

  const Json by_customer = get("/global/spend/report?group_by=customer");
  std::map<std::string, double> customer_spend;
  for (const Json& c : by_customer[0]["customers"]) customer_spend[c["customer"]] = c["total_spend"];
  EXPECT_EQ(customer_spend["cust-1"], 3 * kCost);

  const Json by_key = get("/global/spend/report?group_by=api_key&api_key=" + red["key"].get<std::string>());
  ASSERT_EQ(by_key.size(), 1u);
  EXPECT_EQ(by_key[0]["api_key"], red["token"]);
  EXPECT_EQ(by_key[0]["total_cost"].get<double>(), 3 * kCost);
  EXPECT_EQ(by_key[0]["total_input_tokens"], 48);
  EXPECT_EQ(by_key[0]["model_details"][0]["model"], "priced");

  const Json keys = get("/global/spend/keys?limit=1");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["api_key"], red["token"]);
  EXPECT_EQ(get("/global/spend/models")[0], (Json{{"model", "priced"}, {"total_spend", 5 * kCost}}));
  const Json teams = get("/global/spend/teams");
  EXPECT_EQ(teams["teams"], (Json{"blue", "red"}));
  EXPECT_EQ(teams["daily_spend"][0]["red"].get<double>(), 3 * kCost);

  const Json user = get("/user/daily/activity?user_id=rosa");
  ASSERT_EQ(user["results"].size(), 1u);
  EXPECT_EQ(user["results"][0]["metrics"]["api_requests"], 3);
  EXPECT_EQ(user["results"][0]["breakdown"]["models"]["priced"]["spend"].get<double>(), 3 * kCost);
  EXPECT_EQ(user["metadata"]["total_spend"].get<double>(), 3 * kCost);
  EXPECT_EQ(get("/team/daily/activity?team_ids=blue")["metadata"]["total_api_requests"], 2);

  const Json savings = get("/global/spend/savings?group_by=team");
  EXPECT_EQ(savings["baseline_model"], "baseline");
  EXPECT_EQ(savings["total"]["actual_spend"].get<double>(), 5 * kCost);
  EXPECT_EQ(savings["total"]["counterfactual_spend"].get<double>(), 5 * kBaselineCost);
  EXPECT_EQ(savings["total"]["savings"].get<double>(), 5 * (kBaselineCost - kCost));

  // Date filters: nothing before today's logs; a plain end date includes its whole day.
  EXPECT_TRUE(get("/global/spend/report?group_by=team&start_date=2000-01-01&end_date=2000-01-02").empty());
  EXPECT_EQ(get("/spend/logs?start_date=2000-01-01").size(), 5u);
  EXPECT_EQ(get("/spend/logs?end_date=2000-01-01").size(), 0u);
  EXPECT_EQ(get("/spend/logs?page_size=2&page=3").size(), 1u);
  EXPECT_EQ(get("/spend/logs?start_date=yesterday", 400)["error"]["param"], "start_date");
  EXPECT_EQ(get("/global/spend/report?group_by=planet", 400)["error"]["param"], "group_by");

  // A key that is not an admin sees its own logs only, and no global report.
  const std::string own = blue["key"];
  EXPECT_EQ(get("/spend/logs", 200, bearer(own)).size(), 2u);
  get("/global/spend/report", 403, bearer(own));
}

INSTANTIATE_TEST_SUITE_P(Stores, SpendTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

// A queue capped at 2 events: the rest wait in the journal only (counted), and are all stored.
TEST(SpendQueueTest, EventsBeyondTheQueueCapSpillToTheJournalAndAreStillStored) {
  FakeProvider provider;
  provider.start();
  Gateway gw(config_for("sqlite", provider.port(), "1", ", spend_queue_max_events: 2"));
  HttpResponse made = gw.post("/key/generate", "{}");
  ASSERT_EQ(made.status, 200u) << made.body;
  const std::string key = Json::parse(made.body)["key"];
  for (int i = 0; i < 12; ++i) ASSERT_EQ(gw.post("/v1/chat/completions", chat(), bearer(key)).status, 200u);
  ASSERT_TRUE(eventually([&] { return Json::parse(gw.get("/spend/logs?api_key=" + key).body).size() == 12; }, 10s));
  // The writer counts a batch just after the database has it: wait for the count too.
  std::string metrics;
  eventually([&] {
    metrics = gw.get("/metrics", {}).body;
    return sample(metrics, "tollgate_spend_written_total", {}) == 12;
  }, 5s);
  EXPECT_GE(sample(metrics, "tollgate_spend_spilled_total", {}).value_or(0), 1.0);
  EXPECT_EQ(sample(metrics, "tollgate_spend_written_total", {}), 12);
  const Json info = Json::parse(gw.get("/key/info?key=" + key).body);
  EXPECT_EQ(info["info"]["spend"].get<double>(), 12 * kCost);
}

TEST(SpendPromptsTest, StorePromptsInSpendLogsKeepsTheRequestAndTheWholeAnswer) {
  FakeProvider provider;
  provider.start();
  Gateway gw(config_for("sqlite", provider.port(), "1", "", ", store_prompts_in_spend_logs: true"));
  const std::string body = chat();
  HttpResponse r = gw.post("/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200u) << r.body;
  Json rows;
  ASSERT_TRUE(eventually([&] {
    rows = Json::parse(gw.get("/spend/logs?request_id=" + r.header("x-litellm-call-id")).body);
    return rows.size() == 1;
  }, 10s));
  EXPECT_EQ(rows[0]["messages"], body);
  EXPECT_EQ(Json::parse(rows[0]["response"].get<std::string>())["choices"], Json::parse(r.body)["choices"]);
  EXPECT_EQ(rows[0]["api_key"], "");  // the master key
}

// kill -9 in the middle of traffic, with a batch interval so long that nothing was written
// before: the restarted gateway replays its journal, and every request that got a 200 is in the
// spend logs exactly once, with the key's spend to match.
TEST(SpendJournalTest, KillNineMidLoadLosesNoSpend) {
  FakeProvider provider;
  provider.start();
  TempDir dir("tollgate-kill9");
  const std::string config_file = dir.file("config.yaml");
  std::ofstream(config_file) << config_for("sqlite", provider.port(), "3600");
  std::string key;
  std::mutex mu;
  std::set<std::string> answered;
  {
    GatewayProcess gw(TOLLGATE_BINARY, config_file, dir.file("first.log"));
    HttpResponse made = http_request(gw.port(), "POST", "/key/generate", "{}", auth_headers());
    ASSERT_EQ(made.status, 200u) << made.body;
    key = Json::parse(made.body)["key"];
    std::atomic<bool> stop{false};
    std::vector<std::thread> load;
    for (int t = 0; t < 4; ++t) {
      load.emplace_back([&, t] {
        while (!stop.load()) {
          try {
            HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat(t % 2 == 1), bearer(key), 2s);
            if (r.status == 200 && (t % 2 == 0 || parse_stream(r.body).done)) {
              std::lock_guard lock(mu);
              answered.insert(r.header("x-litellm-call-id"));
            }
          } catch (const std::exception&) {
            return;  // the gateway is gone
          }
        }
      });
    }
    std::this_thread::sleep_for(800ms);
    gw.kill_hard();
    stop = true;
    for (auto& t : load) t.join();
  }
  ASSERT_GT(answered.size(), 10u);

  GatewayProcess again(TOLLGATE_BINARY, config_file, dir.file("second.log"));
  // Every page of the key's spend logs.
  const auto all_logs = [&] {
    Json rows = Json::array();
    for (int page = 1;; ++page) {
      HttpResponse r = http_request(again.port(), "GET",
                                    "/spend/logs?page_size=1000&page=" + std::to_string(page) + "&api_key=" + key, {},
                                    auth_headers());
      const Json part = Json::parse(r.body, nullptr, false);
      if (r.status != 200 || !part.is_array() || part.empty()) return rows;
      rows.insert(rows.end(), part.begin(), part.end());
    }
  };
  // Pages are read once the replay is stored (rows added while paging would shift the pages).
  ASSERT_TRUE(eventually([&] {
    const std::string metrics = http_request(again.port(), "GET", "/metrics", {}, {}).body;
    return sample(metrics, "tollgate_spend_queue_depth", {}) == 0.0 && sample(metrics, "tollgate_spend_written_total", {}) > 0;
  }, 15s));
  const Json logs = all_logs();
  ASSERT_GE(logs.size(), answered.size());
  std::map<std::string, int> seen;
  for (const Json& row : logs) ++seen[row["request_id"].get<std::string>()];
  for (const std::string& id : answered) EXPECT_EQ(seen[id], 1) << id;
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  const Json info = Json::parse(http_request(again.port(), "GET", "/key/info?key=" + key, {}, auth_headers()).body);
  EXPECT_NEAR(info["info"]["spend"].get<double>(), static_cast<double>(logs.size()) * kCost, 1e-9);
}

}  // namespace
}  // namespace tollgate::testing
