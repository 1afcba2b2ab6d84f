// The OpenAI-compatible family (groq/, mistral/, hosted_vllm/, ...) through the whole gateway:
// keys and bases from the vendors' environment variables, and drop_params (the parameters a
// vendor rejects answered as LiteLLM's UnsupportedParamsError, or removed from the upstream body).
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

constexpr const char* kEnvKey = "gsk-from-env";

class CompatibleProvidersTest : public VendorTest {
 protected:
  CompatibleProvidersTest() : VendorTest("fast", FakeProviderOptions{.require_api_key = kEnvKey}) {}

  // Group `fast` on one `model` deployment at the fake, no api_key, plus `params` and `top` YAML.
  std::string config(const std::string& model, const std::string& params = "", const std::string& top = "") const {
    return "model_list:\n  - model_name: fast\n    litellm_params: {model: " + model + ", api_base: \"" +
           fake_deployment_base(fake_.port(), "d") + "\"" + params + "}\n" + top + settings_yaml();
  }
  // A user's "Hi" and the members of `extra`.
  json chat(const json& extra = json::object()) const { return VendorTest::chat(json::array({user("Hi")}), extra); }
};

TEST_F(CompatibleProvidersTest, GroqKeyComesFromGroqApiKey) {
  Gateway gw(config("groq/llama-3.1-8b-instant"), {{"GROQ_API_KEY", kEnvKey}});
  HttpResponse r = gw.post("/v1/chat/completions", chat().dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const RecordedRequest sent = last();
  EXPECT_EQ(sent.target, "/dep=d/v1/chat/completions");
  EXPECT_EQ(sent.headers.at("authorization"), std::string("Bearer ") + kEnvKey);
  EXPECT_EQ(last_upstream_body()["model"], "llama-3.1-8b-instant");
}

TEST_F(CompatibleProvidersTest, MistralKeyFromEnvironmentVariablesBlockAndNoKeyWithoutIt) {
  Gateway gw(config("mistral/mistral-small-latest", "", std::string("environment_variables: {MISTRAL_API_KEY: ") + kEnvKey + "}\n"));
  HttpResponse r = gw.post("/v1/chat/completions", chat().dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(last().headers.at("authorization"), std::string("Bearer ") + kEnvKey);

  // Another vendor's variable is not this one's: no key is sent, and the fake refuses.
  Gateway unkeyed(config("mistral/mistral-small-latest"), {{"GROQ_API_KEY", kEnvKey}});
  HttpResponse denied = unkeyed.post("/v1/chat/completions", chat().dump());
  EXPECT_EQ(denied.status, 401u) << denied.body;
  EXPECT_EQ(last().headers.count("authorization"), 0u);
}

TEST_F(CompatibleProvidersTest, HostedVllmBaseAndKeyFromTheEnvironment) {
  const std::string yaml = "model_list:\n  - model_name: fast\n    litellm_params: {model: hosted_vllm/qwen}\n" + settings_yaml("");
  Gateway gw(yaml, {{"HOSTED_VLLM_API_BASE", fake_deployment_base(fake_.port(), "vllm")}, {"HOSTED_VLLM_API_KEY", kEnvKey}});
  HttpResponse r = gw.post("/v1/chat/completions", chat().dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(last().target, "/dep=vllm/v1/chat/completions");
  EXPECT_EQ(last().headers.at("authorization"), std::string("Bearer ") + kEnvKey);
}

TEST_F(CompatibleProvidersTest, RejectedParameterIsUnsupportedParamsErrorAndTheVendorIsNotCalled) {
  Gateway gw(config("groq/llama-3.1-8b-instant"), {{"GROQ_API_KEY", kEnvKey}});
  HttpResponse r = gw.post("/v1/chat/completions", chat({{"logit_bias", {{"50256", -100}}}, {"temperature", 0.3}}).dump());
  EXPECT_EQ(r.status, 400u) << r.body;
  const json error = r.json()["error"];
  EXPECT_EQ(error["type"], "invalid_request_error");
  const std::string message = error["message"];
  for (const char* part : {"groq", "'logit_bias'", "model=llama-3.1-8b-instant", "drop_params"}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " in " << message;
  }
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(CompatibleProvidersTest, GlobalDropParamsRemovesThemFromTheUpstreamBody) {
  Gateway gw(config("groq/llama-3.1-8b-instant", ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000002",
                    "litellm_settings: {drop_params: true}\n"),
             {{"GROQ_API_KEY", kEnvKey}});
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat({{"logit_bias", {{"50256", -100}}}, {"logprobs", true}, {"n", 1}, {"temperature", 0.3}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json sent = last_upstream_body();
  EXPECT_FALSE(sent.contains("logit_bias")) << sent.dump();
  EXPECT_FALSE(sent.contains("logprobs")) << sent.dump();
  EXPECT_EQ(sent["n"], 1) << "n = 1 is what groq accepts";
  EXPECT_EQ(sent["temperature"], 0.3);
  EXPECT_FALSE(r.header("x-litellm-response-cost").empty());

  // Streams too, with the usage the client asked for and its cost.
  HttpResponse s = gw.post("/v1/chat/completions",
                           chat({{"stream", true}, {"stream_options", {{"include_usage", true}}}, {"top_logprobs", 2}}).dump());
  ASSERT_EQ(s.status, 200u) << s.body;
  EXPECT_FALSE(last_upstream_body().contains("top_logprobs"));
  const StreamText st = parse_stream(s.body);
  EXPECT_TRUE(st.done);
  ASSERT_EQ(st.usage_chunks, 1);
  EXPECT_GT(st.usage["prompt_tokens"].get<int>(), 0);
  EXPECT_TRUE(st.usage.contains("cost")) << s.body;
}

TEST_F(CompatibleProvidersTest, DeploymentDropParamsWinsOverTheGlobalSetting) {
  Gateway on(config("groq/llama-3.1-8b-instant", ", drop_params: true"), {{"GROQ_API_KEY", kEnvKey}});
  EXPECT_EQ(on.post("/v1/chat/completions", chat({{"n", 3}}).dump()).status, 200u);
  EXPECT_FALSE(last_upstream_body().contains("n"));

  Gateway off(config("groq/llama-3.1-8b-instant", ", drop_params: false", "litellm_settings: {drop_params: true}\n"),
              {{"GROQ_API_KEY", kEnvKey}});
  fake_.clear();
  EXPECT_EQ(off.post("/v1/chat/completions", chat({{"n", 3}}).dump()).status, 400u);
  EXPECT_EQ(fake_.requests().size(), 0u);
}

TEST_F(CompatibleProvidersTest, AdditionalDropParamsAreAlwaysRemoved) {
  Gateway gw(config("openai/gpt-4o-mini", std::string(", api_key: ") + kEnvKey + ", additional_drop_params: [user, seed]"));
  HttpResponse r = gw.post("/v1/chat/completions", chat({{"user", "u-1"}, {"seed", 7}, {"temperature", 0.5}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json sent = last_upstream_body();
  EXPECT_FALSE(sent.contains("user"));
  EXPECT_FALSE(sent.contains("seed"));
  EXPECT_EQ(sent["temperature"], 0.5);
}

}  // namespace
}  // namespace tollgate::testing
