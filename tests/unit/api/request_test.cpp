#include "tollgate/api/request.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tollgate::api {
namespace {

using nlohmann::json;

// ParsedRequest views its body: callers pass an lvalue that outlives the result.
ParsedRequest parse_ok(const std::string&& body, Endpoint endpoint) = delete;
ParsedRequest parse_ok(const std::string& body, Endpoint endpoint = Endpoint::kChatCompletions) {
  auto r = parse_request(body, endpoint);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : ParsedRequest{};
}

ApiError parse_error(const std::string& body, Endpoint endpoint = Endpoint::kChatCompletions) {
  auto r = parse_request(body, endpoint);
  EXPECT_FALSE(r.has_value());
  return r ? ApiError{} : r.error();
}

TEST(RequestFieldsTest, ExtractsGatewayFields) {
  const std::string body = R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},
    "max_tokens":64,"user":"u-1","messages":[{"role":"user","content":"hi"}],"timeout":2.5,"num_retries":3,
    "fallbacks":["b"],"metadata":{"tags":["t1"]},"tags":["t2"],"mock_response":"ok"})";
  ParsedRequest p = parse_ok(body);
  EXPECT_EQ(p.fields.model, "gpt-4o");
  EXPECT_TRUE(p.fields.stream);
  EXPECT_TRUE(p.fields.client_wants_usage);
  EXPECT_EQ(p.fields.max_tokens, 64);
  EXPECT_EQ(p.fields.user, "u-1");
  EXPECT_DOUBLE_EQ(*p.fields.timeout_seconds, 2.5);
  EXPECT_EQ(p.fields.num_retries, 3);
  EXPECT_EQ(p.fields.fallbacks, std::optional<std::vector<std::string>>(std::vector<std::string>{"b"}));
  EXPECT_EQ(p.fields.tags, (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(p.fields.mock_response, "ok");
  EXPECT_GT(p.fields.prompt_bytes, 10u);
}

TEST(RequestFieldsTest, MaxCompletionTokensIsUsedWhenMaxTokensIsAbsent) {
  EXPECT_EQ(parse_ok(R"({"model":"m","messages":[],"max_completion_tokens":9})").fields.max_tokens, 9);
}

TEST(RequestFieldsTest, MalformedJsonIsInvalidJsonWithOffset) {
  ApiError e = parse_error(R"({"model":"m",)");
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.errc, Errc::kInvalidJson);
  EXPECT_NE(e.message.find("at byte"), std::string::npos);
}

TEST(RequestFieldsTest, EmptyBodyAndNonObjectAreRejected) {
  EXPECT_EQ(parse_error("").errc, Errc::kInvalidJson);
  EXPECT_EQ(parse_error("[1]").errc, Errc::kInvalidJson);
}

TEST(RequestFieldsTest, WrongTypesNameTheParameter) {
  EXPECT_EQ(parse_error(R"({"messages":[]})").param, "model");
  EXPECT_EQ(parse_error(R"({"model":7,"messages":[]})").param, "model");
  EXPECT_EQ(parse_error(R"({"model":"m"})").param, "messages");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":"hi"})").param, "messages");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"stream":"yes"})").param, "stream");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"max_tokens":-1})").param, "max_tokens");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"stream_options":{"include_usage":1}})").param, "stream_options");
  EXPECT_EQ(parse_error(R"({"model":"m"})", Endpoint::kEmbeddings).param, "input");
  EXPECT_EQ(parse_error(R"({"model":"m"})", Endpoint::kCompletions).param, "prompt");
}

TEST(RequestFieldsTest, RouterExtrasAreValidated) {
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"num_retries":21})").param, "num_retries");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"num_retries":-1})").param, "num_retries");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"fallbacks":"b"})").param, "fallbacks");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"timeout":1e300})").param, "timeout");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"fallbacks":[1]})").param, "fallbacks");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"mock_testing_fallbacks":"yes"})").param, "mock_testing_fallbacks");
  EXPECT_EQ(parse_error(R"({"model":"m","messages":[],"mock_testing_rate_limit_error":1})").param,
            "mock_testing_rate_limit_error");
  const std::string body =
      R"({"model":"m","messages":[],"num_retries":20,"fallbacks":["a",{"model":"b"}],"mock_testing_rate_limit_error":true})";
  ParsedRequest p = parse_ok(body);
  EXPECT_EQ(p.fields.num_retries, 20);
  EXPECT_EQ(p.fields.fallbacks, std::optional<std::vector<std::string>>(std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p.fields.mock_testing_rate_limit_error);
  EXPECT_FALSE(p.fields.mock_testing_fallbacks);
}

TEST(UpstreamBodyTest, ReplacesModelDropsGatewayFieldsAndKeepsUnknownFieldsByteForByte) {
  const std::string body =
      R"({"model":"group","messages":[{"role":"user","content":"x"}],"fallbacks":["b"],)"
      R"("brand_new_param":{"nested": [1, 2.50, "\u00e9"]},"metadata":{"a":1},"mock_testing_fallbacks":true,"n":2})";
  ParsedRequest p = parse_ok(body);
  const std::string out = build_upstream_body(p, {.model = "real-model"});
  EXPECT_EQ(out, R"({"model":"real-model","messages":[{"role":"user","content":"x"}],)"
                 R"("brand_new_param":{"nested": [1, 2.50, "\u00e9"]},"n":2})");
}

TEST(UpstreamBodyTest, ForcesIncludeUsageOnlyWhenAsked) {
  const std::string body = R"({"model":"g","messages":[],"stream":true})";
  ParsedRequest p = parse_ok(body);
  EXPECT_EQ(json::parse(build_upstream_body(p, {.model = "m", .force_include_usage = true}))["stream_options"],
            json({{"include_usage", true}}));
  EXPECT_FALSE(json::parse(build_upstream_body(p, {.model = "m"})).contains("stream_options"));
}

TEST(UpstreamBodyTest, ForcingUsageKeepsOtherStreamOptions) {
  const std::string body = R"({"model":"g","messages":[],"stream":true,"stream_options":{"x":1}})";
  ParsedRequest p = parse_ok(body);
  json out = json::parse(build_upstream_body(p, {.model = "m", .force_include_usage = true}));
  EXPECT_EQ(out["stream_options"], json({{"include_usage", true}, {"x", 1}}));
}

TEST(UpstreamBodyTest, ModelNameIsJsonEscaped) {
  const std::string body = R"({"model":"g","messages":[]})";
  ParsedRequest p = parse_ok(body);
  EXPECT_EQ(json::parse(build_upstream_body(p, {.model = "we\"ird"}))["model"], "we\"ird");
}

}  // namespace
}  // namespace tollgate::api
