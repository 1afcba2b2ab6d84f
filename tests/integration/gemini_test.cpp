// `gemini/` deployments through the whole gateway: OpenAI-format clients, the fake provider
// speaking Google's generateContent API (tests/support/fake_gemini.hpp, which refuses what Google
// refuses), and the answers, streams, tool calls, errors, usage and cost translated back.
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

constexpr const char* kUpstreamKey = "AIza-fake-gemini";
constexpr const char* kPrice = ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000004";

class GeminiTest : public VendorTest {
 protected:
  GeminiTest() : VendorTest("gem", FakeProviderOptions{.require_api_key = kUpstreamKey}) {}

  // Group `gem` on one Gemini deployment per id, at the fake's Gemini root for it (controls in the
  // path); `params` is spliced into litellm_params.
  std::string config(const Deployments& deployments, const std::string& params = "",
                     const std::string& key = std::string(", api_key: ") + kUpstreamKey) const {
    return model_list(group_, deployments,
                      [&](const std::string& id, const std::string& controls) {
                        return "model: gemini/gemini-2.0-flash, api_base: \"" +
                               fake_deployment_root(fake_.port(), id, controls) + "/v1beta\"" + key + params;
                      }) +
           settings_yaml();
  }
};

const json kTools = json::array({{{"type", "function"},
                                  {"function",
                                   {{"name", "get_weather"},
                                    {"description", "Weather of a city"},
                                    {"parameters",
                                     {{"type", "object"},
                                      {"properties", {{"location", {{"type", "string"}}}}},
                                      {"additionalProperties", false}}}}}}});

TEST_F(GeminiTest, PlainChatIsTranslatedBothWaysAndPriced) {
  Gateway gw(config({{"a", "prompt_tokens=1000/completion_tokens=100"}}, kPrice));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{{"role", "system"}, {"content", "Be brief."}}, user("Hi"), user("Still there?")},
                                {{"temperature", 0.2}, {"stop", "END"}, {"max_tokens", 50}, {"user", "u-1"}})
                               .dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json answer = r.json();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "Hello from the fake provider.");
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(answer["usage"]["prompt_tokens"], 1000);
  EXPECT_EQ(answer["usage"]["completion_tokens"], 100);
  EXPECT_EQ(answer["usage"]["total_tokens"], 1100);
  // 1000 × 1e-6 + 100 × 4e-6
  EXPECT_NEAR(std::stod(r.header("x-litellm-response-cost")), 0.0014, 1e-12);

  const RecordedRequest sent = last();
  EXPECT_NE(sent.target.find("/v1beta/models/gemini-2.0-flash:generateContent"), std::string::npos) << sent.target;
  EXPECT_EQ(sent.headers.at("x-goog-api-key"), kUpstreamKey);
  EXPECT_EQ(sent.headers.count("authorization"), 0u) << "the key goes in x-goog-api-key only";
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["systemInstruction"]["parts"][0]["text"], "Be brief.");
  ASSERT_EQ(body["contents"].size(), 1u) << "two user turns merged into one";
  EXPECT_EQ(body["contents"][0]["parts"].size(), 2u);
  EXPECT_EQ(body["generationConfig"]["stopSequences"], json::array({"END"}));
  EXPECT_EQ(body["generationConfig"]["maxOutputTokens"], 50);
}

TEST_F(GeminiTest, StreamIsTranslatedChunkByChunkWithUsageAndCost) {
  Gateway gw(config({{"a", "chunks=4/prompt_tokens=1000/completion_tokens=100/reasoning_tokens=40"}}, kPrice));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({user("Hi")}, {{"stream", true}, {"stream_options", {{"include_usage", true}}}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  const StreamText st = parse_stream(r.body);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done) << "Gemini sends no [DONE]; the gateway does";
  EXPECT_TRUE(st.error.is_null()) << r.body;
  EXPECT_EQ(st.usage_chunks, 1);
  EXPECT_EQ(st.usage["prompt_tokens"], 1000);
  EXPECT_EQ(st.usage["completion_tokens"], 100);
  EXPECT_EQ(st.usage["completion_tokens_details"]["reasoning_tokens"], 40);
  EXPECT_NEAR(st.usage["cost"].get<double>(), 0.0014, 1e-12);
  EXPECT_NE(r.body.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_EQ(r.body.find("usageMetadata"), std::string::npos) << "no Gemini event reaches the client";
  EXPECT_NE(last().target.find(":streamGenerateContent?alt=sse"), std::string::npos) << last().target;
  EXPECT_EQ(last_upstream_body().count("stream"), 0u);
}

TEST_F(GeminiTest, StreamCutBeforeTheFinishReasonIsAnError) {
  Gateway gw(config({{"a", "chunks=4/disconnect_after=2"}}));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}, {{"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const StreamText st = parse_stream(r.body);
  EXPECT_FALSE(st.done);
  EXPECT_FALSE(st.error.is_null()) << r.body;
}

TEST_F(GeminiTest, ToolCallsAndToolResultsRoundTrip) {
  Gateway gw(config({{"a", ""}}));
  HttpResponse first = gw.post("/v1/chat/completions", chat({user("Weather in Paris?")}, {{"tools", kTools}}).dump());
  ASSERT_EQ(first.status, 200u) << first.body;
  EXPECT_EQ(first.json()["choices"][0]["finish_reason"], "tool_calls");
  const json message = first.json()["choices"][0]["message"];
  ASSERT_EQ(message["tool_calls"].size(), 1u) << first.body;
  const json call = message["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"location", "Paris"}}));
  EXPECT_EQ(last_upstream_body()["tools"][0]["functionDeclarations"][0]["name"], "get_weather");

  HttpResponse second = gw.post(
      "/v1/chat/completions",
      chat({user("Weather in Paris?"),
            {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}},
            {{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "18 C and sunny"}}},
           {{"tools", kTools}, {"tool_choice", "auto"}})
          .dump());
  ASSERT_EQ(second.status, 200u) << second.body;
  EXPECT_EQ(second.json()["choices"][0]["message"]["content"], "Hello from the fake provider.");
  const json sent = last_upstream_body();
  ASSERT_EQ(sent["contents"].size(), 3u) << sent.dump();
  EXPECT_EQ(sent["contents"][1]["role"], "model");
  EXPECT_EQ(sent["contents"][1]["parts"][0]["functionCall"]["args"], json({{"location", "Paris"}}));
  EXPECT_EQ(sent["contents"][2]["parts"][0]["functionResponse"]["name"], "get_weather");
  EXPECT_EQ(sent["toolConfig"]["functionCallingConfig"]["mode"], "AUTO");
}

TEST_F(GeminiTest, StreamedToolCallArrivesWhole) {
  Gateway gw(config({{"a", ""}}));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Weather?")}, {{"tools", kTools}, {"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::size_t at = r.body.find("\"tool_calls\":[");
  ASSERT_NE(at, std::string::npos) << r.body;
  const std::size_t start = r.body.rfind("data: ", at) + 6;
  const json chunk = json::parse(r.body.substr(start, r.body.find("\n\n", start) - start));
  const json tc = chunk["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(tc["index"], 0);
  EXPECT_EQ(tc["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(tc["function"]["arguments"].get<std::string>()), json({{"location", "Paris"}}));
  EXPECT_NE(r.body.find("\"finish_reason\":\"tool_calls\""), std::string::npos);
  EXPECT_TRUE(parse_stream(r.body).done);
}

TEST_F(GeminiTest, RateLimitIsRetriedElsewhereAndCoolsTheDeploymentDown) {
  Gateway alone(config({{"limited", "status=429"}}));
  HttpResponse limited = alone.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(limited.status, 429u) << limited.body;
  EXPECT_EQ(limited.json()["error"]["type"], "rate_limit_error");
  EXPECT_EQ(limited.header("retry-after"), "11") << "RetryInfo.retryDelay";

  Gateway two(config({{"limited", "status=429"}, {"b", ""}}));
  for (int i = 0; i < 3; ++i) {
    HttpResponse served = two.post("/v1/chat/completions", chat({user("Hi")}, {{"num_retries", 1}}).dump());
    EXPECT_EQ(served.status, 200u) << served.body;
    EXPECT_EQ(served.header("x-litellm-model-id"), "b");
  }
}

TEST_F(GeminiTest, UnavailableIsA503TheRouterFailsOverFrom) {
  Gateway alone(config({{"a", "status=503"}}));
  HttpResponse r = alone.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(r.status, 503u) << r.body;

  Gateway two(config({{"a", "status=503"}, {"b", ""}}));
  HttpResponse served = two.post("/v1/chat/completions", chat({user("Hi")}, {{"num_retries", 1}}).dump());
  EXPECT_EQ(served.status, 200u) << served.body;
  EXPECT_EQ(served.header("x-litellm-model-id"), "b");
}

TEST_F(GeminiTest, InputTokenCountErrorFallsBackToTheContextWindowGroup) {
  const std::string too_long = percent_encode(
      R"({"error":{"code":400,"message":"The input token count (1250000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})");
  Gateway gw(with_mock_fallback(config({{"a", "status=400/error_body=" + too_long}}), "context_window_fallbacks", "gem", "big"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "from the fallback");
  EXPECT_EQ(r.header("x-litellm-attempted-fallbacks"), "1");
}

TEST_F(GeminiTest, BlockedPromptFallsBackToTheContentPolicyGroup) {
  Gateway alone(config({{"a", ""}}));
  HttpResponse refused = alone.post("/v1/chat/completions", chat({user("BLOCK_ME please")}).dump());
  EXPECT_EQ(refused.status, 400u) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "content_policy_violation");

  Gateway gw(with_mock_fallback(config({{"a", ""}}), "content_policy_fallbacks", "gem", "big"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("BLOCK_ME please")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "from the fallback");
  EXPECT_EQ(r.header("x-litellm-attempted-fallbacks"), "1");
}

TEST_F(GeminiTest, WrongOrMissingKeysAreAuthErrorsAndTheEnvironmentKeyIsUsed) {
  Gateway wrong(config({{"a", ""}}, "", ", api_key: AIza-wrong"));
  HttpResponse denied = wrong.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(denied.status, 401u) << denied.body;
  EXPECT_EQ(denied.json()["error"]["type"], "authentication_error");

  // No api_key: GEMINI_API_KEY, as LiteLLM reads it.
  Gateway from_env(config({{"a", ""}}, "", ""), {{"GEMINI_API_KEY", kUpstreamKey}});
  HttpResponse ok = from_env.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(last().headers.at("x-goog-api-key"), kUpstreamKey);
}

TEST_F(GeminiTest, BadInputIsAnOpenAi400BeforeAnyUpstreamCall) {
  Gateway gw(config({{"a", ""}}));
  const std::size_t before = fake_.request_count();
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({user("x"), {{"role", "tool"}, {"tool_call_id", "nope"}, {"content", "1"}}}).dump());
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
  HttpResponse e = gw.post("/v1/embeddings", json({{"model", "gem"}, {"input", "x"}}).dump());
  EXPECT_EQ(e.status, 400u) << e.body;
  EXPECT_EQ(fake_.request_count(), before);
}

}  // namespace
}  // namespace tollgate::testing
