#include "providers/ollama/ollama_provider.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "providers/ollama/ndjson_decoder.hpp"
#include "unit/providers/transcript.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

constexpr std::string_view kModel = "llama3.2";
const OllamaStamp kStamp{.id = "chatcmpl-test", .created = 1'700'000'000};

// Transcripts written from Ollama's public API reference (docs/api.md: POST /api/chat).
std::string data_file(std::string_view name) { return transcript("ollama", name); }

api::ApiResult<std::string> translate_request(const std::string& body) {
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  if (!parsed) return parsed.error();
  return ollama_request_body(*parsed, kModel);
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

// NDJSON text through the decoder and a translator, fed in pieces of `step` bytes.
std::string relay_ndjson(StreamTranslator& t, std::string_view upstream, std::size_t step = 7) {
  NdjsonDecoder d;
  std::vector<http::SseEvent> events;
  for (std::size_t at = 0; at < upstream.size(); at += step) d.feed(upstream.substr(at, step), events);
  EXPECT_EQ(d.pending_bytes(), 0u);
  std::string out;
  for (const auto& e : events) {
    auto err = t.on_event(e, out);
    EXPECT_FALSE(err) << err->message;
  }
  return out;
}


void expect_chunks(const std::string& out, std::string_view expected_file) {
  expect_chunk_lines(out, data_file(expected_file));
}

TEST(OllamaRequestTest, PlainChatWithOptionsAndEverythingElseDropped) { expect_request("plain_request"); }

TEST(OllamaRequestTest, DataUrlImagesBecomeBase64ImagesAndJsonModeIsFormatJson) { expect_request("images_request"); }

TEST(OllamaRequestTest, ToolsToolCallsWithObjectArgumentsToolNamesAndJsonSchemaFormat) { expect_request("tools_request"); }

TEST(OllamaRequestTest, StreamIsAlwaysExplicit) {
  auto off = translate_request(R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(off);
  EXPECT_EQ(json::parse(*off)["stream"], false) << "Ollama streams unless told not to";
  auto on = translate_request(R"({"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(on);
  EXPECT_EQ(json::parse(*on)["stream"], true);
}

TEST(OllamaRequestTest, BadInputsAreOpenAiShaped400s) {
  const std::string http_image =
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]})";
  const api::ApiError e = request_error(http_image);
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_NE(e.message.find("messages[0]"), std::string::npos) << e.message;
  for (const char* body : {
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,raw"}}]}]})",
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]})",
           R"({"model":"m","messages":[{"role":"function","content":"x"}]})",
           R"({"model":"m","messages":[{"role":"user","content":42}]})",
           R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{oops"}}]}]})",
           R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}]})",
           R"({"model":"m","messages":[{"role":"assistant","tool_calls":{}}]})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":5})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})",
           R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})",
           R"({"model":"m","messages":["not an object"]})",
       }) {
    EXPECT_EQ(request_error(body).status, 400u) << body;
  }
}

TEST(OllamaProviderTest, PostsToApiChatWithBearerOnlyWhenKeyed) {
  OllamaProvider p;
  config::Deployment d;
  d.provider = "ollama_chat";
  const std::string body = R"({"model":"local","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  ASSERT_TRUE(parsed);
  http::Url base;
  base.path = "/proxy";
  auto r = p.build_request(d, base, api::Endpoint::kChatCompletions, *parsed, "llama3.2", true);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->target, "/proxy/api/chat");
  for (const auto& [name, value] : r->headers) EXPECT_NE(name, "authorization");
  EXPECT_EQ(json::parse(r->body)["model"], "llama3.2");
  d.api_key = "sk-ollama";
  r = p.build_request(d, base, api::Endpoint::kChatCompletions, *parsed, "llama3.2", true);
  ASSERT_TRUE(r);
  bool bearer = false;
  for (const auto& [name, value] : r->headers) bearer = bearer || (name == "authorization" && value == "Bearer sk-ollama");
  EXPECT_TRUE(bearer);
  EXPECT_EQ(p.stream_content_type(), "application/x-ndjson");
}

TEST(OllamaProviderTest, CompletionsAndEmbeddingsAreA400AndBothPrefixesUseTheAdapter) {
  OllamaProvider p;
  auto parsed = api::parse_request(R"({"model":"m","input":"x"})", api::Endpoint::kEmbeddings);
  ASSERT_TRUE(parsed);
  auto r = p.build_request(config::Deployment{}, http::Url{}, api::Endpoint::kEmbeddings, *parsed, "m", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400u);
  EXPECT_NE(dynamic_cast<const OllamaProvider*>(make_provider("ollama_chat").get()), nullptr);
  EXPECT_NE(dynamic_cast<const OllamaProvider*>(make_provider("ollama").get()), nullptr);
  EXPECT_EQ(dynamic_cast<const OllamaProvider*>(make_provider("openai").get()), nullptr);
}

TEST(OllamaResponseTest, PlainResponseWithCounts) {
  Usage usage;
  auto out = ollama_response_to_openai(data_file("plain_response.json"), kStamp, usage);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("plain_response.expected.json"))) << *out;
  EXPECT_TRUE(usage.present);
  EXPECT_EQ(usage.prompt_tokens, 26);
  EXPECT_EQ(usage.completion_tokens, 298);
  EXPECT_EQ(usage.total_tokens, 324);
}

TEST(OllamaResponseTest, ToolCallsGetIdsAndJsonTextArgumentsAndThinkingIsReasoning) {
  Usage usage;
  auto out = ollama_response_to_openai(data_file("tool_call_response.json"), kStamp, usage);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("tool_call_response.expected.json"))) << *out;
}

TEST(OllamaResponseTest, LengthAndMalformedBodies) {
  Usage usage;
  auto out = ollama_response_to_openai(
      R"({"model":"m","message":{"role":"assistant","content":"cut"},"done":true,"done_reason":"length","eval_count":5})", kStamp,
      usage);
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(usage.prompt_tokens, 0);
  EXPECT_EQ(usage.completion_tokens, 5);
  EXPECT_FALSE(ollama_response_to_openai("<html>", kStamp, usage));
  EXPECT_FALSE(ollama_response_to_openai(R"({"model":"m","done":true})", kStamp, usage));
}

TEST(OllamaStreamTest, TextStreamWithUsageForAClientThatAsked) {
  auto t = make_ollama_stream_translator(true, {}, kStamp);
  expect_chunks(relay_ndjson(*t, data_file("stream_text.ndjson")), "stream_text.expected.data");
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().prompt_tokens, 26);
  EXPECT_EQ(t->usage().completion_tokens, 3);
}

TEST(OllamaStreamTest, AnySplitGivesTheSameBytes) {
  const std::string upstream = data_file("stream_text.ndjson");
  auto whole = make_ollama_stream_translator(true, {}, kStamp);
  const std::string expected = relay_ndjson(*whole, upstream, upstream.size());
  for (std::size_t step : {1u, 2u, 3u, 13u, 64u}) {
    auto t = make_ollama_stream_translator(true, {}, kStamp);
    EXPECT_EQ(relay_ndjson(*t, upstream, step), expected) << "step " << step;
  }
}

TEST(OllamaStreamTest, UsageChunkCarriesTheCostWhenPricedAndIsHiddenWhenNotAsked) {
  auto priced = make_ollama_stream_translator(true, [](const Usage& u) { return 0.5 * static_cast<double>(u.total_tokens); }, kStamp);
  const auto with_cost = payloads(relay_ndjson(*priced, data_file("stream_text.ndjson")));
  ASSERT_EQ(with_cost.size(), 6u);
  EXPECT_EQ(json::parse(with_cost[4])["usage"]["cost"], 14.5);
  auto hidden = make_ollama_stream_translator(false, {}, kStamp);
  const auto without = payloads(relay_ndjson(*hidden, data_file("stream_text.ndjson")));
  ASSERT_EQ(without.size(), 5u);
  EXPECT_EQ(without.back(), "[DONE]");
  EXPECT_EQ(hidden->usage().total_tokens, 29) << "usage is recorded even when the client does not see it";
}

TEST(OllamaStreamTest, ToolCallAndThinking) {
  auto t = make_ollama_stream_translator(false, {}, kStamp);
  expect_chunks(relay_ndjson(*t, data_file("stream_tool_call.ndjson")), "stream_tool_call.expected.data");
}

TEST(OllamaStreamTest, ErrorLineEndsTheStreamWithThatError) {
  auto t = make_ollama_stream_translator(false, {}, kStamp);
  NdjsonDecoder d;
  std::vector<http::SseEvent> events;
  d.feed(data_file("stream_error.ndjson"), events);
  ASSERT_EQ(events.size(), 2u);
  std::string out;
  EXPECT_FALSE(t->on_event(events[0], out));
  auto err = t->on_event(events[1], out);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 500u);
  EXPECT_NE(err->message.find("unexpected EOF"), std::string::npos) << err->message;
  EXPECT_FALSE(t->finished());
}

TEST(OllamaStreamTest, NonJsonLineIsAProtocolError) {
  auto t = make_ollama_stream_translator(false, {}, kStamp);
  std::string out;
  auto err = t->on_event(http::SseEvent{.event = "", .data = "data: {}", .id = ""}, out);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->errc, Errc::kUpstreamProtocol);
}

TEST(NdjsonDecoderTest, LinesInAnySplitCrlfAndBlankLines) {
  NdjsonDecoder d;
  std::vector<http::SseEvent> events;
  d.feed("{\"a\":1}\r\n\n  \n{\"b\"", events);
  EXPECT_EQ(d.pending_bytes(), 4u);
  d.feed(":2}\n", events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[1].data, "{\"b\":2}");
  EXPECT_EQ(d.pending_bytes(), 0u);
  EXPECT_FALSE(d.failed());
}

TEST(NdjsonDecoderTest, OversizedLineFails) {
  NdjsonDecoder d;
  d.set_max_line(8);
  std::vector<http::SseEvent> events;
  d.feed("{\"a\":", events);
  d.feed("1234}\n", events);
  EXPECT_TRUE(d.failed());
  EXPECT_TRUE(events.empty());
  d.feed("{}\n", events);
  EXPECT_TRUE(events.empty()) << "nothing is decoded after a failure";
}

TEST(OllamaErrorTest, ModelNotFoundIsA404TheRouterClassifiesAsNotFound) {
  const std::string body = data_file("error_model_not_found.json");
  const api::ApiError e = ollama_error(404, body);
  EXPECT_EQ(e.status, 404u);
  EXPECT_EQ(e.message, "model \"llama9\" not found, try pulling it first");
  EXPECT_EQ(OllamaProvider().classify_error(404, body, {}, 0).cls, config::ErrorClass::kNotFound);
}

TEST(OllamaErrorTest, StatusesPassAndNonJsonBodiesAreKept) {
  EXPECT_EQ(ollama_error(400, R"({"error":"invalid options"})").status, 400u);
  EXPECT_EQ(ollama_error(400, R"({"error":"invalid options"})").type, "invalid_request_error");
  const api::ApiError server = ollama_error(500, R"({"error":"llama runner process has terminated"})");
  EXPECT_EQ(server.status, 500u);
  EXPECT_EQ(server.message, "llama runner process has terminated");
  EXPECT_NE(ollama_error(502, "Bad Gateway").message.find("Bad Gateway"), std::string::npos);
}

}  // namespace
}  // namespace tollgate::providers
