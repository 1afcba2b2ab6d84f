// Two gateway processes (the real binary) sharing one real redis-server: what one replica learns
// about a deployment, the other acts on, and an rpm limit holds across both.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"
#include "support/gateway_process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string chat() {
  return json{{"model", "g"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}}.dump();
}

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.start(); }

  std::string base(const std::string& name, const std::string& controls = "") const {
    return fake_deployment_base(fake_.port(), name, controls);
  }
  // Starts two replicas of the same config (plus the Redis address).
  void start(const std::string& models, const std::string& router_settings) {
    const std::string path = dir_.file("config.yaml");
    std::ofstream(path) << "model_list:\n" << models << "router_settings: {redis_host: 127.0.0.1, redis_port: "
                        << redis_.port() << router_settings << "}\n"
                        << "general_settings: {master_key: " << kMasterKey << "}\n"
                        << "tollgate_settings: {access_log: \"off\", log_level: warn}\n";
    one_ = std::make_unique<GatewayProcess>(TOLLGATE_BINARY, path, dir_.file("one.log"));
    two_ = std::make_unique<GatewayProcess>(TOLLGATE_BINARY, path, dir_.file("two.log"));
  }
  std::size_t hits_of(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& r : fake_.requests()) n += r.target.find("/dep=" + name + "/") != std::string::npos;
    return n;
  }
  HttpResponse post(const GatewayProcess& gw) const {
    return http_request(gw.port(), "POST", "/v1/chat/completions", chat(), auth_headers());
  }

  TempDir dir_;
  RedisServer redis_;
  FakeProvider fake_;
  std::unique_ptr<GatewayProcess> one_;
  std::unique_ptr<GatewayProcess> two_;
};

TEST_F(ReplicasTest, DeploymentCooledDownThroughOneReplicaIsSkippedByTheOther) {
  start("  - model_name: g\n    litellm_params: {model: openai/m, api_base: \"" + base("a", "status=429/retry_after=60") +
            "\", api_key: k, order: 1}\n    model_info: {id: a}\n"
            "  - model_name: g\n    litellm_params: {model: openai/m, api_base: \"" + base("b") +
            "\", api_key: k, order: 2}\n    model_info: {id: b}\n",
        "");
  HttpResponse first = post(*one_);
  ASSERT_EQ(first.status, 200u) << first.body;  // a failed with 429, b answered
  EXPECT_EQ(hits_of("a"), 1u);
  // Within a sync interval or two the other replica knows a is cooling down.
  std::this_thread::sleep_for(400ms);
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = post(*two_);
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("x-litellm-model-id"), "b");
  }
  EXPECT_EQ(hits_of("a"), 1u);
  EXPECT_NE(redis_.command({"GET", "tollgate:router:a:cooldown"}), "");
}

TEST_F(ReplicasTest, RpmLimitHoldsAcrossBothReplicas) {
  start("  - model_name: g\n    litellm_params: {model: openai/m, api_base: \"" + base("a") +
            "\", api_key: k, rpm: 10}\n    model_info: {id: a}\n",
        ", routing_strategy: usage-based-routing-v2");
  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 30; ++i) {
    HttpResponse r = post(i % 2 == 0 ? *one_ : *two_);
    if (r.status == 200) {
      ++ok;
    } else {
      EXPECT_EQ(r.status, 429u) << r.body;
      EXPECT_NE(r.body.find("No deployments available for selected model"), std::string::npos);
      EXPECT_FALSE(r.header("retry-after").empty());
      ++limited;
    }
  }
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(limited, 20);
  EXPECT_EQ(hits_of("a"), 10u);
}

TEST_F(ReplicasTest, RedisDownMeansLocalRoutingNotFailure) {
  start("  - model_name: g\n    litellm_params: {model: openai/m, api_base: \"" + base("a") +
            "\", api_key: k, rpm: 1000}\n    model_info: {id: a}\n",
        ", routing_strategy: usage-based-routing-v2");
  ASSERT_EQ(post(*one_).status, 200u);
  redis_.stop();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(post(*one_).status, 200u);
    EXPECT_EQ(post(*two_).status, 200u);
  }
  auto metrics_say = [&](const std::string& text) {
    return http_request(one_->port(), "GET", "/metrics", {}, {}).body.find(text) != std::string::npos;
  };
  EXPECT_TRUE(eventually([&] { return metrics_say("tollgate_redis_connected 0"); }, 5s));
  redis_.start();
  ASSERT_TRUE(eventually([&] { return metrics_say("tollgate_redis_connected 1"); }, 10s));
  EXPECT_EQ(post(*two_).status, 200u);
}

}  // namespace
}  // namespace tollgate::testing
