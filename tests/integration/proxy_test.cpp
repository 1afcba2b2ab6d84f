// The request path end to end: every endpoint, streaming with and without usage, pass-through of
// unknown fields, auth, input errors, keep-alive reuse.
#include <gtest/gtest.h>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.start();
    gw_ = std::make_unique<Gateway>(fake_config(
        fake_.base_url(),
        {.models = "  - model_name: demo\n"
        "    litellm_params: {model: openai/demo, mock_response: \"Hello from the demo.\"}\n"
        "  - model_name: embed-fake\n"
        "    litellm_params: {model: openai/fake-embed, api_base: \"" + fake_.base_url() + "\", api_key: sk-upstream}\n"}));
  }
  FakeProvider fake_;
  std::unique_ptr<Gateway> gw_;
};

const char* kChat = R"({"model":"gpt-fake","messages":[{"role":"user","content":"hi"}]})";

TEST_F(ProxyTest, ChatCompletionReturnsUpstreamAnswerWithLiteLlmHeaders) {
  HttpResponse r = gw_->post("/v1/chat/completions", kChat);
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello from the fake provider.");
  EXPECT_TRUE(r.header("x-litellm-model-id") == "fake-a" || r.header("x-litellm-model-id") == "fake-b");
  EXPECT_EQ(r.header("x-litellm-model-group"), "gpt-fake");
  EXPECT_EQ(r.header("x-litellm-call-id").size(), 36u);
  EXPECT_EQ(r.header("x-litellm-model-api-base"), fake_.base_url());
  EXPECT_FALSE(r.header("x-litellm-response-duration-ms").empty());
  EXPECT_FALSE(r.header("x-litellm-overhead-duration-ms").empty());
  // The upstream saw the deployment's model and key, not the client's.
  ASSERT_EQ(fake_.request_count(), 1u);
  RecordedRequest up = fake_.requests()[0];
  EXPECT_EQ(up.target, "/v1/chat/completions");
  EXPECT_EQ(up.headers["authorization"], "Bearer sk-upstream");
  EXPECT_EQ(json::parse(up.body)["model"], "fake-model");
}

TEST_F(ProxyTest, RoutesAnswerWithAndWithoutV1Prefix) {
  EXPECT_EQ(gw_->post("/chat/completions", kChat).status, 200u);
  EXPECT_EQ(gw_->get("/models").status, 200u);
  EXPECT_EQ(gw_->get("/v1/models").status, 200u);
}

TEST_F(ProxyTest, UnknownFieldsPassThroughUntouchedAndGatewayFieldsAreRemoved) {
  const std::string body =
      R"({"model":"gpt-fake","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],)"
      R"("response_format":{"type":"json_object"},"logprobs":true,"n":2,"future_param":{"deep":[1,2.50,"\u00e9"]},)"
      R"("metadata":{"tags":["x"]},"num_retries":0,"mock_testing_fallbacks":false})";
  HttpResponse r = gw_->post("/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");
  const std::string up = fake_.requests().at(0).body;
  EXPECT_NE(up.find(R"("future_param":{"deep":[1,2.50,"\u00e9"]})"), std::string::npos) << up;
  EXPECT_NE(up.find(R"("response_format":{"type":"json_object"})"), std::string::npos);
  EXPECT_NE(up.find(R"("logprobs":true)"), std::string::npos);
  json upj = json::parse(up);
  EXPECT_FALSE(upj.contains("metadata"));
  EXPECT_FALSE(upj.contains("num_retries"));
  EXPECT_FALSE(upj.contains("mock_testing_fallbacks"));
}

TEST_F(ProxyTest, StreamWithoutIncludeUsageHidesTheUsageChunkTheGatewayAskedFor) {
  StreamReader s(gw_->port(), "POST", "/v1/chat/completions",
                 R"({"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"hi"}]})", auth_headers());
  ASSERT_EQ(s.status(), 200u);
  EXPECT_NE(s.header("content-type").find("text/event-stream"), std::string::npos);
  const std::string body = s.read_all(std::chrono::seconds(5));
  EXPECT_TRUE(s.complete());
  StreamText st = parse_stream(body);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.usage_chunks, 0) << body;
  EXPECT_EQ(body.substr(body.size() - 14), "data: [DONE]\n\n");
  // ...but the upstream was asked for usage.
  EXPECT_EQ(json::parse(fake_.requests().at(0).body)["stream_options"]["include_usage"], true);
}

TEST_F(ProxyTest, StreamWithIncludeUsageDeliversTheUsageChunk) {
  StreamReader s(gw_->port(), "POST", "/v1/chat/completions",
                 R"({"model":"gpt-fake","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],"fake":{"chunks":5}})",
                 auth_headers());
  ASSERT_EQ(s.status(), 200u);
  StreamText st = parse_stream(s.read_all(std::chrono::seconds(5)));
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_EQ(st.usage_chunks, 1);
  EXPECT_EQ(st.usage["total_tokens"], st.usage["prompt_tokens"].get<int>() + st.usage["completion_tokens"].get<int>());
  EXPECT_TRUE(st.done);
}

TEST_F(ProxyTest, CompletionsAndEmbeddingsAndModels) {
  HttpResponse c = gw_->post("/v1/completions", R"({"model":"gpt-fake","prompt":"Say hi"})");
  ASSERT_EQ(c.status, 200u) << c.body;
  EXPECT_EQ(c.json()["object"], "text_completion");
  EXPECT_EQ(fake_.requests().back().target, "/v1/completions");

  HttpResponse e = gw_->post("/v1/embeddings", R"({"model":"embed-fake","input":["a","b"]})");
  ASSERT_EQ(e.status, 200u) << e.body;
  EXPECT_EQ(e.json()["data"].size(), 2u);
  EXPECT_EQ(fake_.requests().back().target, "/v1/embeddings");
  EXPECT_EQ(json::parse(fake_.requests().back().body)["model"], "fake-embed");

  HttpResponse m = gw_->get("/v1/models");
  ASSERT_EQ(m.status, 200u);
  const json models = m.json();
  std::vector<std::string> ids;
  for (const auto& d : models["data"]) ids.push_back(d["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"gpt-fake", "demo", "embed-fake"}));
  EXPECT_EQ(gw_->get("/v1/models/demo").json()["id"], "demo");
  EXPECT_EQ(gw_->get("/v1/models/nope").status, 404u);
}

TEST_F(ProxyTest, MockResponseAnswersWithoutCallingTheProvider) {
  HttpResponse r = gw_->post("/v1/chat/completions", R"({"model":"demo","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "Hello from the demo.");
  StreamReader s(gw_->port(), "POST", "/v1/chat/completions",
                 R"({"model":"demo","stream":true,"messages":[{"role":"user","content":"hi"}]})", auth_headers());
  StreamText st = parse_stream(s.read_all(std::chrono::seconds(5)));
  EXPECT_EQ(st.text, "Hello from the demo.");
  EXPECT_EQ(st.usage_chunks, 0);
  EXPECT_TRUE(st.done);
  // A body mock_response (LiteLLM extra) overrides a real deployment.
  HttpResponse b = gw_->post("/v1/chat/completions", R"({"model":"gpt-fake","mock_response":"mocked","messages":[]})");
  EXPECT_EQ(b.json()["choices"][0]["message"]["content"], "mocked");
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(ProxyTest, AuthErrorsAre401WithOpenAiShape) {
  HttpResponse none = gw_->post("/v1/chat/completions", kChat, {});
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(none.json()["error"]["type"], "auth_error");
  EXPECT_EQ(none.json()["error"]["code"], "401");
  EXPECT_EQ(gw_->post("/v1/chat/completions", kChat, {{"authorization", "Bearer sk-wrong"}}).status, 401u);
  EXPECT_EQ(gw_->post("/v1/chat/completions", kChat, {{"x-litellm-api-key", kMasterKey}}).status, 200u);
  EXPECT_EQ(gw_->get("/v1/models", {}).status, 401u);
  EXPECT_EQ(gw_->get("/health/liveliness", {}).status, 200u) << "health needs no key";
  EXPECT_EQ(gw_->get("/health/liveness", {}).status, 200u);
  HttpResponse ready = gw_->get("/health/readiness", {});
  EXPECT_EQ(ready.status, 200u);
  EXPECT_EQ(ready.json()["status"], "healthy");
}

TEST_F(ProxyTest, BadInputGetsClearErrors) {
  HttpResponse unknown = gw_->post("/v1/chat/completions", R"({"model":"nope","messages":[]})");
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_EQ(unknown.json()["error"]["param"], "model");
  EXPECT_NE(unknown.json()["error"]["message"].get<std::string>().find("nope"), std::string::npos);
  EXPECT_NE(unknown.json()["error"]["message"].get<std::string>().find("gpt-fake"), std::string::npos);

  HttpResponse malformed = gw_->post("/v1/chat/completions", R"({"model":"gpt-fake",)");
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_EQ(malformed.json()["error"]["type"], "invalid_request_error");

  HttpResponse utf8 = gw_->post("/v1/chat/completions", "{\"model\":\"gpt-fake\",\"messages\":[\"\xC3\x28\"]}");
  EXPECT_EQ(utf8.status, 400u);
  EXPECT_NE(utf8.json()["error"]["message"].get<std::string>().find("UTF-8"), std::string::npos);

  const std::string huge_model(100000, 'm');
  HttpResponse huge = gw_->post("/v1/chat/completions", R"({"model":")" + huge_model + R"(","messages":[]})");
  EXPECT_EQ(huge.status, 400u);
  EXPECT_LE(huge.header("x-litellm-model-group").size(), 256u) << "echoed names are capped";
  EXPECT_LT(huge.body.size(), 2000u);

  EXPECT_EQ(gw_->get("/v1/chat/completions").status, 405u);
  EXPECT_EQ(gw_->get("/v1/nothing-here").status, 404u);
  EXPECT_EQ(fake_.request_count(), 0u) << "nothing invalid reached the provider";
}

TEST_F(ProxyTest, KeepAliveReusesClientAndUpstreamConnections) {
  HttpConnection conn(gw_->port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = conn.request("POST", "/v1/chat/completions", kChat, auth_headers());
    ASSERT_EQ(r.status, 200u);
  }
  EXPECT_TRUE(conn.is_open());
  // One client connection lands on one worker, whose pool keeps one upstream connection.
  EXPECT_EQ(fake_.connections_accepted(), 1u);
  EXPECT_EQ(fake_.request_count(), 20u);
}

TEST(StaleConnectionTest, PooledConnectionClosedByTheUpstreamIsRetriedTransparently) {
  auto fake = std::make_unique<FakeProvider>();
  fake->start();
  const std::uint16_t port = fake->port();
  Gateway gw(fake_config(fake->base_url()));
  HttpConnection conn(gw.port());  // one client connection: one worker, one upstream pool
  ASSERT_EQ(conn.request("POST", "/v1/chat/completions", kChat, auth_headers()).status, 200u);
  // The upstream restarts: the pooled keep-alive connection is now dead.
  fake.reset();
  FakeProvider restarted({.port = port});
  restarted.start();
  HttpResponse r = conn.request("POST", "/v1/chat/completions", kChat, auth_headers());
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(restarted.request_count(), 1u) << "sent once, on a fresh connection";
}

TEST_F(ProxyTest, LargePromptIsForwardedIntact) {
  std::string content(300 * 1024, 'x');
  for (std::size_t i = 0; i < content.size(); i += 97) content[i] = ' ';
  const std::string body = R"({"model":"gpt-fake","messages":[{"role":"user","content":")" + content + R"("}]})";
  HttpResponse r = gw_->post("/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(fake_.requests().at(0).body)["messages"][0]["content"], content);
}

TEST(BodyLimitTest, BodyOverTheConfiguredLimitIs413AndTheServerStaysUp) {
  FakeProvider fake;
  fake.start();
  Gateway gw(fake_config(fake.base_url(), {.general = ", max_request_size_mb: 1"}));
  const std::string big =
      R"({"model":"gpt-fake","messages":[{"role":"user","content":")" + std::string(2u << 20, 'a') + R"("}]})";
  HttpResponse r = gw.post("/v1/chat/completions", big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.json()["error"]["code"], "413");
  EXPECT_EQ(fake.request_count(), 0u);
  EXPECT_EQ(gw.post("/v1/chat/completions", kChat).status, 200u);
}

TEST_F(ProxyTest, UnpricedDeploymentSendsNoCostAndIsCountedMockCostsZero) {
  // openai/fake-model is in no price list: no cost header, spend 0, one count per answered request.
  HttpResponse r = gw_->post("/v1/chat/completions", kChat);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("x-litellm-response-cost"), "");
  // A mock deployment is priced at 0 (it calls no provider) and is not "unpriced".
  HttpResponse mock = gw_->post("/v1/chat/completions", R"({"model":"demo","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(mock.status, 200u);
  EXPECT_EQ(mock.header("x-litellm-response-cost"), "0");
  // Counted when the request ends, just after its last byte went out: wait for the count.
  std::string metrics;
  eventually([&] {
    metrics = gw_->get("/metrics", {}).body;
    return metrics.find("tollgate_unpriced_requests_total{model=\"fake-model\"} 1") != std::string::npos;
  }, 2s);
  EXPECT_NE(metrics.find("tollgate_unpriced_requests_total{model=\"fake-model\"} 1"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("tollgate_unpriced_requests_total{model=\"demo\"}"), std::string::npos);
}

TEST(ResponseCostTest, PricedDeploymentReportsItsCostWithoutAMasterKey) {
  FakeProvider fake;
  fake.start();
  Gateway gw("model_list:\n"
             "  - model_name: gpt-4o\n"
             "    litellm_params: {model: openai/gpt-4o, api_base: \"" + fake.base_url() + "\", api_key: sk-upstream}\n"
             "tollgate_settings: {access_log: \"off\"}\n");
  // gpt-4o: input 2.5, cache_read 1.25, output 10 USD per million tokens.
  // 600 uncached × 2.5e-6 + 400 cached × 1.25e-6 + 100 × 10e-6 = 0.0015 + 0.0005 + 0.001 = 0.003
  HttpResponse r = gw.post("/v1/chat/completions",
                           R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],)"
                           R"("fake":{"prompt_tokens":1000,"cached_tokens":400,"completion_tokens":100}})",
                           {});
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_FALSE(r.header("x-litellm-response-cost").empty());
  EXPECT_DOUBLE_EQ(std::stod(r.header("x-litellm-response-cost")), 0.003);
  EXPECT_EQ(gw.get("/metrics", {}).body.find("tollgate_unpriced_requests_total{"), std::string::npos);
}

}  // namespace
}  // namespace tollgate::testing
