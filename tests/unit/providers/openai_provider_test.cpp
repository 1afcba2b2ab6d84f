#include "providers/openai/openai_provider.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tollgate/http/sse_decoder.hpp"
#include "unit/providers/failure_support.hpp"
#include "unit/providers/transcript.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

constexpr std::string_view kStreamWithUsage =
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n"
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,"
    "\"prompt_tokens_details\":{\"cached_tokens\":3},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}\n\n"
    "data: [DONE]\n\n";

TEST(OpenAiStreamTranslatorTest, HidesUsageChunkFromAClientThatDidNotAskButRecordsUsage) {
  OpenAiProvider p;
  auto t = p.make_stream_translator(false);
  const std::string out = relay(*t, kStreamWithUsage);
  EXPECT_EQ(out, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n"
                 "data: [DONE]\n\n");
  EXPECT_TRUE(t->finished());
  EXPECT_TRUE(t->usage().present);
  EXPECT_EQ(t->usage().prompt_tokens, 5);
  EXPECT_EQ(t->usage().completion_tokens, 2);
  EXPECT_EQ(t->usage().total_tokens, 7);
  EXPECT_EQ(t->usage().cached_prompt_tokens, 3);
  EXPECT_EQ(t->usage().reasoning_tokens, 1);
}

TEST(OpenAiStreamTranslatorTest, RelaysEveryEventByteForByteWhenTheClientAskedForUsage) {
  OpenAiProvider p;
  auto t = p.make_stream_translator(true);
  EXPECT_EQ(relay(*t, kStreamWithUsage), kStreamWithUsage);
}

TEST(OpenAiStreamTranslatorTest, UsageChunkCarriesTheCostWhenPriced) {
  OpenAiProvider p;
  auto t = p.make_stream_translator(true, [](const Usage& u) { return 0.5 * static_cast<double>(u.total_tokens); });
  std::string out;
  ASSERT_FALSE(t->on_event(http::SseEvent{"", R"({"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})", ""}, out));
  EXPECT_EQ(out, "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"cost\":3.5,\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n");
  out.clear();
  ASSERT_FALSE(t->on_event(http::SseEvent{"", R"({"choices":[],"usage":{ }})", ""}, out));
  EXPECT_EQ(out, "data: {\"choices\":[],\"usage\":{\"cost\":0 }}\n\n");
  // Content chunks are untouched.
  out.clear();
  ASSERT_FALSE(t->on_event(http::SseEvent{"", R"({"choices":[{"delta":{"content":"x"}}]})", ""}, out));
  EXPECT_EQ(out, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n");
}

TEST(OpenAiStreamTranslatorTest, MalformedChunkIsAProtocolError) {
  OpenAiProvider p;
  auto t = p.make_stream_translator(false);
  std::string out;
  auto err = t->on_event(http::SseEvent{"", "{this is not json", ""}, out);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->errc, Errc::kUpstreamProtocol);
  EXPECT_TRUE(out.empty());
}

TEST(OpenAiProviderTest, BuildsRequestWithAuthAndForcedStreamUsage) {
  OpenAiProvider p;
  config::Deployment d;
  d.model = "gpt-4o-mini";
  d.api_key = "sk-up";
  d.organization = "org-1";
  auto base = http::Url::parse("https://api.openai.com/v1");
  auto parsed = api::parse_request(R"({"model":"group","messages":[],"stream":true,"unknown_x":1})",
                                   api::Endpoint::kChatCompletions);
  ASSERT_TRUE(parsed);
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions, *parsed, d.model, true);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->target, "/v1/chat/completions");
  EXPECT_EQ(req->url.host, "api.openai.com");
  bool has_auth = false, has_org = false;
  for (const auto& [k, v] : req->headers) {
    has_auth |= k == "authorization" && v == "Bearer sk-up";
    has_org |= k == "openai-organization" && v == "org-1";
  }
  EXPECT_TRUE(has_auth);
  EXPECT_TRUE(has_org);
  json body = json::parse(req->body);
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["unknown_x"], 1);
}

TEST(OpenAiProviderTest, NonStreamUsageIsRead) {
  OpenAiProvider p;
  Usage u;
  auto body = p.translate_response(api::Endpoint::kChatCompletions,
                                    R"({"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})", u);
  ASSERT_TRUE(body);
  EXPECT_EQ(u.total_tokens, 7) << "total is derived when the upstream omits it";
  EXPECT_FALSE(p.translate_response(api::Endpoint::kChatCompletions, "<html>", u));
}

TEST(OpenAiProviderTest, CacheReadsAndWritesInEveryShapeLiteLlmEmits) {
  OpenAiProvider p;
  // prompt_tokens_details, as LiteLLM writes it for Anthropic (cache_creation_tokens is LiteLLM's).
  Usage details;
  ASSERT_TRUE(p.translate_response(
      api::Endpoint::kChatCompletions,
      R"({"usage":{"prompt_tokens":30,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":10,"cache_creation_tokens":15},)"
      R"("cache_read_input_tokens":99,"cache_creation_input_tokens":99}})",
      details));
  EXPECT_EQ(details.cached_prompt_tokens, 10) << "prompt_tokens_details wins";
  EXPECT_EQ(details.cache_write_tokens, 15);
  // Only the top-level names.
  Usage top;
  ASSERT_TRUE(p.translate_response(
      api::Endpoint::kChatCompletions,
      R"({"usage":{"prompt_tokens":30,"completion_tokens":4,"cache_read_input_tokens":7,"cache_creation_input_tokens":8}})", top));
  EXPECT_EQ(top.cached_prompt_tokens, 7);
  EXPECT_EQ(top.cache_write_tokens, 8);
  // Details without the counts (or null ones) fall back to the top-level names.
  Usage partial;
  ASSERT_TRUE(p.translate_response(
      api::Endpoint::kChatCompletions,
      R"({"usage":{"prompt_tokens":30,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":null},)"
      R"("cache_read_input_tokens":5,"cache_creation_input_tokens":6}})",
      partial));
  EXPECT_EQ(partial.cached_prompt_tokens, 5);
  EXPECT_EQ(partial.cache_write_tokens, 6);
  // A stream's usage chunk.
  auto t = p.make_stream_translator(false);
  relay(*t,
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":4,\"cache_read_input_tokens\":3,"
        "\"prompt_tokens_details\":{\"cache_creation_tokens\":12}}}\n\n"
        "data: [DONE]\n\n");
  EXPECT_EQ(t->usage().cached_prompt_tokens, 3);
  EXPECT_EQ(t->usage().cache_write_tokens, 12);
  EXPECT_EQ(t->usage().prompt_tokens, 30);
}

TEST(OpenAiProviderTest, MapsUpstreamErrorsKeepingMessageTypeAndRetryAfter) {
  OpenAiProvider p;
  api::ApiError e = p.classify_error(429, R"({"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}})", retry_after("7"), 0).error;
  EXPECT_EQ(e.status, 429u);
  EXPECT_EQ(e.message, "slow down");
  EXPECT_EQ(e.type, "requests");
  EXPECT_EQ(e.code, "429");
  ASSERT_TRUE(e.retry_after);
  EXPECT_EQ(e.retry_after->count(), 7);
  EXPECT_EQ(p.classify_error(529, "overloaded", {}, 0).error.status, 500u) << "unknown 5xx folds to 500";
  EXPECT_EQ(p.classify_error(418, "", {}, 0).error.status, 400u);
  EXPECT_NE(p.classify_error(503, "<html>busy</html>", {}, 0).error.message.find("HTTP 503"), std::string::npos);
}

}  // namespace
}  // namespace tollgate::providers
