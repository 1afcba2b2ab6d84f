// `ollama_chat/` (and `ollama/`) deployments through the whole gateway: OpenAI-format clients, the
// fake provider speaking Ollama's /api/chat (tests/support/fake_ollama.hpp, which refuses what
// Ollama refuses and any OpenAI member leaking through), and the answers, NDJSON streams, tool
// calls, errors, usage and cost translated back.
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

// 1e-6 per prompt token, 2e-6 per completion token; the fake counts 11 and 7 by default.
constexpr const char* kPrice = ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000002";
constexpr double kDefaultCost = 11 * 0.000001 + 7 * 0.000002;

class OllamaTest : public VendorTest {
 protected:
  OllamaTest() : VendorTest("local") {}

  // Group `local` on one deployment per id (fake controls in its api_base), priced. Ollama's
  // api_base has no /v1: the adapter appends /api/chat.
  std::string config(const Deployments& deployments, const std::string& prefix = "ollama_chat") const {
    return model_list(group_, deployments,
                      [&](const std::string& id, const std::string& controls) {
                        return "model: " + prefix + "/llama3.2, api_base: \"" + fake_deployment_root(fake_.port(), id, controls) +
                               "\"" + kPrice;
                      }) +
           settings_yaml();
  }

  // The last call reached deployment `id` (its controls, if any, between) at Ollama's chat path.
  void expect_chat_api(const std::string& id) const {
    const std::string target = last().target;
    EXPECT_TRUE(target.starts_with("/dep=" + id + "/")) << target;
    EXPECT_TRUE(target.ends_with("/api/chat")) << target;
    EXPECT_EQ(target.find("/v1"), std::string::npos) << target;
  }
};

TEST_F(OllamaTest, PlainChatIsTranslatedBothWaysAndPriced) {
  Gateway gw(config({{"a", ""}}));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{{"role", "system"}, {"content", "Be brief."}}, user("Hi")},
                                {{"temperature", 0.2}, {"max_tokens", 50}, {"stop", "END"}, {"logprobs", true}})
                               .dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json answer = r.json();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_TRUE(answer["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "Hello from the fake provider.");
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(answer["usage"]["prompt_tokens"], 11);
  EXPECT_EQ(answer["usage"]["completion_tokens"], 7);
  EXPECT_EQ(answer["usage"]["total_tokens"], 18);
  EXPECT_NEAR(std::stod(r.header("x-litellm-response-cost")), kDefaultCost, 1e-12);

  expect_chat_api("a");
  const RecordedRequest sent = last();
  EXPECT_EQ(sent.headers.count("authorization"), 0u) << "a local Ollama gets no key";
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["model"], "llama3.2");
  EXPECT_EQ(body["stream"], false);
  EXPECT_EQ(body["messages"][0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(body["options"]["temperature"], 0.2);
  EXPECT_EQ(body["options"]["num_predict"], 50);
  EXPECT_EQ(body["options"]["stop"], json::array({"END"}));
}

TEST_F(OllamaTest, OllamaPrefixUsesTheChatAdapterToo) {
  Gateway gw(config({{"a", ""}}, "ollama"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "Hello from the fake provider.");
  expect_chat_api("a");
}

TEST_F(OllamaTest, NdjsonStreamBecomesSseWithUsageAndCost) {
  Gateway gw(config({{"a", "chunks=4/prompt_tokens=20/completion_tokens=9"}}));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({user("Hi")}, {{"stream", true}, {"stream_options", {{"include_usage", true}}}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  const StreamText st = parse_stream(r.body);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.usage_chunks, 1);
  EXPECT_EQ(st.usage["prompt_tokens"], 20);
  EXPECT_EQ(st.usage["completion_tokens"], 9);
  EXPECT_NEAR(st.usage["cost"].get<double>(), 20 * 0.000001 + 9 * 0.000002, 1e-12);
  EXPECT_NE(r.body.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_EQ(r.body.find("created_at"), std::string::npos) << "no Ollama line reaches the client";
  expect_chat_api("a");
  EXPECT_EQ(last_upstream_body()["stream"], true);
  EXPECT_FALSE(last_upstream_body().contains("stream_options"));
}

TEST_F(OllamaTest, ToolCallsAndToolResultsRoundTrip) {
  Gateway gw(config({{"a", ""}}));
  const json tools = json::array({{{"type", "function"},
                                   {"function",
                                    {{"name", "get_weather"},
                                     {"parameters", {{"type", "object"}, {"properties", {{"location", {{"type", "string"}}}}}}}}}}});
  HttpResponse first = gw.post("/v1/chat/completions", chat({user("Weather in Paris?")}, {{"tools", tools}, {"tool_choice", "auto"}}).dump());
  ASSERT_EQ(first.status, 200u) << first.body;
  EXPECT_EQ(first.json()["choices"][0]["finish_reason"], "tool_calls");
  const json message = first.json()["choices"][0]["message"];
  ASSERT_EQ(message["tool_calls"].size(), 1u) << first.body;
  const json call = message["tool_calls"][0];
  EXPECT_EQ(call["id"], "call_0");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"location", "Paris"}}));
  EXPECT_EQ(last_upstream_body()["tools"][0]["function"]["name"], "get_weather");

  HttpResponse second = gw.post(
      "/v1/chat/completions",
      chat({user("Weather in Paris?"),
            {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}},
            {{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "18 C and sunny"}}},
           {{"tools", tools}})
          .dump());
  ASSERT_EQ(second.status, 200u) << second.body;
  EXPECT_EQ(second.json()["choices"][0]["message"]["content"], "Hello from the fake provider.");
  const json sent = last_upstream_body();
  ASSERT_EQ(sent["messages"].size(), 3u) << sent.dump();
  EXPECT_EQ(sent["messages"][1]["tool_calls"][0]["function"]["arguments"], json({{"location", "Paris"}}));
  EXPECT_EQ(sent["messages"][2], json({{"role", "tool"}, {"content", "18 C and sunny"}, {"tool_name", "get_weather"}}));
}

TEST_F(OllamaTest, StreamedToolCall) {
  Gateway gw(config({{"a", ""}}));
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}, {"parameters", json::object()}}}}});
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Weather?")}, {{"tools", tools}, {"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find(R"("tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}])"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"finish_reason\":\"tool_calls\""), std::string::npos) << r.body;
  EXPECT_TRUE(parse_stream(r.body).done);
}

TEST_F(OllamaTest, ImagesGoAsBase64AndHttpImagesAreA400WithoutAnUpstreamCall) {
  Gateway gw(config({{"a", ""}}));
  const json image_part = {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,iVBORw0KGgo="}}}};
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "What is it?"}}, image_part})}}})
                               .dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(last_upstream_body()["messages"][0]["images"], json::array({"iVBORw0KGgo="}));

  fake_.clear();
  const json http_part = {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/cat.png"}}}};
  HttpResponse bad = gw.post("/v1/chat/completions", chat({{{"role", "user"}, {"content", json::array({http_part})}}}).dump());
  EXPECT_EQ(bad.status, 400u) << bad.body;
  EXPECT_EQ(bad.json()["error"]["type"], "invalid_request_error");
  EXPECT_EQ(fake_.requests().size(), 0u);
}

TEST_F(OllamaTest, ModelNotFoundIsA404AndFallsBack) {
  Gateway alone(config({{"a", "status=404"}}));
  HttpResponse missing = alone.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(missing.status, 404u) << missing.body;
  EXPECT_EQ(missing.json()["error"]["message"], "model \"llama3.2\" not found, try pulling it first");
  expect_chat_api("a");

  Gateway with_fallback(with_mock_fallback(config({{"a", "status=404"}}), "fallbacks", "local", "backup"));
  HttpResponse served = with_fallback.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(served.status, 200u) << served.body;
  EXPECT_EQ(served.json()["choices"][0]["message"]["content"], "from the fallback");
  EXPECT_EQ(served.header("x-litellm-attempted-fallbacks"), "1");
}

TEST_F(OllamaTest, ServerErrorIsRetriedOnAnotherDeploymentAndBadRequestIsNot) {
  Gateway two(config({{"a", "status=500"}, {"b", ""}}));
  HttpResponse served = two.post("/v1/chat/completions", chat({user("Hi")}, {{"num_retries", 1}}).dump());
  EXPECT_EQ(served.status, 200u) << served.body;
  EXPECT_EQ(served.header("x-litellm-model-id"), "b");

  Gateway refused(config({{"a", "status=400"}}));
  HttpResponse r = refused.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
  EXPECT_EQ(r.json()["error"]["message"], "fake error 400");
}

TEST_F(OllamaTest, ErrorLineMidStreamEndsTheStreamWithThatError) {
  Gateway gw(config({{"a", "chunks=3/error_at=2"}}));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}, {{"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const StreamText st = parse_stream(r.body);
  EXPECT_FALSE(st.done);
  EXPECT_FALSE(st.text.empty()) << "the first line was relayed";
  ASSERT_TRUE(st.error.is_object()) << r.body;
  EXPECT_NE(st.error["message"].get<std::string>().find("unexpected EOF"), std::string::npos) << r.body;
}

TEST_F(OllamaTest, MalformedLineEndsTheStreamWithAnError) {
  Gateway gw(config({{"a", "malformed_at=2"}}));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}, {{"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const StreamText st = parse_stream(r.body);
  EXPECT_FALSE(st.done);
  EXPECT_TRUE(st.error.is_object()) << r.body;
}

TEST(OllamaAuthTest, AKeyedDeploymentSendsBearerAndAWrongKeyIsAnAuthenticationError) {
  FakeProvider keyed(FakeProviderOptions{.require_api_key = "sk-ollama"});
  keyed.start();
  auto yaml = [&](const std::string& key) {
    return "model_list:\n  - model_name: local\n    litellm_params: {model: ollama_chat/llama3.2, api_base: \"" +
           fake_deployment_root(keyed.port(), "k") + "\", api_key: " + key + "}\n" + settings_yaml();
  };
  Gateway gw(yaml("sk-ollama"));
  HttpResponse ok = gw.post("/v1/chat/completions", chat_body("local", {user("Hi")}).dump());
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(keyed.requests().back().headers.at("authorization"), "Bearer sk-ollama");

  Gateway wrong(yaml("sk-wrong"));
  HttpResponse denied = wrong.post("/v1/chat/completions", chat_body("local", {user("Hi")}).dump());
  EXPECT_EQ(denied.status, 401u) << denied.body;
  EXPECT_EQ(denied.json()["error"]["message"], "unauthorized");
}

}  // namespace
}  // namespace tollgate::testing
