// Provider API keys and bases from the environment (LiteLLM's variable names), and drop_params.
#include <gtest/gtest.h>

#include "tollgate/config/loader.hpp"
#include "unit/config/config_test_util.hpp"

namespace tollgate::config {
namespace {

using test_util::env_of;
using test_util::Env;
using test_util::Strings;
using test_util::strings;

LoadResult load(std::string_view yaml, Env vars = {}) { return load_config_text(yaml, env_of(std::move(vars))); }

const Deployment& only(const LoadResult& r) {
  static const Deployment kNone;
  EXPECT_TRUE(r.errors.empty()) << strings(r.errors).front();
  if (!r.config || r.config->model_list.empty()) {
    ADD_FAILURE() << "no deployment loaded";
    return kNone;
  }
  return r.config->model_list.front();
}

std::string one(const std::string& params) {
  return "model_list:\n  - model_name: g\n    litellm_params: {" + params + "}\n";
}

TEST(ProviderEnvTest, EachProviderReadsLiteLlmsKeyVariable) {
  const std::map<std::string, std::string> variable{
      {"openai", "OPENAI_API_KEY"},         {"groq", "GROQ_API_KEY"},
      {"mistral", "MISTRAL_API_KEY"},       {"deepseek", "DEEPSEEK_API_KEY"},
      {"together_ai", "TOGETHERAI_API_KEY"}, {"fireworks_ai", "FIREWORKS_AI_API_KEY"},
      {"openrouter", "OPENROUTER_API_KEY"}, {"xai", "XAI_API_KEY"},
      {"perplexity", "PERPLEXITYAI_API_KEY"}, {"lm_studio", "LM_STUDIO_API_KEY"},
  };
  for (const auto& [provider, name] : variable) {
    auto r = load(one("model: " + provider + "/m"), {{name, "key-" + provider}});
    ASSERT_TRUE(r.config) << provider;
    EXPECT_EQ(only(r).api_key, "key-" + provider) << provider;
  }
}

TEST(ProviderEnvTest, AlternativeNamesInLiteLlmsOrder) {
  EXPECT_EQ(only(load(one("model: fireworks_ai/m"), {{"FIREWORKS_API_KEY", "a"}, {"FIREWORKS_AI_API_KEY", "b"}})).api_key, "a");
  EXPECT_EQ(only(load(one("model: openrouter/m"), {{"OR_API_KEY", "or"}})).api_key, "or");
  EXPECT_EQ(only(load(one("model: perplexity/m"), {{"PERPLEXITY_API_KEY", "p"}})).api_key, "p");
  EXPECT_EQ(only(load(one("model: together_ai/m"), {{"TOGETHER_AI_TOKEN", "t"}})).api_key, "t");
}

TEST(ProviderEnvTest, NoVariableOrAnEmptyOneMeansNoKey) {
  EXPECT_EQ(only(load(one("model: groq/m"))).api_key, "");
  EXPECT_EQ(only(load(one("model: groq/m"), {{"GROQ_API_KEY", ""}})).api_key, "");
  EXPECT_EQ(only(load(one("model: groq/m"), {{"MISTRAL_API_KEY", "other"}})).api_key, "") << "another vendor's key";
  EXPECT_EQ(only(load(one("model: ollama_chat/llama3.2"), {{"OPENAI_API_KEY", "sk"}})).api_key, "");
}

TEST(ProviderEnvTest, AnExplicitKeyWins) {
  EXPECT_EQ(only(load(one("model: groq/m, api_key: mine"), {{"GROQ_API_KEY", "env"}})).api_key, "mine");
  EXPECT_EQ(only(load(one("model: groq/m, api_key: \"\""), {{"GROQ_API_KEY", "env"}})).api_key, "")
      << "an explicitly empty key stays empty";
  // The `environment_variables:` block counts as the environment.
  auto r = load("environment_variables: {XAI_API_KEY: from-block}\n" + one("model: xai/grok-3"));
  EXPECT_EQ(only(r).api_key, "from-block");
}

TEST(ProviderEnvTest, OllamaDefaultsToLocalhostAndReadsOllamaApiBase) {
  EXPECT_EQ(only(load(one("model: ollama_chat/llama3.2"))).api_base, "http://localhost:11434");
  EXPECT_EQ(only(load(one("model: ollama/llama3.2"))).api_base, "http://localhost:11434");
  EXPECT_EQ(only(load(one("model: ollama_chat/llama3.2"), {{"OLLAMA_API_BASE", "http://gpu-box:11434/"}})).api_base,
            "http://gpu-box:11434");
  EXPECT_EQ(only(load(one("model: ollama_chat/llama3.2, api_base: \"http://explicit:1\""), {{"OLLAMA_API_BASE", "http://env:2"}}))
                .api_base,
            "http://explicit:1");
}

TEST(ProviderEnvTest, HostedVllmBaseFromTheEnvironmentElseRequired) {
  auto r = load(one("model: hosted_vllm/qwen"), {{"HOSTED_VLLM_API_BASE", "http://vllm:8000/v1"}, {"HOSTED_VLLM_API_KEY", "vk"}});
  EXPECT_EQ(only(r).api_base, "http://vllm:8000/v1");
  EXPECT_EQ(only(r).api_key, "vk");
  EXPECT_EQ(strings(load(one("model: hosted_vllm/qwen")).errors),
            (Strings{"model_list[0].litellm_params.api_base: required for provider 'hosted_vllm' (it has no default)"}));
  EXPECT_FALSE(load(one("model: hosted_vllm/qwen"), {{"HOSTED_VLLM_API_BASE", "not a url"}}).errors.empty());
}

TEST(DropParamsConfigTest, GlobalSettingAppliesWhereTheDeploymentSaysNothing) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: groq/m}
  - model_name: b
    litellm_params: {model: groq/m, drop_params: false}
  - model_name: c
    litellm_params: {model: groq/m, drop_params: os.environ/DROP, additional_drop_params: user}
litellm_settings: {drop_params: true}
)",
                {{"DROP", "true"}});
  EXPECT_EQ(strings(r.errors), Strings{});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(strings(r.warnings), Strings{});
  const auto& list = r.config->model_list;
  EXPECT_EQ(list.at(0).litellm_params["drop_params"], true);
  EXPECT_EQ(list.at(1).litellm_params["drop_params"], false);
  EXPECT_EQ(list.at(2).litellm_params["drop_params"], true) << "a variable's text read as a boolean";
  EXPECT_EQ(list.at(2).litellm_params["additional_drop_params"], nlohmann::json::array({"user"})) << "one name is a list of one";
}

TEST(DropParamsConfigTest, WrongTypesAreErrorsWithTheirPaths) {
  auto r = load(one("model: groq/m, drop_params: [1], additional_drop_params: {a: 1}") + "litellm_settings: {drop_params: 3}\n");
  const Strings errors = strings(r.errors);
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("model_list[0].litellm_params.drop_params"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("model_list[0].litellm_params.additional_drop_params"), std::string::npos) << errors[1];
  EXPECT_NE(errors[2].find("litellm_settings.drop_params"), std::string::npos) << errors[2];
}

}  // namespace
}  // namespace tollgate::config
