// Upstream failures -> error classes and retry waits, from the status, body and retry headers of
// each vendor, as each adapter's Provider::classify_error reads them.
#include "providers/upstream_failure.hpp"

#include <array>

#include <gtest/gtest.h>

#include "unit/providers/failure_support.hpp"

namespace tollgate::providers {
namespace {

using namespace std::chrono_literals;
using config::ErrorClass;

constexpr std::int64_t kNow = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT
constexpr std::array<std::string_view, 7> kAdapters{"openai", "azure", "ollama", "anthropic",
                                                    "gemini", "vertex_ai", "bedrock"};

UpstreamFailure read(std::string_view adapter, unsigned status, std::string_view body, const HeaderLookup& h = {}) {
  return make_provider(adapter)->classify_error(status, body, h, kNow);
}

ErrorClass cls(std::string_view adapter, unsigned status, std::string_view body) {
  return read(adapter, status, body).cls;
}

TEST(UpstreamFailureTest, StatusDecidesWhenTheBodySaysNothingSpecial) {
  for (std::string_view a : kAdapters) {
    SCOPED_TRACE(a);
    EXPECT_EQ(cls(a, 429, R"({"error":{"message":"slow down"}})"), ErrorClass::kRateLimit);
    EXPECT_EQ(cls(a, 408, ""), ErrorClass::kTimeout);
    EXPECT_EQ(cls(a, 504, ""), ErrorClass::kTimeout);
    EXPECT_EQ(cls(a, 401, R"({"error":{"message":"Incorrect API key provided"}})"), ErrorClass::kAuthentication);
    EXPECT_EQ(cls(a, 403, ""), ErrorClass::kAuthentication);
    EXPECT_EQ(cls(a, 404, R"({"error":{"message":"The model `x` does not exist"}})"), ErrorClass::kNotFound);
    EXPECT_EQ(cls(a, 400, R"({"error":{"message":"Invalid value for 'temperature'"}})"), ErrorClass::kBadRequest);
    EXPECT_EQ(cls(a, 422, "not json"), ErrorClass::kBadRequest);
    EXPECT_EQ(cls(a, 500, ""), ErrorClass::kServerError);
    EXPECT_EQ(cls(a, 503, "<html>down</html>"), ErrorClass::kServerError);
    EXPECT_EQ(cls(a, 529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
              ErrorClass::kServerError);
  }
}

constexpr std::string_view kOpenAiTooLong =
    R"({"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}})";
constexpr std::string_view kAnthropicTooLong =
    R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}})";
constexpr std::string_view kGeminiTooLong =
    R"({"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})";
constexpr std::string_view kBedrockTooLong = R"({"message":"Input is too long for requested model."})";

TEST(UpstreamFailureTest, ContextWindowFromEachVendorsWording) {
  EXPECT_EQ(cls("openai", 400, kOpenAiTooLong), ErrorClass::kContextWindow);
  EXPECT_EQ(cls("azure", 400, kOpenAiTooLong), ErrorClass::kContextWindow);
  EXPECT_EQ(cls("anthropic", 400, kAnthropicTooLong), ErrorClass::kContextWindow);
  EXPECT_EQ(cls("gemini", 400, kGeminiTooLong), ErrorClass::kContextWindow);
  EXPECT_EQ(cls("vertex_ai", 400, kGeminiTooLong), ErrorClass::kContextWindow);
  EXPECT_EQ(cls("bedrock", 413, kBedrockTooLong), ErrorClass::kContextWindow);
}

TEST(UpstreamFailureTest, OpenAiCompatibleServersRelayEveryVendorsWording) {
  // vLLM, OpenRouter, LiteLLM or another gateway in front of Anthropic, Gemini or Bedrock.
  for (std::string_view body : {kOpenAiTooLong, kAnthropicTooLong, kGeminiTooLong}) {
    EXPECT_EQ(cls("openai", 400, body), ErrorClass::kContextWindow) << body;
  }
  EXPECT_EQ(cls("openai", 413, kBedrockTooLong), ErrorClass::kContextWindow);
  EXPECT_EQ(cls("ollama", 400, kAnthropicTooLong), ErrorClass::kContextWindow);
}

TEST(UpstreamFailureTest, ContentPolicyFromOpenAIAndAzure) {
  for (std::string_view a : {"openai", "azure"}) {
    SCOPED_TRACE(a);
    EXPECT_EQ(cls(a, 400, R"({"error":{"code":"content_policy_violation","message":"Your request was rejected"}})"),
              ErrorClass::kContentPolicy);
    EXPECT_EQ(cls(a, 400, R"({"error":{"code":"content_filter","message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy."}})"),
              ErrorClass::kContentPolicy);
  }
}

TEST(UpstreamFailureTest, ContentPolicyFromAnthropic) {
  // Anthropic's own, Claude's on Bedrock, and relayed by an OpenAI-compatible server.
  for (std::string_view a : {"anthropic", "bedrock", "openai"}) {
    EXPECT_EQ(cls(a, 400, R"({"type":"error","error":{"type":"invalid_request_error","message":"Output blocked by content filtering policy"}})"),
              ErrorClass::kContentPolicy)
        << a;
  }
}

TEST(UpstreamFailureTest, RateLimitSpelledInTheBodyWithAnotherStatus) {
  EXPECT_EQ(cls("openai", 400, R"({"message":"Rate limit reached for requests"})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls("bedrock", 400, R"({"message":"ThrottlingException: too many tokens"})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls("gemini", 400, R"({"error":{"status":"RESOURCE_EXHAUSTED","message":"quota"}})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls("openai", 400, R"({"message":"ThrottlingException: too many tokens"})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls("openai", 400, R"({"error":{"status":"RESOURCE_EXHAUSTED","message":"quota"}})"), ErrorClass::kRateLimit);
}

TEST(UpstreamFailureTest, BedrockReadsTheExceptionFromItsHeader) {
  const UpstreamFailure f = read("bedrock", 400, R"({"message":"Slow down"})",
                                 headers({{"X-Amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/"}}));
  EXPECT_EQ(f.cls, ErrorClass::kRateLimit);
  EXPECT_EQ(f.error.status, 429u);
  EXPECT_EQ(f.error.type, "rate_limit_error");
  // Other vendors do not read that header.
  EXPECT_EQ(read("openai", 400, R"({"message":"Slow down"})", headers({{"x-amzn-errortype", "ThrottlingException"}})).cls,
            ErrorClass::kBadRequest);
}

std::optional<std::chrono::milliseconds> wait(std::string_view adapter, HeaderLookup h) {
  return read(adapter, 429, "", h).retry_after;
}

TEST(UpstreamFailureTest, RetryAfterSecondsDateAndResetHeaders) {
  EXPECT_EQ(wait("openai", retry_after("7")), 7000ms);
  EXPECT_EQ(wait("openai", retry_after("1.5")), 1500ms);
  EXPECT_EQ(wait("openai", retry_after("Tue, 14 Nov 2023 22:13:50 GMT")), 30'000ms);
  EXPECT_EQ(wait("openai", retry_after("Tue, 14 Nov 2023 22:13:00 GMT")), std::nullopt);
  EXPECT_EQ(wait("openai", headers({{"x-ratelimit-reset-requests", "6m0s"}})), 360'000ms);
  EXPECT_EQ(wait("openai", headers({{"x-ratelimit-reset-tokens", "20ms"}})), 20ms);
  EXPECT_EQ(wait("openai", headers({{"x-ratelimit-reset-requests", "1h2m3.5s"}})), 3'723'500ms);
  EXPECT_EQ(wait("openai", retry_after("garbage")), std::nullopt);
  EXPECT_EQ(wait("openai", retry_after("-3")), std::nullopt);
  EXPECT_EQ(wait("openai", headers({{"retry-after", "2"}, {"x-ratelimit-reset-requests", "6m0s"}})), 2000ms)
      << "retry-after first";
  for (std::string_view a : kAdapters) EXPECT_EQ(wait(a, retry_after("7")), 7000ms) << a;
}

TEST(UpstreamFailureTest, TheClientsRetryAfterIsInWholeSeconds) {
  EXPECT_EQ(read("openai", 429, "", retry_after("1.5")).error.retry_after, std::chrono::seconds(1));
  EXPECT_EQ(read("openai", 429, "", retry_after("Tue, 14 Nov 2023 22:13:50 GMT")).error.retry_after,
            std::chrono::seconds(30));
  EXPECT_EQ(read("openai", 429, "", headers({{"x-ratelimit-reset-requests", "6m0s"}})).error.retry_after, std::nullopt)
      << "only retry-after is relayed";
}

TEST(UpstreamFailureTest, AzureSendsItsWaitInMilliseconds) {
  const UpstreamFailure f = read("azure", 429, "", headers({{"retry-after-ms", "1500"}, {"retry-after", "2"}}));
  EXPECT_EQ(f.retry_after, 1500ms);
  EXPECT_EQ(f.error.retry_after, std::chrono::seconds(2)) << "the client keeps retry-after";
  EXPECT_EQ(wait("azure", headers({{"retry-after-ms", "nope"}, {"retry-after", "2"}})), 2000ms);
  EXPECT_EQ(wait("openai", headers({{"retry-after-ms", "1500"}})), std::nullopt) << "OpenAI does not send it";
}

TEST(UpstreamFailureTest, AnthropicWaitsForTheResetOfTheExhaustedLimits) {
  const HeaderLookup h = headers({{"anthropic-ratelimit-requests-remaining", "12"},
                                  {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21Z"},
                                  {"anthropic-ratelimit-input-tokens-remaining", "0"},
                                  {"anthropic-ratelimit-input-tokens-reset", "2023-11-14T22:13:50Z"},
                                  {"anthropic-ratelimit-tokens-remaining", "0"},
                                  {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:13:35.5Z"}});
  EXPECT_EQ(wait("anthropic", h), 30'000ms);
  EXPECT_EQ(read("anthropic", 429, "", h).error.retry_after, std::nullopt);
  EXPECT_EQ(wait("anthropic", headers({{"retry-after", "4"}, {"anthropic-ratelimit-tokens-remaining", "0"},
                                       {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:13:50Z"}})),
            4000ms)
      << "retry-after first";
  EXPECT_EQ(wait("anthropic", headers({{"anthropic-ratelimit-requests-remaining", "3"},
                                       {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:50Z"}})),
            std::nullopt)
      << "no limit is exhausted";
  EXPECT_EQ(wait("openai", h), std::nullopt) << "only Anthropic sends them";
}

TEST(UpstreamFailureTest, ErrorsInsideASuccessAnswer) {
  // Gemini's blocked prompt (translate_response's error carrying the upstream's status).
  api::ApiError blocked = api::make_error(Errc::kInvalidRequest, "The prompt was blocked by Gemini's safety filters.");
  blocked.code = "content_policy_violation";
  blocked.errc = Errc::kUpstreamStatus;
  const UpstreamFailure f = make_provider("gemini")->classify_translated_error(blocked);
  EXPECT_EQ(f.cls, ErrorClass::kContentPolicy);
  EXPECT_EQ(f.error.code, "content_policy_violation");
  EXPECT_EQ(f.retry_after, std::nullopt);
  // A body the adapter could not read is the upstream's fault.
  const api::ApiError broken = api::make_error(Errc::kUpstreamProtocol, "Gemini sent a response that is not JSON.");
  for (std::string_view a : kAdapters) {
    EXPECT_EQ(make_provider(a)->classify_translated_error(broken).cls, ErrorClass::kServerError) << a;
  }
}

}  // namespace
}  // namespace tollgate::providers
