// Config reload (POST /config/reload, SIGHUP) and readiness, through the whole gateway: a reload
// under load fails no request, in-flight requests finish on their own config, an invalid file
// changes nothing, and /health/readiness reports what the replica can do.
#include <gtest/gtest.h>

#include <signal.h>

#include <array>
#include <atomic>
#include <fstream>
#include <future>
#include <thread>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"
#include "support/gateway_process.hpp"
#include "tollgate/db/store.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string chat(const std::string& model) {
  return json{{"model", model}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}}.dump();
}

// `gpt-fake` on deployments `ids` of the fake provider, plus any extra model_list text.
std::string config_with(std::uint16_t fake_port, const std::vector<std::string>& ids, const std::string& extra = "") {
  std::string yaml = "model_list:\n";
  for (const auto& id : ids) {
    yaml += "  - model_name: gpt-fake\n    litellm_params: {model: openai/fake-model, api_base: \"" +
            fake_deployment_base(fake_port, id) + "\", api_key: sk-upstream}\n    model_info: {id: " + id + "}\n";
  }
  return yaml + extra + "general_settings: {master_key: " + kMasterKey + "}\ntollgate_settings: {access_log: \"off\"}\n";
}

std::size_t hits_of(const FakeProvider& fake, const std::string& id) {
  std::size_t n = 0;
  for (const auto& r : fake.requests()) n += r.target.find("/dep=" + id + "/") != std::string::npos;
  return n;
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.start(); }
  FakeProvider fake_;
};

TEST_F(ReloadTest, ReloadUnderLoadAddsADeploymentWithoutFailingARequest) {
  Gateway gw(config_with(fake_.port(), {"a", "b"}), {}, {.reloadable = true});
  constexpr int kThreads = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::array<std::atomic<int>, kThreads> answered{};  // per load thread
  std::string first_failure;
  std::mutex failure_mu;
  std::vector<std::thread> load;
  for (int t = 0; t < kThreads; ++t) {
    load.emplace_back([&, t, port = gw.port()] {
      HttpConnection conn(port);
      while (!stop.load()) {
        HttpResponse r = conn.request("POST", "/v1/chat/completions", chat("gpt-fake"), auth_headers());
        if (r.status == 200) {
          ++ok;
        } else {
          ++failed;
          const std::lock_guard lock(failure_mu);
          if (first_failure.empty()) first_failure = std::to_string(r.status) + " " + r.body;
        }
        ++answered[t];
      }
    });
  }
  // Returns once every load thread has had `n` answers to requests it sent after the call (one
  // more answer than that: the first may be to a request sent before): from then on no request
  // started before the call is still in flight.
  auto answered_after_now = [&](int n) {
    std::array<int, kThreads> from{};
    for (int t = 0; t < kThreads; ++t) from[t] = answered[t].load();
    return eventually([&] {
      for (int t = 0; t < kThreads; ++t) {
        if (answered[t].load() < from[t] + n + 1) return false;
      }
      return true;
    });
  };
  EXPECT_TRUE(answered_after_now(5));
  // Five reloads while the load runs: add c (and a new group), drop a, put a back, ...
  const std::string extra = "  - model_name: new-group\n    litellm_params: {model: openai/fake-model, api_base: \"" +
                            fake_deployment_base(fake_.port(), "n") + "\", api_key: sk-upstream}\n    model_info: {id: n}\n";
  const std::vector<std::vector<std::string>> versions = {{"a", "b", "c"}, {"b", "c"}, {"a", "b", "c"}, {"c"}, {"b", "c"}};
  std::uint64_t expected_version = 1;
  for (const auto& ids : versions) {
    gw.set_config(config_with(fake_.port(), ids, extra));
    HttpResponse r = gw.post("/config/reload", "");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.json()["status"], "reloaded");
    EXPECT_EQ(r.json()["config_version"], ++expected_version);
    EXPECT_EQ(r.json()["deployments"], ids.size() + 1);
    EXPECT_TRUE(answered_after_now(5));  // requests on this version
  }
  const std::size_t a_before = hits_of(fake_, "a");
  EXPECT_TRUE(answered_after_now(5));  // the last version (b, c) alone
  stop = true;
  for (auto& t : load) t.join();

  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 100);
  EXPECT_GT(hits_of(fake_, "c"), 0u) << "the added deployment never took traffic";
  EXPECT_EQ(hits_of(fake_, "a"), a_before) << "a removed deployment still took new requests";
  HttpResponse added = gw.post("/v1/chat/completions", chat("new-group"));
  EXPECT_EQ(added.status, 200u) << added.body;
  EXPECT_EQ(added.header("x-litellm-model-id"), "n");
  HttpResponse models = gw.get("/v1/models");
  EXPECT_NE(models.body.find("new-group"), std::string::npos);

  const std::string metrics = gw.get("/metrics").body;
  EXPECT_NE(metrics.find("tollgate_config_reloads_total{result=\"applied\"} 5"), std::string::npos);
  EXPECT_NE(metrics.find("tollgate_config_version 6"), std::string::npos);
}

TEST_F(ReloadTest, AStreamInFlightFinishesOnItsOwnConfigWhenItsDeploymentIsRemoved) {
  Gateway gw(config_with(fake_.port(), {"a"}), {}, {.reloadable = true});
  StreamReader s(gw.port(), "POST", "/v1/chat/completions",
                 R"({"model":"gpt-fake","stream":true,"messages":[],"fake":{"chunks":6,"delay_chunk_ms":80}})",
                 auth_headers());
  ASSERT_EQ(s.status(), 200u);
  auto first = s.read_some(2s);
  ASSERT_TRUE(first.has_value());

  gw.set_config(config_with(fake_.port(), {"b"}));
  HttpResponse reloaded = gw.post("/config/reload", "");
  ASSERT_EQ(reloaded.status, 200u) << reloaded.body;

  const StreamText st = parse_stream(*first + s.read_all(5s));
  EXPECT_TRUE(s.complete());
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_EQ(s.header("x-litellm-model-id"), "a");
  HttpResponse next = gw.post("/v1/chat/completions", chat("gpt-fake"));
  ASSERT_EQ(next.status, 200u) << next.body;
  EXPECT_EQ(next.header("x-litellm-model-id"), "b");
}

TEST_F(ReloadTest, AnInvalidConfigIsRejectedWithItsProblemsAndTheOldOneStays) {
  Gateway gw(config_with(fake_.port(), {"a"}), {}, {.reloadable = true});
  gw.set_config("model_list:\n  - model_name: broken\n    litellm_params: {model: openai/x, api_base: \"not a url\"}\n"
                "router_settings: {routing_strategy: fastest-please}\n"
                "general_settings: {master_key: " + std::string(kMasterKey) + "}\n");
  HttpResponse r = gw.post("/config/reload", "");
  ASSERT_EQ(r.status, 400u) << r.body;
  const json error = r.json()["error"];
  EXPECT_EQ(error["type"], "invalid_request_error");
  const std::string message = error["message"].get<std::string>();
  EXPECT_NE(message.find("model_list[0].litellm_params.api_base"), std::string::npos) << message;
  EXPECT_NE(message.find("router_settings.routing_strategy"), std::string::npos) << message;
  EXPECT_NE(message.find("version 1"), std::string::npos) << message;

  HttpResponse still = gw.post("/v1/chat/completions", chat("gpt-fake"));
  EXPECT_EQ(still.status, 200u) << still.body;
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("broken")).status, 400u);
  const std::string metrics = gw.get("/metrics").body;
  EXPECT_NE(metrics.find("tollgate_config_reloads_total{result=\"rejected\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("tollgate_config_version 1"), std::string::npos);
}

TEST_F(ReloadTest, SettingsThatNeedARestartKeepTheirRunningValuesAndAreNamed) {
  Gateway gw(config_with(fake_.port(), {"a"}), {}, {.reloadable = true});
  std::string next = config_with(fake_.port(), {"a", "b"});
  next.replace(next.find("access_log: \"off\""), 17, "access_log: \"off\", log_level: debug, spend_journal_dir: elsewhere");
  gw.set_config(next);
  HttpResponse r = gw.post("/config/reload", "");
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::string warnings = r.json()["warnings"].dump();
  EXPECT_NE(warnings.find("log settings changed: restart to apply"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("spend settings"), std::string::npos) << warnings;
  EXPECT_EQ(r.json()["deployments"], 2);
}

TEST_F(ReloadTest, TurningAuthenticationOffIsRefused) {
  Gateway gw(config_with(fake_.port(), {"a"}), {}, {.reloadable = true});
  gw.set_config("model_list:\n  - model_name: m\n    litellm_params: {model: openai/x, mock_response: hi}\n");
  HttpResponse r = gw.post("/config/reload", "");
  ASSERT_EQ(r.status, 400u) << r.body;
  EXPECT_NE(r.body.find("master_key"), std::string::npos);
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("gpt-fake"), {}).status, 401u);  // still authenticated
}

TEST_F(ReloadTest, OnlyTheMasterKeyMayReload) {
  Gateway gw(config_with(fake_.port(), {"a"}), {}, {.reloadable = true});
  HttpResponse key = gw.post("/key/generate", "{}");
  ASSERT_EQ(key.status, 200u) << key.body;
  const std::string virtual_key = key.json()["key"];
  HttpResponse r = gw.post("/config/reload", "", {{"authorization", "Bearer " + virtual_key}});
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_EQ(gw.post("/config/reload", "", {}).status, 401u);
  EXPECT_EQ(gw.get("/config/reload").status, 405u);
}

TEST_F(ReloadTest, WithoutAConfigSourceReloadIsRefused) {
  Gateway gw(config_with(fake_.port(), {"a"}));
  HttpResponse r = gw.post("/config/reload", "");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("without a config file"), std::string::npos) << r.body;
}

TEST_F(ReloadTest, SighupReloadsTheRealBinary) {
  TempDir dir;
  const std::string path = dir.file("config.yaml");
  std::ofstream(path) << config_with(fake_.port(), {"a"});
  GatewayProcess gw(TOLLGATE_BINARY, path, dir.file("gw.log"));
  const std::string extra = "  - model_name: late\n    litellm_params: {model: openai/x, mock_response: \"added by SIGHUP\"}\n";
  std::ofstream(path) << config_with(fake_.port(), {"a"}, extra);
  ASSERT_EQ(::kill(gw.pid(), SIGHUP), 0);
  EXPECT_TRUE(eventually([&] {
    return http_request(gw.port(), "POST", "/v1/chat/completions", chat("late"), auth_headers()).status == 200;
  }, 5s));
  // A broken file on the next SIGHUP: logged, nothing changes, the process keeps serving.
  std::ofstream(path) << "model_list: [";
  ASSERT_EQ(::kill(gw.pid(), SIGHUP), 0);
  EXPECT_TRUE(eventually([&] {
    const std::string metrics = http_request(gw.port(), "GET", "/metrics", {}, auth_headers()).body;
    return metrics.find("tollgate_config_reloads_total{result=\"rejected\"} 1") != std::string::npos;
  }, 5s, 10ms));  // the process has read the broken file
  EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat("late"), auth_headers()).status, 200u);
  const json ready = http_request(gw.port(), "GET", "/health/readiness").json();
  EXPECT_EQ(ready["config_version"], 2);
}

// --- readiness --------------------------------------------------------------------------------

TEST(ReadinessTest, ReportsTheDatabaseAndRedisAndStaysReadyWhenRedisIsDown) {
  FakeProvider fake;
  fake.start();
  // Redis configured on a port nobody listens on: limits and routing fall back to local state.
  Gateway gw(fake_config(fake.base_url(), {.top = "router_settings: {redis_host: 127.0.0.1, redis_port: 1}\n"}));
  HttpResponse r = gw.get("/health/readiness", {});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["db"], "connected");
  EXPECT_EQ(r.json()["cache"], "redis");
  EXPECT_EQ(r.json()["redis"], "disconnected");
  EXPECT_EQ(r.json()["status"], "degraded");
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("gpt-fake")).status, 200u);
}

TEST(ReadinessTest, HealthyWithoutRedis) {
  FakeProvider fake;
  fake.start();
  Gateway gw(fake_config(fake.base_url()));
  const json ready = gw.get("/health/readiness", {}).json();
  EXPECT_EQ(ready["status"], "healthy");
  EXPECT_EQ(ready["redis"], "not configured");
  EXPECT_EQ(ready["cache"], nullptr);
  EXPECT_EQ(ready["config_version"], 1);
}

TEST(ReadinessTest, SkippedMigrationsMeanNotReadyUntilTheSchemaIsCurrent) {
  FakeProvider fake;
  fake.start();
  TempDir dir;
  config::DatabaseSettings db;
  db.sqlite_path = dir.file("shared.db");
  Gateway gw(fake_config(fake.base_url()), {}, {.adjust = [&](config::Config& c) {
                                                 c.database.sqlite_path = db.sqlite_path;
                                                 c.database.apply_migrations = false;
                                               }});
  EXPECT_TRUE(eventually([&] { return gw.get("/health/readiness", {}).json()["db"] == "schema not migrated"; }, 5s));
  HttpResponse not_ready = gw.get("/health/readiness", {});
  EXPECT_EQ(not_ready.status, 503u);
  EXPECT_EQ(not_ready.json()["status"], "unhealthy");

  // What `tollgate --migrate-only` (the migration job) does; the replica notices within a ping.
  auto log = std::make_shared<spdlog::logger>("migrate", std::make_shared<spdlog::sinks::null_sink_mt>());
  ASSERT_EQ(db::apply_migrations(db, *log), "");
  EXPECT_TRUE(eventually([&] { return gw.get("/health/readiness", {}).status == 200; }, 5s));
  // A spend write that failed while the schema was missing may report the database down after
  // the ping found it up; the next ping or write says it is up again.
  EXPECT_TRUE(eventually([&] { return gw.get("/health/readiness", {}).json()["db"] == "connected"; }, 10s));
  EXPECT_EQ(gw.get("/health/readiness", {}).json()["db"], "connected");
  EXPECT_EQ(gw.post("/key/generate", "{}").status, 200u);
}

TEST(ReadinessTest, ShutdownDelayAnswersNotReadyWhileStillServing) {
  FakeProvider fake;
  fake.start();
  Gateway gw(fake_config(fake.base_url(), {.tollgate = ", shutdown_delay_seconds: 1"}));
  auto stopped = std::async(std::launch::async, [&] { return gw.app().shutdown(); });
  EXPECT_TRUE(eventually([&] { return gw.get("/health/readiness", {}).status == 503u; }, 5s, 5ms));  // the delay began
  HttpResponse ready = gw.get("/health/readiness", {});
  EXPECT_EQ(ready.status, 503u) << ready.body;
  EXPECT_EQ(ready.json()["status"], "draining");
  EXPECT_EQ(gw.post("/v1/chat/completions", chat("gpt-fake")).status, 200u) << "requests still served during the delay";
  EXPECT_TRUE(stopped.get());
}

}  // namespace
}  // namespace tollgate::testing
