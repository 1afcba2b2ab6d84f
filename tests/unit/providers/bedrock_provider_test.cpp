// The Bedrock Converse adapter: request, response and stream translation on transcripts written
// from AWS's public Converse / ConverseStream API reference, errors, and the signed request.
#include "providers/bedrock/bedrock_provider.hpp"

#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "providers/bedrock/eventstream.hpp"
#include "unit/providers/failure_support.hpp"
#include "unit/providers/transcript.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

constexpr std::int64_t kCreated = 1'700'000'000;
constexpr std::string_view kModel = "anthropic.claude-3-5-sonnet-20240620-v1:0";

std::string data_file(std::string_view name) { return transcript("bedrock", name); }

api::ApiResult<std::string> translate_request(const std::string& body) {
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  if (!parsed) return parsed.error();
  return bedrock_request_body(*parsed);
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

/// The event stream bytes a tests/data/bedrock/*.events.json transcript describes.
std::string frames(std::string_view name) {
  std::string out;
  for (const json& e : json::parse(data_file(name))) {
    out += e.contains("exception") ? bedrock::encode_exception(e["exception"].get<std::string>(), e["payload"].dump())
                                   : bedrock::encode_event(e["event"].get<std::string>(), e["payload"].dump());
  }
  return out;
}

/// The client-bound bytes of `bytes` fed to the decoder in `piece`-byte reads.
std::string relay_frames(StreamTranslator& t, std::string_view bytes, std::size_t piece,
                         std::optional<api::ApiError>* error = nullptr) {
  bedrock::EventStreamDecoder d;
  std::string out;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    std::vector<http::SseEvent> events;
    d.feed(bytes.substr(at, piece), events);
    for (const auto& e : events) {
      auto err = t.on_event(e, out);
      if (err && error) {
        *error = err;
        return out;
      }
      EXPECT_FALSE(err) << err->message;
    }
  }
  EXPECT_FALSE(d.failed()) << d.failure();
  EXPECT_EQ(d.pending_bytes(), 0u);
  return out;
}

void expect_chunks(const std::string& out, std::string_view expected_file) {
  expect_chunk_lines(out, data_file(expected_file));
}

config::ErrorClass classify(unsigned status, std::string_view body) {
  return bedrock_failure(status, body, {}, 0).cls;
}

// The client error for a Bedrock answer with `retry` as retry-after and `type` as x-amzn-errortype.
api::ApiError bedrock_error(unsigned status, std::string_view body, std::string retry, std::string type) {
  std::vector<std::pair<std::string, std::string>> list;
  if (!retry.empty()) list.emplace_back("retry-after", std::move(retry));
  if (!type.empty()) list.emplace_back("x-amzn-errortype", std::move(type));
  return bedrock_failure(status, body, headers(std::move(list)), 0).error;
}

TEST(BedrockRequestTest, PlainChatWithSystemAndInferenceConfig) {
  // Also: user, seed, frequency_penalty, stream and gateway-only metadata are dropped.
  expect_request("plain_request");
}

TEST(BedrockRequestTest, ToolsImagesToolCallsAndToolResultsWithTurnsMerged) { expect_request("tools_request"); }

TEST(BedrockRequestTest, ToolChoiceStringsAndNone) {
  const std::string head = R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                           R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":)";
  auto auto_choice = translate_request(head + R"("auto"})");
  ASSERT_TRUE(auto_choice);
  EXPECT_EQ(json::parse(*auto_choice)["toolConfig"]["toolChoice"], json::parse(R"({"auto":{}})"));
  auto required = translate_request(head + R"("required"})");
  ASSERT_TRUE(required);
  EXPECT_EQ(json::parse(*required)["toolConfig"]["toolChoice"], json::parse(R"({"any":{}})"));
  auto none = translate_request(head + R"("none"})");
  ASSERT_TRUE(none);
  EXPECT_FALSE(json::parse(*none).contains("toolConfig")) << *none;
  EXPECT_EQ(request_error(head + R"("sometimes"})").param, "tool_choice");
}

TEST(BedrockRequestTest, BadInputsAre400s) {
  const std::vector<std::string> bodies = {
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA=="}}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
      R"({"model":"m","messages":[{"role":"critic","content":"x"}]})",
      R"({"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]})",
      R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1"}}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"code_interpreter"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]})",
      R"({"model":"m","messages":[{"role":"system","content":"only a system prompt"}]})",
      R"({"model":"m","messages":[{"role":"user","content":42}]})",
  };
  for (const auto& body : bodies) {
    const api::ApiError e = request_error(body);
    EXPECT_EQ(e.status, 400u) << body;
    EXPECT_EQ(e.type, "invalid_request_error") << body;
  }
}

TEST(BedrockProviderTest, BuildsSignedConverseRequests) {
  BedrockProvider p([] { return std::chrono::system_clock::from_time_t(1440938160); });
  config::Deployment d;
  d.model = std::string(kModel);
  d.litellm_params = json::parse(
      R"({"aws_access_key_id":"AKID","aws_secret_access_key":"SECRET","aws_region_name":"eu-central-1"})");
  auto base = http::Url::parse("https://bedrock-runtime.eu-central-1.amazonaws.com");
  for (bool stream : {false, true}) {
    // The ParsedRequest views its body: keep it alive.
    const std::string text = std::string(R"({"model":"group","messages":[{"role":"user","content":"hi"}],"stream":)") +
                             (stream ? "true}" : "false}");
    auto parsed = api::parse_request(text, api::Endpoint::kChatCompletions);
    ASSERT_TRUE(parsed);
    auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions, *parsed, d.model, true);
    ASSERT_TRUE(req) << req.error().message;
    EXPECT_EQ(req->target, std::string("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/") +
                               (stream ? "converse-stream" : "converse"));
    std::map<std::string, std::string> headers(req->headers.begin(), req->headers.end());
    EXPECT_EQ(headers["x-amz-date"], "20150830T123600Z");
    EXPECT_EQ(headers.count("x-amz-security-token"), 0u);
    EXPECT_TRUE(headers["authorization"].starts_with(
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/eu-central-1/bedrock/aws4_request, "
        "SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date, Signature="))
        << headers["authorization"];
    EXPECT_FALSE(json::parse(req->body).contains("stream"));
  }
}

TEST(BedrockProviderTest, ConversePrefixAndArnsAreEncodedIntoThePath) {
  EXPECT_EQ(bedrock_target("/base", "arn:aws:bedrock:us-east-1:123:inference-profile/us.x-v1:0", true),
            "/base/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.x-v1%3A0/converse-stream");
  BedrockProvider p;
  config::Deployment d;
  auto base = http::Url::parse("http://127.0.0.1:9999");
  auto parsed = api::parse_request(R"({"model":"g","messages":[{"role":"user","content":"hi"}]})",
                                   api::Endpoint::kChatCompletions);
  ASSERT_TRUE(parsed);
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions, *parsed, "converse/meta.llama3-70b-instruct-v1:0", false);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->target, "/model/meta.llama3-70b-instruct-v1%3A0/converse");
}

TEST(BedrockProviderTest, CompletionsAndEmbeddingsAreA400) {
  BedrockProvider p;
  config::Deployment d;
  auto base = http::Url::parse("https://bedrock-runtime.us-east-1.amazonaws.com");
  auto parsed = api::parse_request(R"({"model":"m","input":"x"})", api::Endpoint::kEmbeddings);
  ASSERT_TRUE(parsed);
  auto req = p.build_request(d, *base, api::Endpoint::kEmbeddings, *parsed, "m", false);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().status, 400u);
  EXPECT_NE(req.error().message.find("not supported by bedrock"), std::string::npos);
}

TEST(BedrockProviderTest, RegistryAndStreamFraming) {
  auto p = make_provider("bedrock");
  ASSERT_NE(dynamic_cast<const BedrockProvider*>(p.get()), nullptr);
  EXPECT_EQ(p->stream_content_type(), "application/vnd.amazon.eventstream");
  EXPECT_NE(dynamic_cast<bedrock::EventStreamDecoder*>(p->make_stream_decoder().get()), nullptr);
}

TEST(BedrockResponseTest, TextReasoningAndCacheUsage) {
  Usage usage;
  auto out = bedrock_response_to_openai(data_file("plain_response.json"), "chatcmpl-test", kCreated, kModel, usage);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("plain_response.expected.json"))) << *out;
  EXPECT_TRUE(usage.present);
  EXPECT_EQ(usage.prompt_tokens, 112);
  EXPECT_EQ(usage.cached_prompt_tokens, 100);
}

TEST(BedrockResponseTest, ToolUse) {
  Usage usage;
  auto out = bedrock_response_to_openai(data_file("tool_use_response.json"), "chatcmpl-test", kCreated, kModel, usage);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("tool_use_response.expected.json"))) << *out;
}

TEST(BedrockResponseTest, StopReasons) {
  const std::map<std::string, json> expected = {
      {"end_turn", "stop"},       {"stop_sequence", "stop"},          {"max_tokens", "length"},
      {"tool_use", "tool_calls"}, {"guardrail_intervened", "content_filter"}, {"content_filtered", "content_filter"}};
  for (const auto& [reason, finish] : expected) {
    Usage usage;
    const std::string body = R"({"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":")" +
                             reason + R"(","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}})";
    auto out = bedrock_response_to_openai(body, "id", kCreated, kModel, usage);
    ASSERT_TRUE(out);
    EXPECT_EQ(json::parse(*out)["choices"][0]["finish_reason"], finish) << reason;
  }
}

TEST(BedrockResponseTest, MalformedResponsesAreProtocolErrors) {
  Usage usage;
  for (std::string_view body : {"not json", "[]", R"({"output":{}})"}) {
    auto out = bedrock_response_to_openai(body, "id", kCreated, kModel, usage);
    ASSERT_FALSE(out) << body;
    EXPECT_EQ(out.error().errc, Errc::kUpstreamProtocol);
  }
}

TEST(BedrockStreamTest, TextAndReasoningWithUsageAndCost) {
  auto t = make_bedrock_stream_translator(true, [](const Usage& u) { return u.prompt_tokens == 12 ? 0.5 : -1.0; },
                                          "chatcmpl-test", kCreated);
  const std::string out = relay_frames(*t, frames("stream_text.events.json"), 4096);
  expect_chunks(out, "stream_text.expected.data");
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().prompt_tokens, 12);
  EXPECT_EQ(t->usage().completion_tokens, 5);
}

TEST(BedrockStreamTest, SplitAnywhereGivesTheSameChunks) {
  const std::string bytes = frames("stream_tool_use.events.json");
  for (std::size_t piece : {1u, 3u, 7u, 64u}) {
    auto t = make_bedrock_stream_translator(false, {}, "chatcmpl-test", kCreated);
    expect_chunks(relay_frames(*t, bytes, piece), "stream_tool_use.expected.data");
    EXPECT_TRUE(t->finished());
    EXPECT_EQ(t->usage().total_tokens, 440);
  }
}

TEST(BedrockStreamTest, ExceptionEndsTheStreamWithTheMappedError) {
  auto t = make_bedrock_stream_translator(true, {}, "chatcmpl-test", kCreated);
  std::optional<api::ApiError> error;
  const std::string out = relay_frames(*t, frames("stream_throttled.events.json"), 5, &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 429u);
  EXPECT_EQ(error->type, "rate_limit_error");
  EXPECT_EQ(error->message, "Too many requests, please wait before trying again.");
  EXPECT_FALSE(t->finished());
  EXPECT_NE(out.find("Hel"), std::string::npos);
  for (auto [name, status] : std::vector<std::pair<std::string, unsigned>>{{"modelStreamErrorException", 500},
                                                                           {"validationException", 400},
                                                                           {"internalServerException", 500},
                                                                           {"serviceUnavailableException", 503}}) {
    std::string sink;
    auto e = make_bedrock_stream_translator(false, {}, "x", kCreated)->on_event({"exception:" + name, R"({"message":"m"})", ""}, sink);
    ASSERT_TRUE(e) << name;
    EXPECT_EQ(e->status, status) << name;
  }
}

TEST(BedrockStreamTest, NonJsonEventAndToolDeltaWithoutStartAreProtocolErrors) {
  std::string sink;
  auto t = make_bedrock_stream_translator(false, {}, "x", kCreated);
  EXPECT_TRUE(t->on_event({"contentBlockDelta", "nope", ""}, sink));
  EXPECT_TRUE(t->on_event({"contentBlockDelta", R"({"contentBlockIndex":3,"delta":{"toolUse":{"input":"{"}}})", ""}, sink));
}

TEST(BedrockErrorTest, ThrottlingIsARateLimitTheRouterRetries) {
  const std::string body = data_file("error_throttling.json");
  const api::ApiError e = bedrock_error(429, body, "3", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/");
  EXPECT_EQ(e.status, 429u);
  EXPECT_EQ(e.type, "rate_limit_error");
  EXPECT_EQ(e.message, "Too many requests, please wait before trying again.");
  ASSERT_TRUE(e.retry_after);
  EXPECT_EQ(e.retry_after->count(), 3);
  EXPECT_EQ(classify(429, body), config::ErrorClass::kRateLimit);
}

TEST(BedrockErrorTest, InputTooLongIsAContextWindowError) {
  const std::string body = data_file("error_input_too_long.json");
  const api::ApiError e = bedrock_error(400, body, "", "ValidationException");
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(classify(400, body), config::ErrorClass::kContextWindow);
  EXPECT_EQ(classify(400, R"({"message":"Prompt contains too many input tokens"})"), config::ErrorClass::kContextWindow);
}

TEST(BedrockErrorTest, OverloadAuthAndAccess) {
  EXPECT_EQ(bedrock_error(503, R"({"message":"busy"})", "", "ServiceUnavailableException").status, 503u);
  EXPECT_EQ(classify(503, R"({"message":"busy"})"), config::ErrorClass::kServerError);
  const api::ApiError not_ready = bedrock_error(429, R"({"message":"Model is not ready"})", "", "ModelNotReadyException");
  EXPECT_EQ(not_ready.status, 503u);
  const api::ApiError signature = bedrock_error(403, data_file("error_bad_signature.json"), "", "InvalidSignatureException");
  EXPECT_EQ(signature.status, 401u);
  EXPECT_EQ(signature.type, "authentication_error");
  EXPECT_EQ(classify(403, data_file("error_bad_signature.json")), config::ErrorClass::kAuthentication);
  EXPECT_EQ(bedrock_error(403, R"({"message":"The security token included in the request is invalid."})", "",
                          "UnrecognizedClientException").type,
            "authentication_error");
  const api::ApiError denied = bedrock_error(403, R"({"message":"You don't have access to the model"})", "",
                                             "AccessDeniedException");
  EXPECT_EQ(denied.status, 403u);
  EXPECT_EQ(denied.type, "permission_error");
  // The type may come in the body (`__type`) instead of the header.
  EXPECT_EQ(bedrock_error(400, R"({"__type":"com.amazon.coral.validate#ValidationException","message":"bad"})", "", "").type,
            "invalid_request_error");
  // An unknown type and a body that is not JSON still give an OpenAI-shaped error.
  const api::ApiError odd = bedrock_error(418, "<html>", "", "");
  EXPECT_EQ(odd.status, 400u);
  EXPECT_FALSE(odd.message.empty());
  // Through the provider hook the proxy calls.
  BedrockProvider p;
  EXPECT_EQ(p.classify_error(429, R"({"message":"x"})", headers({{"x-amzn-errortype", "ModelNotReadyException"}}), 0).error.status,
            503u);
}

TEST(BedrockErrorTest, ContentFilterRefusalIsAContentPolicyError) {
  const std::string body = R"({"message":"Output blocked by content filtering policy"})";
  const api::ApiError e = bedrock_error(400, body, "", "ValidationException");
  EXPECT_EQ(e.type, "content_policy_violation");
  EXPECT_EQ(classify(400, body), config::ErrorClass::kContentPolicy);
}

}  // namespace
}  // namespace tollgate::providers
