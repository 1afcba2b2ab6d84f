#include "providers/openai/param_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "providers/openai/openai_provider.hpp"
#include "tollgate/api/request.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

std::vector<std::string_view> rejected(std::string_view provider, std::string_view model, const std::string& body) {
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  EXPECT_TRUE(parsed);
  return rejected_params(provider, model, parsed->top);
}

using Names = std::vector<std::string_view>;

TEST(ParamSupportTest, GroqRejectsLogprobsLogitBiasAndNAboveOne) {
  const std::string body =
      R"({"model":"m","messages":[],"logprobs":true,"top_logprobs":2,"logit_bias":{"1":2},"n":2,"temperature":1})";
  // Views into the parsed body outlive this call only while it does: compare by value here.
  auto parsed = api::parse_request(body, api::Endpoint::kChatCompletions);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(rejected_params("groq", "llama-3.1-8b-instant", parsed->top),
            (Names{"logprobs", "top_logprobs", "logit_bias", "n"}));
  EXPECT_TRUE(rejected("groq", "m", R"({"model":"m","messages":[],"n":1,"logprobs":null})").empty());
}

TEST(ParamSupportTest, ModelSpecificRows) {
  const std::string body = R"({"model":"m","messages":[],"logprobs":true,"stop":"x","presence_penalty":1})";
  EXPECT_EQ(rejected("deepseek", "deepseek-reasoner", body), (Names{"logprobs"}));
  EXPECT_TRUE(rejected("deepseek", "deepseek-chat", body).empty());
  EXPECT_EQ(rejected("xai", "grok-4-0709", body), (Names{"presence_penalty", "stop"}));
  EXPECT_EQ(rejected("xai", "grok-3-mini", body), (Names{"presence_penalty", "stop"}));
  EXPECT_TRUE(rejected("xai", "grok-3", body).empty());
  EXPECT_EQ(rejected("perplexity", "sonar", R"({"model":"m","messages":[],"tools":[],"tool_choice":"auto"})"),
            (Names{"tools", "tool_choice"}));
  EXPECT_EQ(rejected("mistral", "mistral-small-latest", body), (Names{"logprobs"}));
  for (const char* provider : {"openai", "azure", "together_ai", "fireworks_ai", "openrouter", "hosted_vllm", "lm_studio"}) {
    EXPECT_TRUE(rejected(provider, "any", body).empty()) << provider;
  }
}

TEST(ParamSupportTest, ErrorNamesProviderParametersModelAndTheFix) {
  const api::ApiError e = unsupported_params_error("groq", "llama-3.1-8b-instant", {"logit_bias", "n"});
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.param, "logit_bias");
  EXPECT_NE(e.message.find("groq does not support parameters: ['logit_bias', 'n'], for model=llama-3.1-8b-instant"),
            std::string::npos)
      << e.message;
  EXPECT_NE(e.message.find("drop_params: true"), std::string::npos) << e.message;
}

class OpenAiDropParamsTest : public ::testing::Test {
 protected:
  api::ApiResult<http::UpstreamRequest> build(const std::string& body) {
    body_ = body;
    auto parsed = api::parse_request(body_, api::Endpoint::kChatCompletions);
    EXPECT_TRUE(parsed);
    parsed_ = std::move(*parsed);
    return OpenAiProvider().build_request(deployment_, http::Url{}, api::Endpoint::kChatCompletions, parsed_,
                                          "llama-3.1-8b-instant", false);
  }

  config::Deployment deployment_ = [] {
    config::Deployment d;
    d.provider = "groq";
    return d;
  }();
  std::string body_;
  api::ParsedRequest parsed_;
};

TEST_F(OpenAiDropParamsTest, BodyThatNeedsNoChangeKeepsTheClientsBytes) {
  auto r = build(R"({"model":"fast", "messages":[{"role":"user","content":"x"}],"temperature":  0.5})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, R"({"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"x"}],"temperature":  0.5})");
}

TEST_F(OpenAiDropParamsTest, RejectedParameterIsA400WithoutDropParams) {
  auto r = build(R"({"model":"fast","messages":[],"logit_bias":{"1":2}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400u);
  EXPECT_NE(r.error().message.find("UnsupportedParamsError"), std::string::npos);
}

TEST_F(OpenAiDropParamsTest, DropParamsRemovesOnlyTheRejectedMembers) {
  deployment_.litellm_params["drop_params"] = true;
  auto r = build(R"({"model":"fast","logit_bias":{"1":2},"messages":[],"temperature":  0.5,"n":3})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, R"({"model":"llama-3.1-8b-instant","messages":[],"temperature":  0.5})");
}

TEST_F(OpenAiDropParamsTest, AdditionalDropParamsApplyToEveryProvider) {
  deployment_.provider = "openai";
  deployment_.litellm_params["additional_drop_params"] = json::array({"user", "not_there"});
  auto r = build(R"({"model":"fast","messages":[],"user":"u","logit_bias":{}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, R"({"model":"llama-3.1-8b-instant","messages":[],"logit_bias":{}})");
}

}  // namespace
}  // namespace tollgate::providers
