// The deployment's topology on loopback, without Docker (issue #7): two replicas of the real
// `tollgate` binary, each running deploy/config/tollgate.yaml as the compose stack does (secrets and
// addresses from the environment, a working directory of its own for the spend journal), sharing
// one PostgreSQL and one Redis, answered by the fake OpenAI provider, scraped by a real Prometheus
// configured from deploy/prometheus/prometheus.yml.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway_process.hpp"
#include "support/http_client.hpp"
#include "support/postgres_server.hpp"
#include "support/prometheus_server.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kMasterKey = "sk-cluster-master";
constexpr const char* kUpstreamKey = "sk-cluster-upstream";
constexpr const char* kModel = "gpt-4o-mini";
// The fake reports 1000 prompt and 1000 completion tokens for every answer: at gpt-4o-mini's
// compiled-in prices ($0.15 and $0.60 per million) each request costs $0.00075, a whole number of
// the limiter's micro-dollars.
constexpr int kTokens = 1000;
constexpr double kCost = kTokens * 0.15e-6 + kTokens * 0.6e-6;

std::string source_file(const std::string& relative) { return std::string(TOLLGATE_SOURCE_DIR) + "/" + relative; }

// Started once per process (seconds each); every test takes its own database and empties Redis.
struct SharedServers {
  SharedServers() { provider.start(); }
  PostgresServer postgres;
  RedisServer redis;
  FakeProvider provider;
  std::unique_ptr<PrometheusServer> prometheus;  // started by the first test that needs it
};

SharedServers& servers() {
  static SharedServers s;
  return s;
}

// The shared Prometheus, running deploy/prometheus/prometheus.yml with its `tollgate` job aimed
// at `targets` and scraping every second.
PrometheusServer& prometheus_scraping(const std::vector<std::string>& targets) {
  const std::string path = source_file("deploy/prometheus/prometheus.yml");
  const std::string text = read_text_file(path);
  if (text.empty()) throw std::runtime_error(path + " is missing or empty (the deployment's Prometheus configuration)");
  const std::string config = with_job_targets(text, "tollgate", targets, 1s, source_file("deploy/prometheus"));
  std::unique_ptr<PrometheusServer>& p = servers().prometheus;
  if (p) {
    p->reload(config);
  } else {
    p = std::make_unique<PrometheusServer>(config);
  }
  return *p;
}

Headers bearer(const std::string& key) { return {{"authorization", "Bearer " + key}}; }

std::string chat_body(bool stream = false) {
  Json body = {{"model", kModel}, {"max_tokens", kTokens}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body.dump();
}

// The value of the first series of `family` in a /metrics text whose labels include all of `labels`.
std::optional<double> series_value(const std::string& text, const std::string& family,
                                   const std::vector<std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(family + "{") && !line.starts_with(family + " ")) continue;
    bool all = true;
    for (const std::string& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

// The numbers of an instant vector from Prometheus, by instance.
std::map<std::string, double> by_instance(const Json& result) {
  std::map<std::string, double> out;
  for (const Json& s : result) out[s["metric"].value("instance", "")] = std::stod(s["value"][1].get<std::string>());
  return out;
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class ClusterTest : public ::testing::Test {
 protected:
  ClusterTest() : database_url_(servers().postgres.create_database()) {
    servers().redis.command({"FLUSHALL"});
    servers().provider.clear();
    one_ = start_replica("one", "gateway.log");
    two_ = start_replica("two", "gateway.log");
  }

  // A replica as the compose stack runs one: the deployment's file as it is, its environment, its
  // own working directory (so its own spend journal, kept across a restart).
  std::unique_ptr<GatewayProcess> start_replica(const std::string& name, const std::string& log) {
    const std::string dir = dir_.file(name);
    std::filesystem::create_directories(dir);
    // The fake's usage controls go in its base URL, before /v1.
    const std::string base = servers().provider.base_url();
    const std::string upstream = base.substr(0, base.size() - 3) + "/prompt_tokens=" + std::to_string(kTokens) +
                                 "/completion_tokens=" + std::to_string(kTokens) + "/v1";
    GatewayProcessOptions options;
    options.working_dir = dir;
    options.args = {"--host", "127.0.0.1"};  // the file's 0.0.0.0 is for containers
    options.env = {std::string("LITELLM_MASTER_KEY=") + kMasterKey, "DATABASE_URL=" + database_url_,
                   "REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(servers().redis.port()),
                   std::string("OPENAI_API_KEY=") + kUpstreamKey, "OPENAI_API_BASE=" + upstream};
    return std::make_unique<GatewayProcess>(TOLLGATE_BINARY, source_file("deploy/config/tollgate.yaml"),
                                            dir + "/" + log, options);
  }

  const GatewayProcess& replica(int i) const { return i % 2 == 0 ? *one_ : *two_; }

  static HttpResponse chat(const GatewayProcess& gw, const std::string& key) {
    return http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(), bearer(key));
  }

  static Json admin_get(const GatewayProcess& gw, const std::string& path) {
    HttpResponse r = http_request(gw.port(), "GET", path, {}, bearer(kMasterKey));
    EXPECT_EQ(r.status, 200u) << path << " " << r.body;
    return r.json();
  }

  // A virtual key minted through replica one.
  std::string mint_key(const Json& fields) const {
    HttpResponse r = http_request(one_->port(), "POST", "/key/generate", fields.dump(), bearer(kMasterKey));
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("key", "");
  }

  static double key_spend(const GatewayProcess& gw, const std::string& key) {
    return admin_get(gw, "/key/info?key=" + key)["info"].value("spend", -1.0);
  }

  // Every page of the key's spend-log rows.
  static Json spend_logs(const GatewayProcess& gw, const std::string& key) {
    Json rows = Json::array();
    for (int page = 1;; ++page) {
      const Json part = admin_get(gw, "/spend/logs?page_size=1000&page=" + std::to_string(page) + "&api_key=" + key);
      if (!part.is_array() || part.empty()) return rows;
      rows.insert(rows.end(), part.begin(), part.end());
    }
  }

  static std::optional<double> metric(const GatewayProcess& gw, const std::string& family,
                                      const std::vector<std::string>& labels = {}) {
    return series_value(http_request(gw.port(), "GET", "/metrics").body, family, labels);
  }

  // No spend event of this replica is waiting for the database (its batch interval is 10 s).
  static bool spend_stored(const GatewayProcess& gw) { return metric(gw, "tollgate_spend_queue_depth") == 0.0; }

  TempDir dir_{"tollgate-cluster"};
  std::string database_url_;
  std::unique_ptr<GatewayProcess> one_;
  std::unique_ptr<GatewayProcess> two_;
};

TEST_F(ClusterTest, TrafficSpreadsOverBothReplicasAndIsBilledInOneDatabase) {
  const std::string key = mint_key({{"key_alias", "spread"}});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::mutex mu;
  std::array<std::set<std::string>, 2> ids;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int r = (t + i) % 2;
        HttpResponse resp = chat(replica(r), key);
        std::lock_guard lock(mu);
        if (resp.status == 200) {
          ids[r].insert(resp.header("x-litellm-call-id"));
        } else {
          failures.push_back(std::to_string(resp.status) + " " + resp.body);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.front();
  constexpr int kEach = kThreads * kPerThread / 2;
  ASSERT_EQ(ids[0].size(), std::size_t{kEach});
  ASSERT_EQ(ids[1].size(), std::size_t{kEach});

  // Each replica counted its own share (a request is counted once its answer is written, so a
  // moment after the client has it); the upstream saw all of it, with the key from the environment.
  const std::vector<std::string> ok = {"requested_model=\"gpt-4o-mini\"", "status_code=\"200\""};
  std::optional<double> counted;
  for (const GatewayProcess* gw : {one_.get(), two_.get()}) {
    EXPECT_TRUE(eventually([&] { return (counted = metric(*gw, "litellm_proxy_total_requests_metric_total", ok)) == kEach; },
                           2s, 20ms))
        << counted.value_or(-1) << " requests counted by the replica on port " << gw->port();
  }
  const std::vector<RecordedRequest> upstream = servers().provider.requests();
  EXPECT_EQ(upstream.size(), std::size_t{2 * kEach});
  for (const RecordedRequest& r : upstream) EXPECT_EQ(r.headers.at("authorization"), std::string("Bearer ") + kUpstreamKey);

  // One database: every answer of both replicas is logged once, at its price.
  Json rows;
  ASSERT_TRUE(eventually([&] { return (rows = spend_logs(*one_, key)).size() >= 2 * kEach; }, 20s, 200ms))
      << rows.size() << " rows";
  std::set<std::string> logged;
  for (const Json& row : rows) {
    logged.insert(row["request_id"].get<std::string>());
    EXPECT_NEAR(row["spend"].get<double>(), kCost, 1e-12);
    EXPECT_EQ(row["model_group"], kModel);
    EXPECT_EQ(row["model_id"], "gpt-4o-mini-1");
  }
  std::set<std::string> all = ids[0];
  all.insert(ids[1].begin(), ids[1].end());
  EXPECT_EQ(rows.size(), all.size());
  EXPECT_EQ(logged, all);
  EXPECT_NEAR(key_spend(*two_, key), 2 * kEach * kCost, 1e-9);
}

TEST_F(ClusterTest, KeyRpmLimitHoldsAcrossReplicas) {
  constexpr int kLimit = 6;
  const std::string key = mint_key({{"rpm_limit", kLimit}});
  std::array<int, 2> admitted{};
  int limited = 0;
  for (int i = 0; i < 3 * kLimit; ++i) {
    HttpResponse r = chat(replica(i), key);
    if (r.status == 200) {
      ++admitted[i % 2];
      continue;
    }
    ++limited;
    EXPECT_EQ(r.status, 429u) << r.body;
    const Json error = r.json()["error"];
    EXPECT_EQ(error["type"], "rate_limit_error") << r.body;
    EXPECT_EQ(error["code"], "429") << r.body;
    EXPECT_FALSE(r.header("retry-after").empty());
  }
  EXPECT_EQ(admitted[0] + admitted[1], kLimit);
  EXPECT_GT(admitted[0], 0);
  EXPECT_GT(admitted[1], 0);
  EXPECT_EQ(limited, 2 * kLimit);
}

TEST_F(ClusterTest, KeyBudgetHoldsAcrossReplicas) {
  constexpr int kAffordable = 4;
  const std::string key = mint_key({{"max_budget", kAffordable * kCost}});
  // One request at a time, alternating: each admission sees the cost of those before it, settled
  // in Redis by whichever replica served them.
  std::array<int, 2> admitted{};
  for (int i = 0; i < 3 * kAffordable; ++i) {
    HttpResponse r = chat(replica(i), key);
    if (r.status == 200) {
      ++admitted[i % 2];
    } else {
      EXPECT_EQ(r.status, 400u) << r.body;
      EXPECT_EQ(r.json()["error"]["type"], "budget_exceeded") << r.body;
    }
  }
  EXPECT_EQ(admitted[0], kAffordable / 2);
  EXPECT_EQ(admitted[1], kAffordable / 2);
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = chat(replica(i), key);
    EXPECT_EQ(r.status, 400u) << r.body;
    EXPECT_TRUE(r.json()["error"].value("message", "").starts_with("Budget has been exceeded!")) << r.body;
  }
  // The database ends up with what was spent: the budget, not more.
  ASSERT_TRUE(eventually([&] { return spend_stored(*one_) && spend_stored(*two_); }, 20s, 200ms));
  EXPECT_NEAR(key_spend(*two_, key), kAffordable * kCost, 1e-9);
}

TEST_F(ClusterTest, KeyDeletedThroughOneReplicaIsRefusedByTheOther) {
  const std::string key = mint_key(Json::object());
  ASSERT_EQ(chat(*two_, key).status, 200u);  // replica two has the key in its cache now
  HttpResponse del = http_request(one_->port(), "POST", "/key/delete", Json{{"keys", {key}}}.dump(), bearer(kMasterKey));
  ASSERT_EQ(del.status, 200u) << del.body;
  EXPECT_EQ(del.json()["deleted_keys"], Json::array({key}));
  EXPECT_EQ(chat(*one_, key).status, 401u);
  // Far inside the key cache's 30 s TTL: the deletion reached replica two through Redis.
  HttpResponse refused;
  EXPECT_TRUE(eventually([&] { return (refused = chat(*two_, key)).status == 401; }, 2s, 20ms)) << refused.status;
  EXPECT_EQ(refused.json()["error"]["code"], "401") << refused.body;
}

TEST_F(ClusterTest, PrometheusScrapesBothReplicasAndCountsEveryRequest) {
  const std::string a = "127.0.0.1:" + std::to_string(one_->port());
  const std::string b = "127.0.0.1:" + std::to_string(two_->port());
  PrometheusServer& prometheus = prometheus_scraping({a, b});
  // Sent while Prometheus takes up the new targets (its discovery waits up to 5 s).
  constexpr int kRequests = 24;
  for (int i = 0; i < kRequests; ++i) ASSERT_EQ(chat(replica(i), kMasterKey).status, 200u);
  const double traffic_end = unix_seconds_now();

  Json targets;
  const auto both_up = [&] {
    targets = prometheus.active_targets();
    std::set<std::string> up;
    for (const Json& t : targets) {
      if (t["labels"].value("job", "") == "tollgate" && t.value("health", "") == "up") up.insert(t["labels"].value("instance", ""));
    }
    return up == std::set<std::string>{a, b};
  };
  ASSERT_TRUE(eventually(both_up, 20s, 200ms)) << targets.dump(2);

  // A scrape of each that began after the last answer (plus a margin for the counter's increment).
  const std::string selector = "{job=\"tollgate\",instance=~\"" + a + "|" + b + "\"}";
  std::map<std::string, double> scraped_at;
  ASSERT_TRUE(eventually([&] {
    scraped_at = by_instance(prometheus.query("timestamp(up" + selector + ")"));
    return scraped_at.size() == 2 && scraped_at[a] > traffic_end + 0.2 && scraped_at[b] > traffic_end + 0.2;
  }, 10s, 100ms));

  const Json total = prometheus.query("sum(litellm_proxy_total_requests_metric_total" + selector + ")");
  ASSERT_EQ(total.size(), 1u) << total.dump();
  EXPECT_EQ(std::stod(total[0]["value"][1].get<std::string>()), kRequests);
  const auto each = by_instance(prometheus.query("sum by (instance) (litellm_proxy_total_requests_metric_total" + selector + ")"));
  EXPECT_EQ(each, (std::map<std::string, double>{{a, kRequests / 2}, {b, kRequests / 2}}));
}

// Load on both replicas, replica two SIGKILLed in the middle: replica one keeps answering, and
// once two is restarted in its working directory (its spend journal replayed) every answered
// request is in the spend logs exactly once, with the key's spend to match.
TEST_F(ClusterTest, ReplicaKilledMidLoadLosesNoRequestsElsewhereAndNoSpend) {
  const std::string key = mint_key(Json::object());
  const std::array<std::uint16_t, 2> ports = {one_->port(), two_->port()};
  std::mutex mu;
  std::set<std::string> answered;
  std::array<int, 2> answered_by{};
  int survivor_after_kill = 0;
  std::vector<std::string> failures;  // all but the killed replica's after the kill
  std::atomic<bool> killed{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      const bool stream = t % 2 == 1;
      for (int i = 0; !stop.load(); ++i) {
        const int r = (t + i) % 2;
        const bool after_kill = killed.load();
        try {
          HttpResponse resp =
              http_request(ports[r], "POST", "/v1/chat/completions", chat_body(stream), bearer(key), 5s);
          const bool whole = resp.status == 200 && (!stream || resp.body.find("data: [DONE]") != std::string::npos);
          std::lock_guard lock(mu);
          if (whole) {
            answered.insert(resp.header("x-litellm-call-id"));
            ++answered_by[r];
            survivor_after_kill += r == 0 && after_kill;
          } else if (r == 0 || !killed.load()) {  // else: cut off by the kill
            failures.push_back(std::to_string(resp.status) + " " + resp.body);
          }
        } catch (const std::exception& e) {
          if (r == 1 && killed.load()) continue;  // the killed replica: refused or cut off
          std::lock_guard lock(mu);
          failures.push_back(std::string("replica ") + (r == 0 ? "one" : "two") + ": " + e.what());
        }
      }
    });
  }
  const auto locked = [&](const auto& read) {
    std::lock_guard lock(mu);
    return read();
  };
  const bool warmed = eventually([&] { return locked([&] { return answered_by[0] >= 20 && answered_by[1] >= 20; }); }, 10s, 10ms);
  killed = true;
  two_->kill_hard();
  const bool survived = eventually([&] { return locked([&] { return survivor_after_kill >= 20; }); }, 10s, 10ms);
  stop = true;
  for (auto& t : load) t.join();
  ASSERT_TRUE(warmed);
  EXPECT_TRUE(survived) << survivor_after_kill << " answers from replica one after the kill";
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();

  two_ = start_replica("two", "restarted.log");
  Json rows;
  const auto all_stored = [&] {
    if (!spend_stored(*one_) || !spend_stored(*two_)) return false;
    rows = spend_logs(*one_, key);
    std::set<std::string> logged;
    for (const Json& row : rows) logged.insert(row["request_id"].get<std::string>());
    return std::includes(logged.begin(), logged.end(), answered.begin(), answered.end());
  };
  ASSERT_TRUE(eventually(all_stored, 30s, 200ms)) << rows.size() << " rows for " << answered.size() << " answers";
  std::map<std::string, int> seen;
  double logged_spend = 0;
  for (const Json& row : rows) {
    ++seen[row["request_id"].get<std::string>()];
    logged_spend += row["spend"].get<double>();
  }
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  EXPECT_NEAR(logged_spend, static_cast<double>(rows.size()) * kCost, 1e-9);
  EXPECT_NEAR(key_spend(*two_, key), logged_spend, 1e-9);
}

// The Helm chart's order: a migration Job (`tollgate --migrate-only`) before replicas started with
// `--skip-migrations`. Until the Job has run, a replica is alive but not ready; afterwards it is.
TEST(HelmTopologyTest, ReplicasSkippingMigrationsBecomeReadyWhenTheMigrationJobHasRun) {
  TempDir dir;
  const std::string database_url = servers().postgres.create_database();
  GatewayProcessOptions options;
  options.working_dir = dir.path();
  options.args = {"--host", "127.0.0.1", "--skip-migrations"};
  options.env = {std::string("LITELLM_MASTER_KEY=") + kMasterKey, "DATABASE_URL=" + database_url,
                 "REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(servers().redis.port()),
                 "OPENAI_API_BASE=" + servers().provider.base_url()};
  GatewayProcess replica(TOLLGATE_BINARY, source_file("deploy/config/tollgate.yaml"), dir.file("replica.log"), options);
  const auto readiness = [&] { return http_request(replica.port(), "GET", "/health/readiness"); };
  ASSERT_TRUE(eventually([&] { return readiness().json()["db"] == "schema not migrated"; }, 5s, 50ms))
      << readiness().body;
  EXPECT_EQ(readiness().status, 503u);
  EXPECT_EQ(http_request(replica.port(), "GET", "/health/liveliness").status, 200u);

  // The Job: the image's default config, only the database URL and the master key from the Secret.
  const pid_t job = spawn_process({TOLLGATE_BINARY, "--migrate-only", "--config", source_file("config/config.yaml")},
                                  dir.file("job.log"),
                                  {"DATABASE_URL=" + database_url, std::string("LITELLM_MASTER_KEY=") + kMasterKey});
  int status = 0;
  ASSERT_EQ(::waitpid(job, &status, 0), job);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text_file(dir.file("job.log"));

  ASSERT_TRUE(eventually([&] { return readiness().status == 200; }, 5s, 50ms)) << readiness().body;
  EXPECT_EQ(readiness().json()["db"], "connected");
  const HttpResponse key = http_request(replica.port(), "POST", "/key/generate", "{}", bearer(kMasterKey));
  EXPECT_EQ(key.status, 200u) << key.body;
}

}  // namespace
}  // namespace tollgate::testing
