#include "providers/anthropic/anthropic_provider.hpp"

#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tollgate/http/sse_decoder.hpp"
#include "unit/providers/failure_support.hpp"
#include "unit/providers/transcript.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

constexpr std::int64_t kCreated = 1'700'000'000;
constexpr std::string_view kModel = "claude-3-5-sonnet-20241022";

// Transcripts written from Anthropic's public Messages API reference.
std::string data_file(std::string_view name) { return transcript("anthropic", name); }

api::ApiResult<std::string> translate_request(const std::string& body) {
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  if (!parsed) return parsed.error();
  return anthropic_request_body(*parsed, kModel);
}

void expect_request(std::string_view name) {
  const std::string body = data_file(std::string(name) + ".json");
  auto out = translate_request(body);
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

TEST(AnthropicRequestTest, PlainChat) { expect_request("plain_request"); }

TEST(AnthropicRequestTest, SystemAndDeveloperBecomeSystemAndSameRoleTurnsMerge) {
  // Also: max_completion_tokens, stop as a string, user → metadata.user_id; OpenAI-only and
  // gateway-only fields dropped.
  expect_request("system_multiturn_request");
}

TEST(AnthropicRequestTest, ImagesFromDataAndHttpUrlsAndMissingMaxTokensFilled) { expect_request("images_request"); }

TEST(AnthropicRequestTest, ToolsToolChoiceToolCallsAndToolResults) { expect_request("tools_request"); }

TEST(AnthropicRequestTest, ToolChoiceStrings) {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}])";
  for (auto [openai, anthropic] : {std::pair{"\"auto\"", R"({"type":"auto"})"}, std::pair{"\"required\"", R"({"type":"any"})"},
                                   std::pair{"\"none\"", R"({"type":"none"})"}}) {
    auto out = translate_request(R"({"model":"m","messages":[{"role":"user","content":"x"}],)" + tools +
                                 ",\"tool_choice\":" + openai + "}");
    ASSERT_TRUE(out);
    EXPECT_EQ(json::parse(*out)["tool_choice"], json::parse(anthropic)) << openai;
  }
}

TEST(AnthropicRequestTest, StopListAndSystemCacheControlKept) {
  auto out = translate_request(
      R"({"model":"m","stop":["a","b"],"messages":[{"role":"system","content":[{"type":"text","text":"long",
          "cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"x"}]})");
  ASSERT_TRUE(out);
  const json body = json::parse(*out);
  EXPECT_EQ(body["stop_sequences"], json::parse(R"(["a","b"])"));
  EXPECT_EQ(body["system"], json::parse(R"([{"type":"text","text":"long","cache_control":{"type":"ephemeral"}}])"));
}

TEST(AnthropicRequestTest, InvalidToolArgumentsAreA400) {
  const api::ApiError e = request_error(
      R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[
          {"id":"t","type":"function","function":{"name":"f","arguments":"{not json"}}]}]})");
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_NE(e.message.find("messages[1].tool_calls[0].function.arguments"), std::string::npos) << e.message;
}

TEST(AnthropicRequestTest, UnsupportedContentAndRolesAreA400) {
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})").status, 400u);
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]})").status, 400u);
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"function","content":"x"}]})").status, 400u);
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]})").status, 400u);
}

json translated(const std::string& extra) {
  auto out = translate_request(R"({"model":"m","messages":[{"role":"user","content":"Hi"}])" + extra + "}");
  EXPECT_TRUE(out) << (out ? "" : out.error().message);
  return out ? json::parse(*out) : json();
}

TEST(AnthropicRequestTest, ReasoningEffortBecomesAThinkingBudget) {
  json low = translated(R"(,"reasoning_effort":"low")");
  EXPECT_EQ(low["thinking"], json::parse(R"({"type":"enabled","budget_tokens":1024})"));
  EXPECT_EQ(low["max_tokens"], 4096);
  json high = translated(R"(,"reasoning_effort":"high")");
  EXPECT_EQ(high["thinking"]["budget_tokens"], 4096);
  EXPECT_EQ(high["max_tokens"], 8192) << "a default max_tokens is raised above the budget";
  EXPECT_EQ(translated(R"(,"reasoning_effort":"medium","max_tokens":3000)")["thinking"]["budget_tokens"], 2048);
  EXPECT_FALSE(translated(R"(,"reasoning_effort":"none")").contains("thinking"));
  EXPECT_EQ(translated(R"(,"reasoning_effort":"high","thinking":{"type":"enabled","budget_tokens":9000})")["thinking"]
                ["budget_tokens"],
            9000)
      << "an explicit thinking wins";
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"high","max_tokens":100})").param,
            "max_tokens");
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"max"})").param,
            "reasoning_effort");
}

TEST(AnthropicRequestTest, ResponseFormatBecomesAForcedJsonTool) {
  json schema = translated(
      R"(,"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","properties":{"name":{"type":"string"}}}}})");
  ASSERT_EQ(schema["tools"].size(), 1u) << schema.dump();
  EXPECT_EQ(schema["tools"][0]["name"], "json_tool_call");
  EXPECT_EQ(schema["tools"][0]["input_schema"], json::parse(R"({"type":"object","properties":{"name":{"type":"string"}}})"));
  EXPECT_EQ(schema["tool_choice"], json::parse(R"({"type":"tool","name":"json_tool_call"})"));
  EXPECT_EQ(translated(R"(,"response_format":{"type":"json_object"})")["tools"][0]["input_schema"],
            json::parse(R"({"type":"object"})"));
  EXPECT_FALSE(translated(R"(,"response_format":{"type":"text"})").contains("tools"));
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_object"},
                             "tools":[{"type":"function","function":{"name":"f"}}]})").param,
            "response_format");
}

TEST(AnthropicResponseTest, JsonToolAnswerBecomesTheContent) {
  Usage usage;
  auto out = anthropic_response_to_openai(
      R"({"id":"msg_j","type":"message","role":"assistant","model":"claude","content":[{"type":"tool_use","id":"toolu_1",
          "name":"json_tool_call","input":{"name":"Paris","population":2100000}}],"stop_reason":"tool_use",
          "usage":{"input_tokens":10,"output_tokens":5}})",
      kCreated, usage);
  ASSERT_TRUE(out) << out.error().message;
  const json answer = json::parse(*out);
  EXPECT_EQ(answer["choices"][0]["message"]["content"], R"({"name":"Paris","population":2100000})");
  EXPECT_FALSE(answer["choices"][0]["message"].contains("tool_calls"));
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
}

TEST(AnthropicStreamTest, JsonToolInputStreamsAsContent) {
  auto t = make_anthropic_stream_translator(false, {}, kCreated);
  const std::string out = relay(
      *t,
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_j\",\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"json_tool_call\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"name\\\":\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  const auto got = payloads(out);
  ASSERT_EQ(got.size(), 5u) << out;
  std::string content;
  for (std::size_t i = 1; i < 3; ++i) content += json::parse(got[i])["choices"][0]["delta"]["content"].get<std::string>();
  EXPECT_EQ(content, R"({"name":"Paris"})");
  EXPECT_EQ(json::parse(got[3])["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(got[4], "[DONE]");
}

TEST(AnthropicProviderTest, BuildsMessagesRequestWithAnthropicHeaders) {
  AnthropicProvider p;
  config::Deployment d;
  d.model = std::string(kModel);
  d.api_key = "sk-ant-up";
  d.litellm_params = json::parse(R"({"extra_headers":{"anthropic-beta":"prompt-caching-2024-07-31"}})");
  auto base = http::Url::parse("https://api.anthropic.com/v1");
  auto parsed = api::parse_request(R"({"model":"group","messages":[{"role":"user","content":"hi"}],"stream":true})",
                                   api::Endpoint::kChatCompletions);
  ASSERT_TRUE(parsed);
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions, *parsed, d.model, true);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->target, "/v1/messages");
  EXPECT_EQ(req->url.host, "api.anthropic.com");
  std::map<std::string, std::string> headers(req->headers.begin(), req->headers.end());
  EXPECT_EQ(headers["x-api-key"], "sk-ant-up");
  EXPECT_EQ(headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(headers["anthropic-beta"], "prompt-caching-2024-07-31");
  EXPECT_EQ(headers["content-type"], "application/json");
  EXPECT_EQ(headers.count("authorization"), 0u);
  EXPECT_EQ(json::parse(req->body)["stream"], true);
}

TEST(AnthropicProviderTest, CompletionsAndEmbeddingsAreA400) {
  AnthropicProvider p;
  config::Deployment d;
  auto base = http::Url::parse("https://api.anthropic.com/v1");
  for (auto endpoint : {api::Endpoint::kEmbeddings, api::Endpoint::kCompletions}) {
    const std::string body = endpoint == api::Endpoint::kEmbeddings ? R"({"model":"m","input":"x"})" : R"({"model":"m","prompt":"x"})";
    auto parsed = api::parse_request(body, endpoint);
    ASSERT_TRUE(parsed);
    auto req = p.build_request(d, *base, endpoint, *parsed, "claude", false);
    ASSERT_FALSE(req);
    EXPECT_EQ(req.error().status, 400u);
    EXPECT_EQ(req.error().type, "invalid_request_error");
    EXPECT_NE(req.error().message.find("not supported by anthropic"), std::string::npos);
  }
}

TEST(AnthropicProviderTest, RegistryReturnsTheAdapterForTheAnthropicPrefixOnly) {
  EXPECT_NE(dynamic_cast<const AnthropicProvider*>(make_provider("anthropic").get()), nullptr);
  EXPECT_EQ(dynamic_cast<const AnthropicProvider*>(make_provider("openai").get()), nullptr);
  EXPECT_EQ(dynamic_cast<const AnthropicProvider*>(make_provider("hosted_vllm").get()), nullptr);
}

TEST(AnthropicResponseTest, PlainTextResponse) {
  Usage u;
  auto out = anthropic_response_to_openai(data_file("plain_response.json"), kCreated, u);
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out), json::parse(data_file("plain_response.expected.json")));
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.prompt_tokens, 12);
  EXPECT_EQ(u.total_tokens, 18);
}

TEST(AnthropicResponseTest, ToolUseThinkingAndCacheTokens) {
  Usage u;
  auto out = anthropic_response_to_openai(data_file("tool_use_response.json"), kCreated, u);
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out), json::parse(data_file("tool_use_response.expected.json"))) << *out;
  EXPECT_EQ(u.prompt_tokens, 1250) << "input_tokens excludes cache reads and writes";
  EXPECT_EQ(u.completion_tokens, 80);
  EXPECT_EQ(u.cached_prompt_tokens, 1000);
  EXPECT_EQ(u.cache_write_tokens, 200);
}

TEST(AnthropicResponseTest, StopReasonsAndNullContent) {
  for (auto [stop, finish] : {std::pair{"max_tokens", "length"}, std::pair{"stop_sequence", "stop"},
                              std::pair{"refusal", "content_filter"}, std::pair{"end_turn", "stop"}}) {
    Usage u;
    auto out = anthropic_response_to_openai(std::string(R"({"id":"m","content":[],"stop_reason":")") + stop + "\"}", kCreated, u);
    ASSERT_TRUE(out);
    const json body = json::parse(*out);
    EXPECT_EQ(body["choices"][0]["finish_reason"], finish) << stop;
    EXPECT_TRUE(body["choices"][0]["message"]["content"].is_null());
  }
  Usage u;
  EXPECT_FALSE(anthropic_response_to_openai("<html>", kCreated, u));
}

TEST(AnthropicStreamTest, TextStreamWithCacheUsageForAClientThatAsked) {
  auto t = make_anthropic_stream_translator(true, {}, kCreated);
  const std::string out = relay(*t, data_file("stream_text.sse"));
  expect_chunks(out, "stream_text.expected.data");
  EXPECT_TRUE(out.starts_with("data: {\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"object\":\"chat.completion.chunk\""));
  EXPECT_TRUE(out.ends_with("\n\ndata: [DONE]\n\n"));
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().prompt_tokens, 2073);
  EXPECT_EQ(t->usage().completion_tokens, 15);
  EXPECT_EQ(t->usage().total_tokens, 2088);
  EXPECT_EQ(t->usage().cached_prompt_tokens, 2048);
}

TEST(AnthropicStreamTest, UsageChunkCarriesTheCostWhenPricedAndIsHiddenWhenNotAsked) {
  auto priced = make_anthropic_stream_translator(true, [](const Usage& u) { return 0.5 * static_cast<double>(u.total_tokens); }, kCreated);
  const auto with_cost = payloads(relay(*priced, data_file("stream_text.sse")));
  ASSERT_EQ(with_cost.size(), 6u);
  EXPECT_TRUE(with_cost[4].find("\"usage\":{\"cost\":1044.0,") != std::string::npos) << with_cost[4];

  auto hidden = make_anthropic_stream_translator(false, {}, kCreated);
  const auto without = payloads(relay(*hidden, data_file("stream_text.sse")));
  ASSERT_EQ(without.size(), 5u);
  EXPECT_EQ(without.back(), "[DONE]");
  EXPECT_EQ(json::parse(without[3])["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(hidden->usage().total_tokens, 2088) << "usage is recorded even when the client did not ask";
}

TEST(AnthropicStreamTest, ToolCallWithArgumentDeltas) {
  auto t = make_anthropic_stream_translator(false, {}, kCreated);
  expect_chunks(relay(*t, data_file("stream_tool_use.sse")), "stream_tool_use.expected.data");
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().prompt_tokens, 472);
  EXPECT_EQ(t->usage().completion_tokens, 89);
}

TEST(AnthropicStreamTest, ThinkingBecomesReasoningContent) {
  auto t = make_anthropic_stream_translator(false, {}, kCreated);
  const std::string out = relay(
      *t,
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_t\",\"model\":\"claude-3-7-sonnet-20250219\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see.\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
  const auto got = payloads(out);
  ASSERT_EQ(got.size(), 2u) << out;
  EXPECT_EQ(json::parse(got[1])["choices"][0]["delta"], json::parse(R"({"reasoning_content":"Let me see."})"));
  EXPECT_FALSE(t->finished());
}

TEST(AnthropicStreamTest, ErrorEventBecomesAnApiError) {
  auto t = make_anthropic_stream_translator(false, {}, kCreated);
  std::string out;
  auto err = t->on_event(http::SseEvent{"error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", ""}, out);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 503u);
  EXPECT_EQ(err->message, "Overloaded");
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(t->on_event(http::SseEvent{"", "{not json", ""}, out));
}

api::ApiError map_error(const AnthropicProvider& p, unsigned status, std::string_view body, std::string retry = "") {
  return p.classify_error(status, body, retry_after(std::move(retry)), 0).error;
}

config::ErrorClass classify(const api::ApiError& e) { return read_downstream(e); }

TEST(AnthropicErrorTest, OverloadedIsA503TheRouterTreatsAsAServerError) {
  AnthropicProvider p;
  const std::string body = data_file("error_overloaded.json");
  const api::ApiError e = map_error(p, 529, body);
  EXPECT_EQ(e.status, 503u);
  EXPECT_EQ(e.code, "503");
  EXPECT_EQ(e.type, "overloaded_error");
  EXPECT_EQ(e.message, "Overloaded");
  EXPECT_EQ(p.classify_error(529, body, {}, 0).cls, config::ErrorClass::kServerError);
  EXPECT_EQ(classify(e), config::ErrorClass::kServerError);
}

TEST(AnthropicErrorTest, PromptTooLongIsAContextWindowError) {
  AnthropicProvider p;
  const std::string body = data_file("error_prompt_too_long.json");
  const api::ApiError e = map_error(p, 400, body);
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(p.classify_error(400, body, {}, 0).cls, config::ErrorClass::kContextWindow);
  EXPECT_EQ(classify(e), config::ErrorClass::kContextWindow) << "the mapped error reads as one too";
}

TEST(AnthropicErrorTest, StatusesAndTypes) {
  AnthropicProvider p;
  auto body = [](std::string_view type, std::string_view message) {
    return std::string(R"({"type":"error","error":{"type":")") + std::string(type) + R"(","message":")" +
           std::string(message) + "\"}}";
  };
  struct Case { unsigned status; const char* type; unsigned want; };
  for (const Case c : {Case{401, "authentication_error", 401}, Case{403, "permission_error", 403},
                       Case{404, "not_found_error", 404}, Case{413, "request_too_large", 413},
                       Case{429, "rate_limit_error", 429}, Case{500, "api_error", 500}}) {
    const api::ApiError e = map_error(p, c.status, body(c.type, "why"), c.status == 429 ? "17" : "");
    EXPECT_EQ(e.status, c.want) << c.type;
    EXPECT_EQ(e.type, c.type);
    EXPECT_EQ(e.message, "why");
    EXPECT_EQ(e.code, std::to_string(c.want));
  }
  EXPECT_EQ(map_error(p, 429, body("rate_limit_error", "slow down"), "17").retry_after, std::chrono::seconds(17));
  const api::ApiError refused = map_error(p, 400, body("invalid_request_error", "Output blocked by content filtering policy"));
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(refused.type, "content_policy_violation");
  EXPECT_EQ(classify(refused), config::ErrorClass::kContentPolicy);
  EXPECT_EQ(map_error(p, 502, "<html>bad gateway</html>").status, 502u);
}

}  // namespace
}  // namespace tollgate::providers
