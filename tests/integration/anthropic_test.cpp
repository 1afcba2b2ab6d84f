// `anthropic/` deployments through the whole gateway: OpenAI-format clients, the fake provider
// speaking Anthropic's Messages API (tests/support/fake_anthropic.hpp, which refuses what Anthropic
// refuses), and the answers, streams, tool calls, errors, usage and cost translated back.
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

constexpr const char* kUpstreamKey = "sk-ant-fake";

class AnthropicTest : public VendorTest {
 protected:
  AnthropicTest() : VendorTest("claude", FakeProviderOptions{.require_api_key = kUpstreamKey}) {}

  // Group `claude` on one Anthropic deployment per id (fake controls in its api_base), plus `params` YAML.
  std::string config(const Deployments& deployments, const std::string& params = "") const {
    return model_list(group_, deployments,
                      [&](const std::string& id, const std::string& controls) {
                        return "model: anthropic/claude-3-5-haiku-20241022, api_base: \"" +
                               fake_deployment_base(fake_.port(), id, controls) + "\", api_key: " + kUpstreamKey + params;
                      }) +
           settings_yaml();
  }
  // The last call reached the Messages API (not an OpenAI path of the fake).
  void expect_messages_api() const {
    const std::string target = last().target;
    EXPECT_NE(target.find("/v1/messages"), std::string::npos) << target;
  }
};

TEST_F(AnthropicTest, PlainChatIsTranslatedBothWays) {
  Gateway gw(config({{"a", ""}}));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{{"role", "system"}, {"content", "Be brief."}}, user("Hi"), user("Still there?")},
                                {{"temperature", 0.2}, {"stop", "END"}})
                               .dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json answer = r.json();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "Hello from the fake provider.");
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(answer["usage"]["prompt_tokens"], 11);
  EXPECT_EQ(answer["usage"]["completion_tokens"], 7);
  EXPECT_EQ(answer["usage"]["total_tokens"], 18);

  const RecordedRequest sent = last();
  EXPECT_NE(sent.target.find("/v1/messages"), std::string::npos) << sent.target;
  EXPECT_EQ(sent.headers.at("x-api-key"), kUpstreamKey);
  EXPECT_FALSE(sent.headers.at("anthropic-version").empty());
  EXPECT_EQ(sent.headers.count("authorization"), 0u) << "the key goes in x-api-key only";
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["model"], "claude-3-5-haiku-20241022");
  EXPECT_TRUE(body["max_tokens"].is_number_integer()) << "max_tokens is required by Anthropic";
  EXPECT_NE(body["system"].dump().find("Be brief."), std::string::npos);
  EXPECT_EQ(body["messages"].size(), 1u) << "two user turns merged into one";
  EXPECT_EQ(body["stop_sequences"], json::array({"END"}));
}

TEST_F(AnthropicTest, StreamIsTranslatedChunkByChunkWithUsage) {
  Gateway gw(config({{"a", "chunks=4"}}));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({user("Hi")}, {{"stream", true}, {"stream_options", {{"include_usage", true}}}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  const StreamText st = parse_stream(r.body);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.usage_chunks, 1);
  EXPECT_EQ(st.usage["prompt_tokens"], 11);
  EXPECT_EQ(st.usage["completion_tokens"], 7);
  EXPECT_NE(r.body.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_EQ(r.body.find("content_block_delta"), std::string::npos) << "no Anthropic event reaches the client";
  expect_messages_api();
  EXPECT_EQ(last_upstream_body()["stream"], true);
}

TEST_F(AnthropicTest, ToolCallsAndToolResultsRoundTrip) {
  Gateway gw(config({{"a", ""}}));
  const json tools = json::array({{{"type", "function"},
                                   {"function",
                                    {{"name", "get_weather"},
                                     {"description", "Weather of a city"},
                                     {"parameters", {{"type", "object"}, {"properties", {{"location", {{"type", "string"}}}}}}}}}}});
  HttpResponse first = gw.post("/v1/chat/completions", chat({user("Weather in Paris?")}, {{"tools", tools}}).dump());
  ASSERT_EQ(first.status, 200u) << first.body;
  const json message = first.json()["choices"][0]["message"];
  EXPECT_EQ(first.json()["choices"][0]["finish_reason"], "tool_calls");
  ASSERT_EQ(message["tool_calls"].size(), 1u) << first.body;
  const json call = message["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"location", "Paris"}}));
  EXPECT_EQ(last_upstream_body()["tools"][0]["name"], "get_weather");
  EXPECT_TRUE(last_upstream_body()["tools"][0].contains("input_schema"));

  // The client answers the call: assistant tool_calls and a tool message become tool_use / tool_result.
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
  EXPECT_EQ(sent["messages"][1]["content"][0]["type"], "tool_use");
  EXPECT_EQ(sent["messages"][2]["role"], "user");
  EXPECT_EQ(sent["messages"][2]["content"][0]["type"], "tool_result");
  EXPECT_EQ(sent["messages"][2]["content"][0]["tool_use_id"], call["id"]);
}

TEST_F(AnthropicTest, ResponseFormatIsAnsweredThroughAForcedToolAsContent) {
  Gateway gw(config({{"a", "chunks=3"}}));
  const json format = {{"type", "json_schema"},
                       {"json_schema",
                        {{"name", "place"},
                         {"schema", {{"type", "object"}, {"properties", {{"location", {{"type", "string"}}}}}}}}}};
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Where?")}, {{"response_format", format}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.json()["choices"][0]["message"]["content"].get<std::string>()), json({{"location", "Paris"}}));
  EXPECT_EQ(r.json()["choices"][0]["finish_reason"], "stop");
  EXPECT_FALSE(r.json()["choices"][0]["message"].contains("tool_calls"));
  const json sent = last_upstream_body();
  EXPECT_EQ(sent["tool_choice"], json({{"type", "tool"}, {"name", "json_tool_call"}}));
  EXPECT_EQ(sent["tools"][0]["input_schema"], format["json_schema"]["schema"]);

  HttpResponse s = gw.post("/v1/chat/completions",
                           chat({user("Where?")}, {{"response_format", format}, {"stream", true}}).dump());
  ASSERT_EQ(s.status, 200u) << s.body;
  const StreamText streamed = parse_stream(s.body);
  EXPECT_TRUE(streamed.done);
  EXPECT_EQ(json::parse(streamed.text), json({{"location", "Paris"}})) << s.body;
  EXPECT_NE(s.body.find("\"finish_reason\":\"stop\""), std::string::npos) << s.body;
}

TEST_F(AnthropicTest, ReasoningEffortAsksForThinking) {
  Gateway gw(config({{"a", ""}}));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Think.")}, {{"reasoning_effort", "medium"}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(last_upstream_body()["thinking"], json({{"type", "enabled"}, {"budget_tokens", 2048}}));
}

TEST_F(AnthropicTest, StreamedToolCallArgumentsArriveAsDeltas) {
  Gateway gw(config({{"a", "chunks=3"}}));
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}, {"parameters", json::object()}}}}});
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Weather?")}, {{"tools", tools}, {"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const StreamedToolCall call = streamed_tool_call(r.body);
  EXPECT_EQ(call.name, "get_weather");
  EXPECT_EQ(json::parse(call.arguments), json({{"location", "Paris"}}));
  EXPECT_EQ(call.finish_reason, "tool_calls");
  expect_messages_api();
}

TEST_F(AnthropicTest, CachedAndCacheWriteTokensArePricedEachAtItsRate) {
  // 1000 input tokens: 600 read from the cache, 200 written to it, 200 plain; 100 output.
  Gateway gw(config({{"a", "prompt_tokens=1000/cached_tokens=600/cache_creation_tokens=200/completion_tokens=100"}},
                    ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000005, "
                    "cache_read_input_token_cost: 0.0000001, cache_creation_input_token_cost: 0.00000125"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json usage = r.json()["usage"];
  EXPECT_EQ(usage["prompt_tokens"], 1000);
  EXPECT_EQ(usage["completion_tokens"], 100);
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 600);
  // 200 × 1e-6 + 600 × 1e-7 + 200 × 1.25e-6 + 100 × 5e-6
  EXPECT_NEAR(std::stod(r.header("x-litellm-response-cost")), 0.00101, 1e-12);
}

TEST_F(AnthropicTest, OverloadedIsAServiceUnavailableTheRouterFailsOverFrom) {
  Gateway gw(config({{"a", "status=529"}}));
  HttpResponse alone = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(alone.status, 503u) << alone.body;
  EXPECT_NE(alone.body.find("Overloaded"), std::string::npos) << alone.body;

  // Whichever it picks first, a retry (preferring an untried deployment) ends on b.
  Gateway two(config({{"a", "status=529"}, {"b", ""}}));
  HttpResponse served = two.post("/v1/chat/completions", chat({user("Hi")}, {{"num_retries", 1}}).dump());
  EXPECT_EQ(served.status, 200u) << served.body;
  EXPECT_EQ(served.header("x-litellm-model-id"), "b");
}

TEST_F(AnthropicTest, ContentFilterRefusalFallsBackToTheContentPolicyGroup) {
  // Anthropic's refusal, sent verbatim by the fake.
  const std::string refusal = percent_encode(
      R"({"type":"error","error":{"type":"invalid_request_error","message":"Output blocked by content filtering policy"}})");
  Gateway gw(with_mock_fallback(config({{"a", "status=400/error_body=" + refusal}}), "content_policy_fallbacks", "claude",
                                "lenient"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "from the fallback");
  EXPECT_EQ(r.header("x-litellm-attempted-fallbacks"), "1");
}

TEST_F(AnthropicTest, VendorErrorsKeepTheirOpenAiClass) {
  Gateway gw(config({{"limited", "status=429/retry_after=7"}}));
  HttpResponse limited = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(limited.status, 429u) << limited.body;
  EXPECT_EQ(limited.json()["error"]["type"], "rate_limit_error");
  EXPECT_EQ(limited.header("retry-after"), "7");

  std::string wrong_key = config({{"a", ""}});
  wrong_key.replace(wrong_key.find(kUpstreamKey), std::string(kUpstreamKey).size(), "sk-wrong");
  Gateway bad_key(wrong_key);
  HttpResponse denied = bad_key.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(denied.status, 401u) << denied.body;
}

}  // namespace
}  // namespace tollgate::testing
