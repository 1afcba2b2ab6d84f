// `bedrock/` deployments through the whole gateway: OpenAI-format clients, the fake provider
// speaking Bedrock's Converse API (tests/support/fake_bedrock.hpp: it verifies the SigV4 signature
// with the deployment's secret and refuses what Converse refuses), answers, event-stream streams,
// tool calls, errors, usage and cost translated back.
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

constexpr const char* kSecret = "bedrock-fake-secret";
constexpr const char* kModelId = "anthropic.claude-3-5-sonnet-20240620-v1:0";

class BedrockTest : public VendorTest {
 protected:
  BedrockTest() : VendorTest("claude", FakeProviderOptions{.require_api_key = kSecret}) {}

  // Group `claude` on one Bedrock deployment per id (fake controls in its api_base).
  std::string config(const Deployments& deployments, const std::string& params = "",
                     const std::string& secret = kSecret) const {
    return model_list(group_, deployments,
                      [&](const std::string& id, const std::string& controls) {
                        return "model: bedrock/" + std::string(kModelId) + ", api_base: \"" +
                               fake_deployment_base(fake_.port(), id, controls) +
                               "\", aws_access_key_id: AKIDFAKE, aws_secret_access_key: " + secret +
                               ", aws_region_name: us-west-2" + params;
                      }) +
           settings_yaml();
  }
};

TEST_F(BedrockTest, PlainChatIsSignedAndTranslatedBothWays) {
  Gateway gw(config({{"a", ""}}, ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000005"));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{{"role", "system"}, {"content", "Be brief."}}, user("Hi"), user("Still there?")},
                                {{"temperature", 0.2}, {"stop", "END"}, {"max_tokens", 100}})
                               .dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json answer = r.json();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "Hello from the fake provider.");
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(answer["usage"]["prompt_tokens"], 11);
  EXPECT_EQ(answer["usage"]["completion_tokens"], 7);
  // 11 × 1e-6 + 7 × 5e-6
  EXPECT_NEAR(std::stod(r.header("x-litellm-response-cost")), 0.000046, 1e-12);

  const RecordedRequest sent = last();
  EXPECT_TRUE(sent.target.ends_with("/v1/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse")) << sent.target;
  EXPECT_TRUE(sent.headers.at("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDFAKE/"));
  EXPECT_NE(sent.headers.at("authorization").find("/us-west-2/bedrock/aws4_request"), std::string::npos);
  EXPECT_EQ(sent.headers.at("x-amz-date").size(), 16u);
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["system"], json::parse(R"([{"text":"Be brief."}])"));
  EXPECT_EQ(body["messages"].size(), 1u) << "two user turns merged into one";
  EXPECT_EQ(body["inferenceConfig"], json::parse(R"({"maxTokens":100,"temperature":0.2,"stopSequences":["END"]})"));
}

TEST_F(BedrockTest, StreamIsDecodedFromEventStreamFramesWithUsageAndCost) {
  Gateway gw(config({{"a", "chunks=4"}}, ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000005"));
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
  EXPECT_NEAR(st.usage["cost"].get<double>(), 0.000046, 1e-12);
  EXPECT_NE(r.body.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_EQ(r.body.find("contentBlockDelta"), std::string::npos) << "no Bedrock event reaches the client";
  EXPECT_TRUE(last().target.ends_with("/converse-stream")) << last().target;
}

TEST_F(BedrockTest, ToolCallsPlainAndStreamed) {
  Gateway gw(config({{"a", "chunks=3"}}));
  const json tools = json::array({{{"type", "function"},
                                   {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}});
  HttpResponse first = gw.post("/v1/chat/completions", chat({user("Weather in Paris?")}, {{"tools", tools}}).dump());
  ASSERT_EQ(first.status, 200u) << first.body;
  const json message = first.json()["choices"][0]["message"];
  EXPECT_EQ(first.json()["choices"][0]["finish_reason"], "tool_calls");
  ASSERT_EQ(message["tool_calls"].size(), 1u) << first.body;
  const json call = message["tool_calls"][0];
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"location", "Paris"}}));

  // The tool result goes back as a toolResult in a user turn; the fake then answers with text.
  HttpResponse second = gw.post("/v1/chat/completions",
                                chat({user("Weather in Paris?"), message,
                                      {{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "18C"}}},
                                     {{"tools", tools}})
                                    .dump());
  ASSERT_EQ(second.status, 200u) << second.body;
  EXPECT_EQ(second.json()["choices"][0]["message"]["content"], "Hello from the fake provider.");
  const json sent = last_upstream_body();
  EXPECT_EQ(sent["messages"][2]["content"][0]["toolResult"]["toolUseId"], call["id"]);

  HttpResponse streamed = gw.post("/v1/chat/completions", chat({user("Weather?")}, {{"tools", tools}, {"stream", true}}).dump());
  ASSERT_EQ(streamed.status, 200u) << streamed.body;
  const StreamedToolCall streamed_call = streamed_tool_call(streamed.body);
  EXPECT_EQ(streamed_call.name, "get_weather");
  EXPECT_EQ(json::parse(streamed_call.arguments), json({{"location", "Paris"}}));
  EXPECT_NE(streamed.body.find("\"finish_reason\":\"tool_calls\""), std::string::npos);
}

TEST_F(BedrockTest, WrongSecretIsAnAuthenticationError) {
  Gateway gw(config({{"a", ""}}, "", "not-the-secret"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(r.status, 401u) << r.body;
  EXPECT_EQ(r.json()["error"]["type"], "authentication_error");
  EXPECT_NE(r.body.find("signature we calculated does not match"), std::string::npos) << r.body;
}

TEST_F(BedrockTest, CredentialsAndRegionFromTheEnvironment) {
  const std::string yaml = "model_list:\n  - model_name: claude\n    litellm_params: {model: bedrock/" + std::string(kModelId) +
                           ", api_base: \"" + fake_deployment_base(fake_.port(), "env") + "\"}\n" + settings_yaml("");
  Gateway gw(yaml, {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret},
                    {"AWS_SESSION_TOKEN", "session-token"}, {"AWS_DEFAULT_REGION", "eu-west-1"}});
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(last().headers.at("authorization").find("Credential=AKIDENV/"), std::string::npos);
  EXPECT_NE(last().headers.at("authorization").find("/eu-west-1/bedrock/"), std::string::npos);
  EXPECT_EQ(last().headers.at("x-amz-security-token"), "session-token");
}

TEST_F(BedrockTest, ThrottlingIsARateLimitWithRetryAfterAndFailsOver) {
  Gateway gw(config({{"limited", "status=429/retry_after=7"}}));
  HttpResponse limited = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  EXPECT_EQ(limited.status, 429u) << limited.body;
  EXPECT_EQ(limited.json()["error"]["type"], "rate_limit_error");
  EXPECT_EQ(limited.header("retry-after"), "7");

  Gateway two(config({{"a", "status=503"}, {"b", ""}}));
  HttpResponse served = two.post("/v1/chat/completions", chat({user("Hi")}, {{"num_retries", 1}}).dump());
  EXPECT_EQ(served.status, 200u) << served.body;
  EXPECT_EQ(served.header("x-litellm-model-id"), "b");
}

TEST_F(BedrockTest, InputTooLongFallsBackToTheContextWindowGroup) {
  Gateway gw(with_mock_fallback(config({{"a", "status=400/content=" + percent_encode("Input is too long for requested model.")}}),
                                "context_window_fallbacks", "claude", "long", "from the long model"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "from the long model");
}

TEST_F(BedrockTest, ContentFilterRefusalFallsBackToTheContentPolicyGroup) {
  Gateway gw(with_mock_fallback(config({{"a", "status=400/content=" + percent_encode("Output blocked by content filtering policy")}}),
                                "content_policy_fallbacks", "claude", "lenient"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "from the fallback");
}

TEST_F(BedrockTest, ExceptionOrCorruptFrameMidStreamEndsTheStreamWithAnError) {
  Gateway gw(config({{"throttled", "chunks=4/exception_at=2"}}));
  HttpResponse r = gw.post("/v1/chat/completions", chat({user("Hi")}, {{"stream", true}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  StreamText st = parse_stream(r.body);
  EXPECT_FALSE(st.done) << r.body;
  EXPECT_FALSE(st.error.is_null()) << r.body;

  Gateway corrupt(config({{"crc", "chunks=4/malformed_at=2"}}));
  HttpResponse c = corrupt.post("/v1/chat/completions", chat({user("Hi")}, {{"stream", true}}).dump());
  st = parse_stream(c.body);
  EXPECT_FALSE(st.done) << c.body;
}

TEST_F(BedrockTest, BadRequestsAreOpenAiShaped400sBeforeAnyUpstreamCall) {
  Gateway gw(config({{"a", ""}}));
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}, {"image_url", {{"url", "https://x/y.png"}}}}})}}})
                               .dump());
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
  HttpResponse embeddings = gw.post("/v1/embeddings", R"({"model":"claude","input":"x"})");
  EXPECT_EQ(embeddings.status, 400u) << embeddings.body;
  EXPECT_EQ(fake_.request_count(), 0u);
}

}  // namespace
}  // namespace tollgate::testing
