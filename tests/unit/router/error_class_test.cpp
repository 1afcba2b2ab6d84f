// Upstream failures -> error classes, from status, body and retry headers of each vendor.
#include "tollgate/router/error_class.hpp"

#include <gtest/gtest.h>

namespace tollgate::router {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kNow = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT

ErrorClass cls(unsigned status, std::string_view body) { return classify_response(status, body, "", "", kNow).cls; }

TEST(ErrorClassTest, StatusDecidesWhenTheBodySaysNothingSpecial) {
  EXPECT_EQ(cls(429, R"({"error":{"message":"slow down"}})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls(408, ""), ErrorClass::kTimeout);
  EXPECT_EQ(cls(504, ""), ErrorClass::kTimeout);
  EXPECT_EQ(cls(401, R"({"error":{"message":"Incorrect API key provided"}})"), ErrorClass::kAuthentication);
  EXPECT_EQ(cls(403, ""), ErrorClass::kAuthentication);
  EXPECT_EQ(cls(404, R"({"error":{"message":"The model `x` does not exist"}})"), ErrorClass::kNotFound);
  EXPECT_EQ(cls(400, R"({"error":{"message":"Invalid value for 'temperature'"}})"), ErrorClass::kBadRequest);
  EXPECT_EQ(cls(422, "not json"), ErrorClass::kBadRequest);
  EXPECT_EQ(cls(500, ""), ErrorClass::kServerError);
  EXPECT_EQ(cls(503, "<html>down</html>"), ErrorClass::kServerError);
  EXPECT_EQ(cls(529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
            ErrorClass::kServerError);
}

TEST(ErrorClassTest, ContextWindowFromEachVendorsWording) {
  EXPECT_EQ(cls(400, R"({"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}})"),
            ErrorClass::kContextWindow);
  EXPECT_EQ(cls(400, R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}})"),
            ErrorClass::kContextWindow);
  EXPECT_EQ(cls(400, R"({"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})"),
            ErrorClass::kContextWindow);
  EXPECT_EQ(cls(413, R"({"message":"Input is too long for requested model."})"), ErrorClass::kContextWindow);
}

TEST(ErrorClassTest, ContentPolicyFromOpenAIAndAzure) {
  EXPECT_EQ(cls(400, R"({"error":{"code":"content_policy_violation","message":"Your request was rejected"}})"),
            ErrorClass::kContentPolicy);
  EXPECT_EQ(cls(400, R"({"error":{"code":"content_filter","message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy."}})"),
            ErrorClass::kContentPolicy);
}

TEST(ErrorClassTest, ContentPolicyFromAnthropic) {
  EXPECT_EQ(cls(400, R"({"type":"error","error":{"type":"invalid_request_error","message":"Output blocked by content filtering policy"}})"),
            ErrorClass::kContentPolicy);
}

TEST(ErrorClassTest, RateLimitSpelledInTheBodyWithAnotherStatus) {
  EXPECT_EQ(cls(400, R"({"message":"Rate limit reached for requests"})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls(400, R"({"message":"ThrottlingException: too many tokens"})"), ErrorClass::kRateLimit);
  EXPECT_EQ(cls(400, R"({"error":{"status":"RESOURCE_EXHAUSTED","message":"quota"}})"), ErrorClass::kRateLimit);
}

TEST(ErrorClassTest, RetryAfterSecondsDateAndResetHeaders) {
  EXPECT_EQ(classify_response(429, "", "7", "", kNow).retry_after, 7000ms);
  EXPECT_EQ(classify_response(429, "", "1.5", "", kNow).retry_after, 1500ms);
  EXPECT_EQ(classify_response(429, "", "Tue, 14 Nov 2023 22:13:50 GMT", "", kNow).retry_after, 30'000ms);
  EXPECT_EQ(classify_response(429, "", "Tue, 14 Nov 2023 22:13:00 GMT", "", kNow).retry_after, std::nullopt);
  EXPECT_EQ(classify_response(429, "", "", "6m0s", kNow).retry_after, 360'000ms);
  EXPECT_EQ(classify_response(429, "", "", "20ms", kNow).retry_after, 20ms);
  EXPECT_EQ(classify_response(429, "", "", "1h2m3.5s", kNow).retry_after, 3'723'500ms);
  EXPECT_EQ(classify_response(429, "", "garbage", "", kNow).retry_after, std::nullopt);
  EXPECT_EQ(classify_response(429, "", "-3", "", kNow).retry_after, std::nullopt);
  EXPECT_EQ(parse_reset_duration("5x"), std::nullopt);
  EXPECT_EQ(parse_reset_duration(""), std::nullopt);
}

TEST(ErrorClassTest, TransportFailures) {
  EXPECT_EQ(classify_errc(Errc::kUpstreamTimeout), ErrorClass::kTimeout);
  EXPECT_EQ(classify_errc(Errc::kUpstreamConnect), ErrorClass::kConnection);
  EXPECT_EQ(classify_errc(Errc::kUpstreamProtocol), ErrorClass::kServerError);
}

TEST(ErrorClassTest, CallerFaultsAndNames) {
  EXPECT_TRUE(is_client_fault(ErrorClass::kBadRequest));
  EXPECT_TRUE(is_client_fault(ErrorClass::kContextWindow));
  EXPECT_TRUE(is_client_fault(ErrorClass::kContentPolicy));
  EXPECT_FALSE(is_client_fault(ErrorClass::kRateLimit));
  EXPECT_FALSE(is_client_fault(ErrorClass::kAuthentication));
  EXPECT_EQ(exception_class_name(ErrorClass::kContextWindow), "ContextWindowExceededError");
  EXPECT_EQ(exception_class_name(ErrorClass::kConnection), "APIConnectionError");
}

}  // namespace
}  // namespace tollgate::router
