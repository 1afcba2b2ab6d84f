// A tenant trying to break the gateway's promises (docs/security.md): crash it with a body, reach a
// model group it was not given, or spend money the meter does not see. Each test is one attack
// that worked before the fix, run through the whole gateway with a control plane on SQLite.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include <nlohmann/json.hpp>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

Headers bearer(const std::string& key) { return {{"authorization", "Bearer " + key}}; }

std::string hostile_config(const std::string& fake_root) {
  auto base = [&](const std::string& dep, const std::string& controls = "") {
    return "\"" + fake_root + "/dep=" + dep + (controls.empty() ? "" : "/" + controls) + "/v1\"";
  };
  return "model_list:\n"
         "  - model_name: cheap\n"
         "    litellm_params: {model: openai/fake-model, api_base: " + base("cheap") + ", api_key: sk-upstream,"
         " input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\n"
         "    model_info: {id: cheap-1, max_output_tokens: 1000}\n"
         "  - model_name: pricey\n"
         "    litellm_params: {model: openai/fake-model, api_base: " + base("pricey") + ", api_key: sk-upstream,"
         " input_cost_per_token: 0.00001, output_cost_per_token: 0.00003}\n"
         "    model_info: {id: pricey-1}\n"
         "  - model_name: failing\n"
         "    litellm_params: {model: openai/fake-model, api_base: " + base("failing", "status=500") +
         ", api_key: sk-upstream}\n"
         "    model_info: {id: failing-1}\n"
         "general_settings: {master_key: " + std::string(kMasterKey) + "}\n"
         "router_settings: {num_retries: 0}\n"
         "tollgate_settings: {access_log: \"off\"}\n";
}

std::string chat(const std::string& model, const Json& extra = Json::object()) {
  Json body = {{"model", model}, {"max_tokens", 5}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body.dump();
}

class HostileInputTest : public ::testing::Test {
 protected:
  HostileInputTest() {
    fake_.start();
    const std::string root = "http://127.0.0.1:" + std::to_string(fake_.port());
    gw_ = std::make_unique<Gateway>(hostile_config(root));
  }

  Json admin(const std::string& path, const Json& body, unsigned expect = 200) {
    HttpResponse r = gw_->post(path, body.dump());
    EXPECT_EQ(r.status, expect) << path << " " << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  std::string new_key(const Json& fields) { return admin("/key/generate", fields)["key"].get<std::string>(); }

  std::size_t calls_to(const std::string& deployment) const {
    std::size_t n = 0;
    for (const RecordedRequest& r : fake_.requests()) n += r.target.find("/dep=" + deployment + "/") != std::string::npos;
    return n;
  }

  static Json error_of(const HttpResponse& r) { return Json::parse(r.body, nullptr, false)["error"]; }

  FakeProvider fake_;
  std::unique_ptr<Gateway> gw_;
};

TEST_F(HostileInputTest, DeeplyNestedBodiesAreRefusedAndTheProcessStaysUp) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  HttpResponse messages = gw_->post(
      "/v1/messages", R"({"model":"cheap","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":)" +
                          deep + "}");
  EXPECT_EQ(messages.status, 400u) << messages.body;
  HttpResponse key = gw_->post("/key/generate", R"({"metadata":{"x":)" + deep + "}}");
  EXPECT_EQ(key.status, 400u) << key.body;
  EXPECT_NE(error_of(key)["message"].get<std::string>().find("nesting too deep"), std::string::npos) << key.body;
  HttpResponse chat_deep = gw_->post("/v1/chat/completions", R"({"model":"cheap","messages":[],"x":)" + deep + "}");
  EXPECT_EQ(chat_deep.status, 400u);
  EXPECT_EQ(gw_->get("/health/liveliness").status, 200u);
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(HostileInputTest, LoneSurrogateIsA400NamingTheField) {
  for (const char* model : {R"("cheap\udc00")", R"("cheap\ud800")", R"("cheap\ud800\u0041")"}) {
    HttpResponse r = gw_->post("/v1/chat/completions",
                               std::string(R"({"model":)") + model + R"(,"messages":[{"role":"user","content":"x"}]})");
    EXPECT_EQ(r.status, 400u) << model << " " << r.body;
    EXPECT_EQ(error_of(r)["param"], "model") << r.body;
  }
  HttpResponse messages = gw_->post("/v1/messages", R"({"model":"cheap\udc00","max_tokens":5,"messages":[]})");
  EXPECT_EQ(messages.status, 400u) << messages.body;
  HttpResponse paired = gw_->post("/v1/chat/completions",
                                  R"({"model":"cheap","messages":[{"role":"user","content":"\ud83d\ude00"}]})");
  EXPECT_EQ(paired.status, 200u) << "a valid surrogate pair is fine: " << paired.body;
  EXPECT_EQ(gw_->get("/health/liveliness").status, 200u);
}

TEST_F(HostileInputTest, DuplicateMembersAreRefusedBeforeAnyChargeOrCall) {
  const std::string key = new_key({{"max_budget", 1.0}});
  const std::string messages = R"("messages":[{"role":"user","content":"hi"}])";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"model":"pricey","max_tokens":1,)" + messages + R"(,"max_tokens":5000})", "max_tokens"},
      {R"({"model":"pricey","max_tokens":1,)" + messages + R"(,"max\u005ftokens":5000})", "max_tokens"},
      {R"({"model":"pricey","stream":true,"stream_options":{"include_usage":true,"include_usage":false},)" + messages + "}",
       "stream_options"},
      {R"({"model":"pricey","stream_options":{"include_usage":true},)" + messages + R"(,"stream_options":{"include_usage":false}})",
       "stream_options"},
      {R"({"model":"pricey","messages":[{"role":"user","content":"a","content":"b"}]})", "messages"},
  };
  for (const auto& [body, member] : cases) {
    HttpResponse r = gw_->post("/v1/chat/completions", body, bearer(key));
    EXPECT_EQ(r.status, 400u) << body << " " << r.body;
    EXPECT_EQ(error_of(r)["param"], member) << r.body;
    EXPECT_NE(error_of(r)["message"].get<std::string>().find("Duplicate member"), std::string::npos) << r.body;
  }
  HttpResponse dup_messages = gw_->post("/v1/messages",
                                        R"({"model":"cheap","max_tokens":1,"messages":[],"max_tokens":4000})", bearer(key));
  EXPECT_EQ(dup_messages.status, 400u) << dup_messages.body;
  EXPECT_EQ(fake_.request_count(), 0u) << "nothing reached the upstream";
  const Json info = Json::parse(gw_->get("/key/info?key=" + key).body);
  EXPECT_EQ(info["info"]["spend"], 0.0) << info.dump();
}

TEST_F(HostileInputTest, AliasesCannotReachPastTheTeamsModels) {
  // The attack: alias a name the team may use to a group it may not. A team's model_aliases (as a
  // team admin could set them before the admin API refused it) ...
  admin("/team/new", {{"team_id", "t1"}, {"models", {"cheap", "failing"}}, {"model_aliases", {{"cheap", "pricey"}}}});
  const std::string member = new_key({{"team_id", "t1"}});
  HttpResponse via_team_alias = gw_->post("/v1/chat/completions", chat("cheap"), bearer(member));
  EXPECT_EQ(via_team_alias.status, 401u) << via_team_alias.body;
  EXPECT_EQ(error_of(via_team_alias)["type"], "team_model_access_denied");

  // ... and a key's own aliases.
  admin("/team/new", {{"team_id", "t3"}, {"models", {"cheap", "failing"}}});
  const std::string aliased = new_key({{"team_id", "t3"}, {"aliases", {{"cheap", "pricey"}}}});
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("cheap"), bearer(aliased)).status, 401u);
  EXPECT_EQ(calls_to("pricey"), 0u);

  // An alias to a group the team has still works.
  const std::string nicknamed = new_key({{"team_id", "t3"}, {"aliases", {{"c", "cheap"}}}});
  HttpResponse ok = gw_->post("/v1/chat/completions", chat("c"), bearer(nicknamed));
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(ok.header("x-litellm-model-id"), "cheap-1");
}

TEST_F(HostileInputTest, FallbacksTheKeyMayNotUseAreSkippedAndCounted) {
  const std::string key = new_key({{"models", {"cheap", "failing"}}});
  const Json attempts[] = {
      {{"fallbacks", {"pricey"}}},
      {{"fallbacks", {{{"model", "pricey"}}}}},
  };
  for (const Json& extra : attempts) {
    HttpResponse r = gw_->post("/v1/chat/completions", chat("failing", extra), bearer(key));
    EXPECT_EQ(r.status, 500u) << extra.dump() << " " << r.body;
  }
  HttpResponse mocked = gw_->post("/v1/chat/completions",
                                  chat("cheap", {{"mock_testing_fallbacks", true}, {"fallbacks", {"pricey"}}}), bearer(key));
  EXPECT_NE(mocked.status, 200u) << mocked.body;
  EXPECT_EQ(calls_to("pricey"), 0u) << "a fallback the key may not use is never called";

  const std::string metrics = gw_->get("/metrics").body;
  EXPECT_NE(metrics.find("tollgate_router_fallbacks_denied_total{model_group=\"failing\"} 2"), std::string::npos);
  EXPECT_NE(metrics.find("tollgate_router_fallbacks_denied_total{model_group=\"cheap\"} 1"), std::string::npos);

  // An allowed fallback is still taken.
  HttpResponse allowed = gw_->post("/v1/chat/completions", chat("failing", {{"fallbacks", {"cheap"}}}), bearer(key));
  EXPECT_EQ(allowed.status, 200u) << allowed.body;
  EXPECT_EQ(allowed.header("x-litellm-model-id"), "cheap-1");
}

TEST_F(HostileInputTest, MaxTokensAboveTheModelsLimitIsA400) {
  const std::string key = new_key(Json::object());
  HttpResponse over = gw_->post("/v1/chat/completions", chat("cheap", {{"max_tokens", 1001}}), bearer(key));
  EXPECT_EQ(over.status, 400u) << over.body;
  EXPECT_EQ(error_of(over)["param"], "max_tokens");
  HttpResponse huge = gw_->post("/v1/chat/completions", chat("cheap", {{"max_tokens", INT64_MAX}}), bearer(key));
  EXPECT_EQ(huge.status, 400u) << huge.body;
  EXPECT_EQ(fake_.request_count(), 0u);
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("cheap", {{"max_tokens", 1000}}), bearer(key)).status, 200u);
}

TEST_F(HostileInputTest, AHugeMaxTokensInFlightDoesNotLockTheTeamsBudget) {
  // `pricey` has no known output limit, so a reservation is capped at kMaxReservedOutputTokens
  // (about $7.9 here), not max_tokens × price (about $2.8e14).
  admin("/team/new", {{"team_id", "t2"}, {"max_budget", 20.0}});
  const std::string greedy = new_key({{"team_id", "t2"}});
  const std::string other = new_key({{"team_id", "t2"}});
  auto in_flight = std::async(std::launch::async, [&] {
    return gw_->post("/v1/chat/completions",
                     chat("pricey", {{"max_tokens", INT64_MAX}, {"fake", {{"delay_headers_ms", 1500}}}}), bearer(greedy));
  });
  ASSERT_TRUE(eventually([&] { return calls_to("pricey") == 1; }, 5s));
  HttpResponse r = gw_->post("/v1/chat/completions", chat("pricey"), bearer(other));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(in_flight.get().status, 200u);
}

TEST_F(HostileInputTest, ABudgetBelowAMicroDollarStillAdmitsCalls) {
  const std::string key = new_key({{"max_budget", 1e-7}});
  HttpResponse first = gw_->post("/v1/chat/completions", chat("cheap"), bearer(key));
  EXPECT_EQ(first.status, 200u) << first.body;
  // Its cost (about $1.2e-5) spent the budget: the next call is refused.
  ASSERT_TRUE(eventually([&] { return gw_->post("/v1/chat/completions", chat("cheap"), bearer(key)).status == 400u; }, 5s));
}

TEST_F(HostileInputTest, EndUserLimitsBindTheMasterKeyToo) {
  admin("/customer/new", {{"user_id", "eu-1"}, {"rpm_limit", 1}});
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("cheap", {{"user", "eu-1"}})).status, 200u);
  HttpResponse second = gw_->post("/v1/chat/completions", chat("cheap", {{"user", "eu-1"}}));
  EXPECT_EQ(second.status, 429u) << second.body;
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat("cheap", {{"user", "eu-2"}})).status, 200u);
}

}  // namespace
}  // namespace tollgate::testing
