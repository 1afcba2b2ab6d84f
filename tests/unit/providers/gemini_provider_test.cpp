#include "providers/gemini/gemini_provider.hpp"

#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tollgate/http/sse_decoder.hpp"
#include "unit/providers/failure_support.hpp"
#include "unit/providers/transcript.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

constexpr std::int64_t kCreated = 1'700'000'000;

// Transcripts written from Google's public Gemini API reference (generateContent, streamGenerateContent).
std::string data_file(std::string_view name) { return transcript("gemini", name); }

api::ApiResult<std::string> translate_request(const std::string& body) {
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  if (!parsed) return parsed.error();
  return gemini_request_body(*parsed);
}

void expect_request(std::string_view name) {
  auto out = translate_request(data_file(std::string(name) + ".json"));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file(std::string(name) + ".expected.json"))) << *out;
}

api::ApiError request_error(const std::string& body) {
  auto out = translate_request(body);
  EXPECT_FALSE(out) << "translated to " << (out ? *out : "");
  return out ? api::ApiError{} : out.error();
}


void expect_chunks(const std::string& out, std::string_view expected_file) {
  expect_chunk_lines(out, data_file(expected_file));
}

api::ApiError gemini_error(unsigned status, std::string_view body, std::string retry) {
  return gemini_failure(status, body, retry_after(std::move(retry)), 0).error;
}

config::ErrorClass classify(const api::ApiError& e) { return read_downstream(e); }

TEST(GeminiRequestTest, SystemTurnsImagesAndGenerationConfig) {
  // Also: consecutive user turns merged, OpenAI-only (logprobs, user) and gateway-only fields dropped.
  expect_request("plain_request");
}

TEST(GeminiRequestTest, ToolsToolChoiceCallsAndResultsNamedFromTheirCall) {
  // Also: JSON Schema keywords Gemini refuses are dropped, a parameterless function has no parameters.
  expect_request("tools_request");
}

TEST(GeminiRequestTest, ToolChoiceStringsAndJsonSchemaResponseFormat) {
  for (auto [choice, mode] : {std::pair{"auto", "AUTO"}, std::pair{"required", "ANY"}, std::pair{"none", "NONE"}}) {
    auto out = translate_request(std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":")") + choice + "\"}");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(json::parse(*out)["toolConfig"]["functionCallingConfig"]["mode"], mode);
  }
  auto out = translate_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":9,"stop":["a","b"],"response_format":{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}}}})");
  ASSERT_TRUE(out) << out.error().message;
  const json config = json::parse(*out)["generationConfig"];
  EXPECT_EQ(config["responseMimeType"], "application/json");
  EXPECT_EQ(config["responseSchema"], json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}}})"));
  EXPECT_EQ(config["maxOutputTokens"], 9);
  EXPECT_EQ(config["stopSequences"], json::parse(R"(["a","b"])"));
}

TEST(GeminiRequestTest, BadInputIsA400) {
  const api::ApiError args = request_error(
      R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[
          {"id":"t","type":"function","function":{"name":"f","arguments":"{not json"}}]}]})");
  EXPECT_EQ(args.status, 400u);
  EXPECT_EQ(args.type, "invalid_request_error");
  EXPECT_NE(args.message.find("messages[1].tool_calls[0].function.arguments"), std::string::npos) << args.message;
  const api::ApiError orphan = request_error(
      R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"1"}]})");
  EXPECT_NE(orphan.message.find("names no earlier assistant tool call"), std::string::npos) << orphan.message;
  for (const char* body : {
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]})",
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,raw"}}]}]})",
           R"({"model":"m","messages":[{"role":"function","content":"x"}]})",
           R"({"model":"m","messages":[{"role":"system","content":"only a system prompt"}]})",
           R"({"model":"m","messages":[{"role":"user","content":5}]})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":5})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}})"}) {
    EXPECT_EQ(request_error(body).status, 400u) << body;
  }
}

TEST(GeminiProviderTest, BuildsGenerateContentRequestsWithTheKeyHeader) {
  GeminiProvider p;
  config::Deployment d;
  d.model = "gemini-2.0-flash";
  d.api_key = "AIza-fake";
  auto base = http::Url::parse("https://generativelanguage.googleapis.com/v1beta");
  auto plain = api::parse_request(R"({"model":"group","messages":[{"role":"user","content":"hi"}]})", api::Endpoint::kChatCompletions);
  auto streamed = api::parse_request(R"({"model":"group","messages":[{"role":"user","content":"hi"}],"stream":true})",
                                     api::Endpoint::kChatCompletions);
  ASSERT_TRUE(plain && streamed);
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions, *plain, d.model, true);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->target, "/v1beta/models/gemini-2.0-flash:generateContent");
  EXPECT_EQ(req->url.host, "generativelanguage.googleapis.com");
  std::map<std::string, std::string> headers(req->headers.begin(), req->headers.end());
  EXPECT_EQ(headers["x-goog-api-key"], "AIza-fake");
  EXPECT_EQ(headers["content-type"], "application/json");
  EXPECT_EQ(headers.count("authorization"), 0u);
  EXPECT_EQ(json::parse(req->body).count("stream"), 0u) << "the URL says stream, not the body";
  auto sreq = p.build_request(d, *base, api::Endpoint::kChatCompletions, *streamed, d.model, true);
  ASSERT_TRUE(sreq);
  EXPECT_EQ(sreq->target, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(gemini_target("/v1beta", "tuned/x y", false), "/v1beta/models/tuned%2Fx%20y:generateContent");

  auto embed = api::parse_request(R"({"model":"m","input":"x"})", api::Endpoint::kEmbeddings);
  ASSERT_TRUE(embed);
  auto refused = p.build_request(d, *base, api::Endpoint::kEmbeddings, *embed, d.model, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 400u);
}

TEST(GeminiProviderTest, RegistryReturnsTheAdapterForTheGeminiPrefix) {
  EXPECT_NE(dynamic_cast<const GeminiProvider*>(make_provider("gemini").get()), nullptr);
  EXPECT_EQ(dynamic_cast<const GeminiProvider*>(make_provider("openai").get()), nullptr);
}

TEST(GeminiResponseTest, PlainTextResponse) {
  Usage u;
  auto out = gemini_response_to_openai(data_file("plain_response.json"), kCreated, u);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("plain_response.expected.json"))) << *out;
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.prompt_tokens, 12);
  EXPECT_EQ(u.completion_tokens, 9);
  EXPECT_EQ(u.cached_prompt_tokens, 4);
}

TEST(GeminiResponseTest, FunctionCallsAndThoughtsWithReasoningTokens) {
  Usage u;
  auto out = gemini_response_to_openai(data_file("tool_call_response.json"), kCreated, u);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("tool_call_response.expected.json"))) << *out;
  EXPECT_EQ(u.completion_tokens, 50) << "thoughts count as completion tokens";
  EXPECT_EQ(u.reasoning_tokens, 30);
}

TEST(GeminiResponseTest, FinishReasonsAndBadBodies) {
  for (auto [reason, finish] : {std::pair{"MAX_TOKENS", "length"}, std::pair{"SAFETY", "content_filter"},
                                std::pair{"RECITATION", "content_filter"}, std::pair{"PROHIBITED_CONTENT", "content_filter"},
                                std::pair{"STOP", "stop"}, std::pair{"OTHER", "stop"}}) {
    Usage u;
    auto out = gemini_response_to_openai(
        std::string(R"({"candidates":[{"content":{"role":"model","parts":[]},"finishReason":")") + reason + "\"}]}", kCreated, u);
    ASSERT_TRUE(out);
    EXPECT_EQ(json::parse(*out)["choices"][0]["finish_reason"], finish) << reason;
    EXPECT_TRUE(json::parse(*out)["choices"][0]["message"]["content"].is_null());
  }
  Usage u;
  EXPECT_FALSE(gemini_response_to_openai("<html>", kCreated, u));
  EXPECT_FALSE(gemini_response_to_openai(R"({"candidates":[]})", kCreated, u));
}

TEST(GeminiResponseTest, BlockedPromptIsAContentPolicyError) {
  Usage u;
  auto out = gemini_response_to_openai(data_file("blocked_prompt_response.json"), kCreated, u);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().status, 400u);
  EXPECT_EQ(out.error().type, "invalid_request_error");
  EXPECT_EQ(out.error().code, "content_policy_violation");
  EXPECT_EQ(classify(out.error()), config::ErrorClass::kContentPolicy);
  // An error inside a 200: the proxy has the provider classify it.
  EXPECT_EQ(GeminiProvider().classify_translated_error(out.error()).cls, config::ErrorClass::kContentPolicy);
}

TEST(GeminiStreamTest, TextStreamEndsAtTheFinishReasonWithUsage) {
  auto t = make_gemini_stream_translator(true, {}, kCreated);
  const std::string out = relay(*t, data_file("stream_text.sse"));
  expect_chunks(out, "stream_text.expected.data");
  EXPECT_TRUE(out.ends_with("\n\ndata: [DONE]\n\n"));
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().prompt_tokens, 8);
  EXPECT_EQ(t->usage().completion_tokens, 6);
  EXPECT_EQ(t->usage().total_tokens, 14);
}

TEST(GeminiStreamTest, UsageChunkCarriesTheCostWhenPricedAndIsHiddenWhenNotAsked) {
  auto priced = make_gemini_stream_translator(true, [](const Usage& u) { return 0.5 * static_cast<double>(u.total_tokens); }, kCreated);
  const auto with_cost = payloads(relay(*priced, data_file("stream_text.sse")));
  ASSERT_EQ(with_cost.size(), 7u);
  EXPECT_NE(with_cost[5].find("\"usage\":{\"cost\":7.0,"), std::string::npos) << with_cost[5];

  auto hidden = make_gemini_stream_translator(false, {}, kCreated);
  const auto without = payloads(relay(*hidden, data_file("stream_text.sse")));
  ASSERT_EQ(without.size(), 6u);
  EXPECT_EQ(without.back(), "[DONE]");
  EXPECT_EQ(hidden->usage().total_tokens, 14) << "usage is recorded even when the client did not ask";
}

TEST(GeminiStreamTest, WholeToolCallsInOneDeltaAndThoughtsAsReasoning) {
  auto t = make_gemini_stream_translator(true, {}, kCreated);
  expect_chunks(relay(*t, data_file("stream_tool_call.sse")), "stream_tool_call.expected.data");
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().completion_tokens, 28);
  EXPECT_EQ(t->usage().reasoning_tokens, 12);
}

TEST(GeminiStreamTest, NotFinishedWithoutAFinishReasonAndNothingAfterIt) {
  auto t = make_gemini_stream_translator(false, {}, kCreated);
  std::string out;
  ASSERT_FALSE(t->on_event(http::SseEvent{"", R"({"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]})", ""}, out));
  EXPECT_FALSE(t->finished()) << "the relay reports a stream cut here as an error";
  ASSERT_FALSE(t->on_event(http::SseEvent{"", R"({"candidates":[{"content":{"parts":[]},"finishReason":"STOP"}]})", ""}, out));
  EXPECT_TRUE(t->finished());
  out.clear();
  ASSERT_FALSE(t->on_event(http::SseEvent{"", R"({"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}})", ""}, out));
  EXPECT_TRUE(out.empty()) << "nothing follows [DONE]";
  EXPECT_EQ(t->usage().total_tokens, 5) << "late usage is still recorded";
}

TEST(GeminiStreamTest, ErrorsBlockedPromptsAndGarbageBecomeApiErrors) {
  auto t = make_gemini_stream_translator(false, {}, kCreated);
  std::string out;
  auto err = t->on_event(http::SseEvent{"", data_file("error_unavailable.json"), ""}, out);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 503u);
  auto blocked = make_gemini_stream_translator(false, {}, kCreated)->on_event(
      http::SseEvent{"", data_file("blocked_prompt_response.json"), ""}, out);
  ASSERT_TRUE(blocked);
  EXPECT_EQ(blocked->code, "content_policy_violation");
  EXPECT_TRUE(t->on_event(http::SseEvent{"", "{not json", ""}, out));
}

TEST(GeminiErrorTest, ResourceExhaustedIsARateLimitWithTheRetryDelay) {
  const api::ApiError e = gemini_error(429, data_file("error_rate_limit.json"), "");
  EXPECT_EQ(e.status, 429u);
  EXPECT_EQ(e.type, "rate_limit_error");
  EXPECT_EQ(e.retry_after, std::chrono::seconds(23));
  EXPECT_NE(e.message.find("exceeded your current quota"), std::string::npos);
  EXPECT_EQ(classify(e), config::ErrorClass::kRateLimit);
  EXPECT_EQ(gemini_error(429, data_file("error_rate_limit.json"), "5").retry_after, std::chrono::seconds(5))
      << "the header wins";
}

TEST(GeminiErrorTest, InputTokenCountIsAContextWindowError) {
  const std::string body = data_file("error_context_window.json");
  const api::ApiError e = gemini_error(400, body, "");
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(gemini_failure(400, body, {}, 0).cls, config::ErrorClass::kContextWindow);
  EXPECT_EQ(classify(e), config::ErrorClass::kContextWindow);
}

TEST(GeminiErrorTest, UnavailableIsA503AndBadKeysAreAuthErrors) {
  const api::ApiError overloaded = gemini_error(503, data_file("error_unavailable.json"), "");
  EXPECT_EQ(overloaded.status, 503u);
  EXPECT_EQ(classify(overloaded), config::ErrorClass::kServerError);
  const api::ApiError bad_key = gemini_error(400, data_file("error_bad_key.json"), "");
  EXPECT_EQ(bad_key.status, 401u);
  EXPECT_EQ(bad_key.type, "authentication_error");
  for (auto [status, name, want] : {std::tuple{401u, "UNAUTHENTICATED", 401u}, std::tuple{403u, "PERMISSION_DENIED", 403u},
                                    std::tuple{404u, "NOT_FOUND", 404u}, std::tuple{500u, "INTERNAL", 500u}}) {
    const std::string body = std::string(R"([{"error":{"code":)") + std::to_string(status) + R"(,"message":"why","status":")" + name + "\"}}]";
    const api::ApiError e = gemini_error(status, body, "");
    EXPECT_EQ(e.status, want) << name;
    EXPECT_EQ(e.message, "why") << name;
    EXPECT_EQ(e.code, std::to_string(want));
  }
  EXPECT_EQ(gemini_error(502, "<html>bad gateway</html>", "").status, 502u);
}

}  // namespace
}  // namespace tollgate::providers
