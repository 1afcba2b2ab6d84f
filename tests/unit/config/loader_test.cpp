// Config loader: LiteLLM schema, os.environ/ resolution, validation with YAML paths.
#include "tollgate/config/loader.hpp"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "unit/config/config_test_util.hpp"
#include "support/build_paths.hpp"

namespace tollgate::config {
namespace {

using namespace std::chrono_literals;
using test_util::Env;
using test_util::env_of;
using test_util::Strings;
using test_util::strings;

LoadResult load(std::string_view yaml, Env vars = {}) { return load_config_text(yaml, env_of(std::move(vars))); }

// A valid config is a valid config: nothing to report, nothing unknown.
void expect_clean(const LoadResult& r) {
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{});
  EXPECT_TRUE(r.config.has_value());
}

// One mocked deployment, so configs that test other blocks are not "empty".
constexpr std::string_view kMockModel = R"(
model_list:
  - model_name: m
    litellm_params:
      model: openai/x
      mock_response: hi
)";

std::string with_mock(std::string_view rest) { return std::string(kMockModel) + std::string(rest); }

// The variables the shipped sample configs refer to.
Env sample_env() {
  return {{"OPENAI_API_KEY", "sk-openai"},          {"OPENAI_API_KEY_2", "sk-openai-2"},
          {"ANTHROPIC_API_KEY", "sk-ant"},          {"AZURE_API_KEY", "azure-key"},
          {"AZURE_API_BASE", "https://example.openai.azure.com"},
          {"GROQ_API_KEY", "gsk-groq"},             {"VLLM_API_KEY", "vllm-key"},
          {"REDIS_HOST", "127.0.0.1"},              {"REDIS_PORT", "6379"},
          {"REDIS_PASSWORD", "redis-pass"},         {"DATABASE_URL", "postgresql://u:p@localhost/tollgate"},
          {"LITELLM_MASTER_KEY", "sk-test"},      {"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x"}};
}

// ---- document shape ---------------------------------------------------------------------------

TEST(ConfigLoaderTest, EmptyFileIsValidWithNoDeploymentsWarning) {
  auto r = load("");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{"model_list: no deployments configured"});
  ASSERT_TRUE(r.config);
  EXPECT_TRUE(r.config->model_list.empty());
  EXPECT_EQ(r.config->server.port, 4000);
}

TEST(ConfigLoaderTest, CommentsOnlyFileIsValidWithNoDeploymentsWarning) {
  auto r = load("# nothing here yet\n\n   # still nothing\n");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{"model_list: no deployments configured"});
  EXPECT_TRUE(r.config);
}

TEST(ConfigLoaderTest, TopLevelListIsError) {
  auto r = load("- a\n- b\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].path, "");
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, YamlSyntaxErrorReportedWithLineAndColumn) {
  auto r = load("model_list:\n  - model_name: a\n    litellm_params: {model: [\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].path, "");
  EXPECT_NE(r.errors[0].message.find("YAML syntax error at line "), std::string::npos) << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find(", column "), std::string::npos) << r.errors[0].message;
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, UnknownTopLevelKeyWarnsWithPath) {
  auto r = load(with_mock("surprise: 1\n"));
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{"surprise: unknown key, ignored"});
  EXPECT_TRUE(r.config);
}

TEST(ConfigLoaderTest, UnknownKeyInSectionsWarnsWithPath) {
  auto r = load(with_mock(R"(
router_settings:
  foo: 1
litellm_settings:
  bar: [1]
general_settings:
  baz: x
tollgate_settings:
  qux: true
)"));
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings),
            (Strings{"litellm_settings.bar: unknown key, ignored", "router_settings.foo: unknown key, ignored",
                     "general_settings.baz: unknown key, ignored", "tollgate_settings.qux: unknown key, ignored"}));
}

TEST(ConfigLoaderTest, UnknownKeyInDeploymentEntryWarnsWithPath) {
  auto r = load(R"(
model_list:
  - model_name: m
    litellm_params: {model: openai/x, mock_response: hi}
    extra: 1
)");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{"model_list[0].extra: unknown key, ignored"});
}

TEST(ConfigLoaderTest, UnsetVariableUnderUnknownKeyIsOnlyTheWarning) {
  auto r = load(with_mock("router_settings:\n  foo: os.environ/NOPE\n"));
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{"router_settings.foo: unknown key, ignored"});
}

// Read (router keys; router_settings_test.cpp checks them one by one) or accepted for later work:
// either way no warning.
TEST(ConfigLoaderTest, KnownLiteLlmKeysLoadWithoutWarnings) {
  auto r = load(with_mock(R"(
  - model_name: n
    litellm_params: {model: openai/y, mock_response: hi}
router_settings:
  routing_strategy: latency-based-routing
  num_retries: 3
  fallbacks: [{"m": ["n"]}]
  redis_host: localhost
  cooldown_time: 30
litellm_settings:
  num_retries: 2
  drop_params: true
  cache: true
  cache_params: {type: redis}
  success_callback: ["prometheus"]
general_settings:
  database_url: postgresql://localhost/db
  alerting: ["slack"]
  disable_spend_logs: false
  background_health_checks: true
)"), {{"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x"}});
  expect_clean(r);
  EXPECT_EQ(r.config->router.strategy, RoutingStrategy::kLatency);
  EXPECT_EQ(r.config->router.num_retries, 3);
  EXPECT_EQ(r.config->router.fallbacks, (FallbackMap{{"m", {"n"}}}));
  EXPECT_EQ(r.config->router.redis.host, "localhost");
  EXPECT_EQ(r.config->router.cooldown_time, 30'000ms);
  EXPECT_EQ(r.config->database.url, "postgresql://localhost/db");
  EXPECT_TRUE(r.config->database.postgres());
}

TEST(ConfigLoaderTest, DatabaseUrlMustBePostgresAndDefaultsToSqlite) {
  auto bad = load(with_mock(R"(
general_settings:
  database_url: mysql://u:secret@h/db
)"));
  EXPECT_EQ(strings(bad.errors),
            Strings{"general_settings.database_url: expected a postgresql:// or postgres:// URL (leave it unset for SQLite)"});
  auto none = load(with_mock(R"(
tollgate_settings:
  database_path: /tmp/x.db
  key_cache_ttl_seconds: 7
general_settings:
  proxy_batch_write_at: 3
  allow_requests_on_db_unavailable: true
)"));
  expect_clean(none);
  EXPECT_FALSE(none.config->database.postgres());
  EXPECT_EQ(none.config->database.sqlite_path, "/tmp/x.db");
  EXPECT_EQ(none.config->control.key_cache_ttl, 7'000ms);
  EXPECT_EQ(none.config->control.batch_write_interval, 3'000ms);
  EXPECT_TRUE(none.config->control.allow_requests_on_db_unavailable);
}

TEST(ConfigLoaderTest, SpendSettingsAreReadAndARetentionThatIsNotADurationIsAnError) {
  auto ok = load(with_mock(R"(
general_settings:
  store_prompts_in_spend_logs: true
  maximum_spend_logs_retention_period: 2w
  baseline_model: openai/gpt-4o
tollgate_settings:
  spend_journal_dir: /var/lib/tollgate/journal
  spend_queue_max_events: 500
)"));
  expect_clean(ok);
  const SpendSettings& spend = ok.config->spend;
  EXPECT_TRUE(spend.store_prompts);
  ASSERT_TRUE(spend.retention);
  EXPECT_EQ(spend.retention->count, 2);
  EXPECT_EQ(spend.retention->unit, Duration::Unit::kWeeks);
  EXPECT_EQ(spend.baseline_model, "openai/gpt-4o");
  EXPECT_EQ(spend.journal_dir, "/var/lib/tollgate/journal");
  EXPECT_EQ(spend.max_queued_events, 500u);

  auto defaults = load(with_mock(""));
  EXPECT_FALSE(defaults.config->spend.retention);
  EXPECT_EQ(defaults.config->spend.journal_dir, "spend-journal");

  auto bad = load(with_mock(R"(
general_settings:
  maximum_spend_logs_retention_period: forever
)"));
  EXPECT_EQ(strings(bad.errors), Strings{"general_settings.maximum_spend_logs_retention_period: expected a duration such "
                                         "as \"30d\", \"12h\", \"2w\" or \"1mo\", got 'forever'"});
}

TEST(ConfigLoaderTest, UnknownKeysInLitellmParamsAndModelInfoKeptWithoutWarning) {
  auto r = load(R"(
model_list:
  - model_name: m
    litellm_params:
      model: openai/x
      mock_response: hi
      frobnicate: 7
      rpm: 100
    model_info:
      whatever: {nested: true}
)");
  expect_clean(r);
  ASSERT_EQ(r.config->model_list.size(), 1u);
  EXPECT_EQ(r.config->model_list[0].litellm_params["frobnicate"], 7);
  EXPECT_EQ(r.config->model_list[0].litellm_params["rpm"], 100);
  EXPECT_EQ(r.config->model_list[0].model_info["whatever"]["nested"], true);
}

TEST(ConfigLoaderTest, DuplicateKeysAreErrors) {
  auto r = load(R"(
model_list:
  - model_name: a
    model_name: b
    litellm_params: {model: openai/x, mock_response: hi}
router_settings: {}
router_settings: {}
)");
  EXPECT_EQ(strings(r.errors), (Strings{"router_settings: duplicate key", "model_list[0].model_name: duplicate key"}));
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, AnchorsAndMergeKeysWork) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: &base
      model: openai/x
      mock_response: hi
      timeout: 5
  - model_name: b
    litellm_params:
      <<: *base
      timeout: 9
)");
  expect_clean(r);
  ASSERT_EQ(r.config->model_list.size(), 2u);
  EXPECT_EQ(r.config->model_list[1].mock_response, "hi");
  EXPECT_EQ(r.config->model_list[1].timeout, 9000ms);
}

TEST(ConfigLoaderTest, DeeplyNestedDocumentIsErrorNotCrash) {
  std::string deep = with_mock("litellm_settings:\n  cache_params: ") + std::string(200, '[') + std::string(200, ']') + "\n";
  auto r = load(deep);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("nested deeper than"), std::string::npos) << r.errors[0].to_string();
}

TEST(ConfigLoaderTest, NestingBeyondWhatYamlCppCanParseIsAnErrorBeforeParsing) {
  // yaml-cpp recurses once per level: these overflowed the stack inside YAML::Load.
  const std::string flows[] = {std::string(100'000, '['), "a: " + std::string(100'000, '{'),
                               std::string(300, '[') + std::string(300, ']')};
  for (const std::string& text : flows) {
    auto r = load(with_mock(text.substr(0, 3) == "a: " ? text : "x: " + text));
    ASSERT_FALSE(r.errors.empty());
    EXPECT_NE(r.errors[0].message.find("nested deeper than 256 levels"), std::string::npos) << r.errors[0].to_string();
  }
  std::string dashes;
  for (int i = 0; i < 100'000; ++i) dashes += "- ";
  auto r = load(dashes + "x\n");
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("nested deeper than"), std::string::npos);
  std::string indented;
  for (int i = 0; i < 400; ++i) indented += std::string(static_cast<std::size_t>(i), ' ') + "k" + std::to_string(i) + ":\n";
  r = load(indented);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("nested deeper than"), std::string::npos);
}

TEST(ConfigLoaderTest, AliasExpansionBombIsOneError) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 7; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) yaml += ", " + prev;
    yaml += "]\n";
  }
  yaml += "model_list: *a7\n";
  auto r = load(yaml);
  ASSERT_EQ(r.errors.size(), 1u) << ::testing::PrintToString(strings(r.errors));
  EXPECT_NE(r.errors[0].message.find("document too large"), std::string::npos);
}

TEST(ConfigLoaderTest, WrongTypesReportedTogetherWithTheirPaths) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params:
      model: openai/x
      api_key: [1, 2]
      timeout: [1]
  - model_name: [not, a, string]
    litellm_params: {model: hosted_vllm/llama}
  - just a string
  - model_name: ok
router_settings:
  timeout: soon
litellm_settings: [1, 2]
general_settings:
  max_request_size_mb: {a: 1}
tollgate_settings:
  port: 70000
  log_level: loud
)");
  EXPECT_EQ(strings(r.errors),
            (Strings{
                "model_list[0].litellm_params.api_key: expected a string, got a list",
                "model_list[0].litellm_params.timeout: expected a number, got a list",
                "model_list[1].model_name: expected a string, got a list",
                "model_list[1].litellm_params.api_base: required for provider 'hosted_vllm' (it has no default)",
                "model_list[2]: expected a map, got a string",
                "model_list[3].litellm_params: required",
                "litellm_settings: expected a map, got a list",
                "router_settings.timeout: expected a number, got a string",
                "general_settings.max_request_size_mb: expected a number, got a map",
                "tollgate_settings.port: must be between 0 and 65535, got 70000",
                "tollgate_settings.log_level: expected trace, debug, info, warn or error, got 'loud'",
            }));
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, ModelListAsMapIsError) {
  auto r = load("model_list:\n  a: 1\n");
  EXPECT_EQ(strings(r.errors), Strings{"model_list: expected a list, got a map"});
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, NoErrorsMeansNoConfigOnlyWhenErrors) {
  auto r = load("model_list:\n  - model_name: a\n");
  EXPECT_EQ(strings(r.errors), Strings{"model_list[0].litellm_params: required"});
  EXPECT_FALSE(r.config);
}

// ---- os.environ/ and environment_variables ----------------------------------------------------

TEST(ConfigLoaderTest, EnvReferenceResolvedInAnyScalar) {
  auto r = load(R"(
model_list:
  - model_name: m
    litellm_params:
      model: os.environ/MODEL
      api_base: os.environ/BASE
      api_key: os.environ/KEY
      tags: [os.environ/TAG]
    model_info:
      note: os.environ/NOTE
)",
                {{"MODEL", "hosted_vllm/llama"}, {"BASE", "http://vllm:8000/v1/"}, {"KEY", "secret"},
                 {"TAG", "t1"}, {"NOTE", "n"}});
  expect_clean(r);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.provider, "hosted_vllm");
  EXPECT_EQ(d.model, "llama");
  EXPECT_EQ(d.api_base, "http://vllm:8000/v1");
  EXPECT_EQ(d.api_key, "secret");
  EXPECT_EQ(d.litellm_params["tags"][0], "t1");
  EXPECT_EQ(d.model_info["note"], "n");
}

TEST(ConfigLoaderTest, EnvValueAcceptedWhereANumberIsExpected) {
  auto r = load(with_mock("router_settings:\n  timeout: os.environ/T\ntollgate_settings:\n  port: os.environ/P\n"),
                {{"T", "2.5"}, {"P", "8080"}});
  expect_clean(r);
  EXPECT_EQ(r.config->upstream.default_timeout, 2500ms);
  EXPECT_EQ(r.config->server.port, 8080);
}

TEST(ConfigLoaderTest, UnsetApiKeyDisablesDeploymentWithWarning) {
  auto r = load(R"(
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
  - model_name: azure-4o
    litellm_params:
      model: azure/gpt-4o
      api_base: os.environ/AZURE_API_BASE
      api_key: os.environ/AZURE_API_KEY
  - model_name: demo
    litellm_params: {model: openai/demo, mock_response: hi}
)");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings),
            (Strings{"model_list[0].litellm_params.api_key: environment variable OPENAI_API_KEY is not set; "
                     "deployment 'gpt-4o' disabled",
                     "model_list[1].litellm_params.api_key: environment variable AZURE_API_KEY is not set; "
                     "deployment 'azure-4o' disabled"}));
  ASSERT_TRUE(r.config);
  ASSERT_EQ(r.config->model_list.size(), 1u);
  EXPECT_EQ(r.config->model_list[0].model_name, "demo");
}

TEST(ConfigLoaderTest, EmptyApiKeyVariableDisablesDeploymentLikeAnUnsetOne) {
  auto r = load(R"(
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
  - model_name: literal-empty
    litellm_params: {model: openai/x, api_base: "http://127.0.0.1:9/v1", api_key: ""}
)",
                {{"OPENAI_API_KEY", ""}});
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), (Strings{"model_list[0].litellm_params.api_key: environment variable is empty; "
                                          "deployment 'gpt-4o' disabled"}));
  ASSERT_TRUE(r.config);
  ASSERT_EQ(r.config->model_list.size(), 1u);  // an empty key written in the file is the author's choice
  EXPECT_EQ(r.config->model_list[0].model_name, "literal-empty");
}

TEST(ConfigLoaderTest, UnsetMasterKeyVariableWarnsAndLeavesKeyEmpty) {
  auto r = load(with_mock("general_settings:\n  master_key: os.environ/MY_MASTER\n"));
  EXPECT_EQ(strings(r.errors), Strings{});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].path, "general_settings.master_key");
  EXPECT_NE(r.warnings[0].message.find("MY_MASTER is not set"), std::string::npos);
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->master_key, "");
}

TEST(ConfigLoaderTest, UnsetVariableElsewhereIsErrorNamingPathAndVariable) {
  auto r = load(with_mock(R"(
router_settings:
  redis_host: os.environ/REDIS_HOST
general_settings:
  database_url: os.environ/DATABASE_URL
)"));
  EXPECT_EQ(strings(r.errors),
            (Strings{"general_settings.database_url: environment variable DATABASE_URL is not set",
                     "router_settings.redis_host: environment variable REDIS_HOST is not set"}));
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, UnsetVariableInAnEnabledDeploymentIsError) {
  auto r = load(R"(
model_list:
  - model_name: az
    litellm_params:
      model: azure/gpt-4o
      api_base: os.environ/AZURE_API_BASE
      api_key: os.environ/AZURE_API_KEY
)",
                {{"AZURE_API_KEY", "k"}});
  EXPECT_EQ(strings(r.errors),
            Strings{"model_list[0].litellm_params.api_base: environment variable AZURE_API_BASE is not set"});
}

TEST(ConfigLoaderTest, EnvironmentVariablesBlockFeedsLaterLookups) {
  auto r = load(R"(
model_list:
  - model_name: m
    litellm_params:
      model: hosted_vllm/llama
      api_base: os.environ/TOLLGATE_CFG_TEST_BASE
      api_version: os.environ/VERSION
environment_variables:
  TOLLGATE_CFG_TEST_BASE: http://vllm:8000/v1
  VERSION: 2024-06-01
)");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).api_base, "http://vllm:8000/v1");
  EXPECT_EQ(r.config->model_list.at(0).litellm_params["api_version"], "2024-06-01");
  // Layered over the environment for this load only; the process is untouched.
  EXPECT_EQ(std::getenv("TOLLGATE_CFG_TEST_BASE"), nullptr);
}

TEST(ConfigLoaderTest, EnvironmentVariablesOverrideTheInjectedEnvironment) {
  auto r = load(with_mock("environment_variables:\n  T: \"7\"\nrouter_settings:\n  timeout: os.environ/T\n"),
                {{"T", "1"}});
  expect_clean(r);
  EXPECT_EQ(r.config->upstream.default_timeout, 7000ms);
}

TEST(ConfigLoaderTest, ProcessEnvReadsTheProcessEnvironment) {
  ASSERT_EQ(::setenv("TOLLGATE_CFG_TEST_VAR", "value-1", 1), 0);
  EnvLookup env = process_env();
  EXPECT_EQ(env("TOLLGATE_CFG_TEST_VAR"), "value-1");
  ASSERT_EQ(::unsetenv("TOLLGATE_CFG_TEST_VAR"), 0);
  EXPECT_EQ(env("TOLLGATE_CFG_TEST_VAR"), std::nullopt);
}

// ---- model_list ---------------------------------------------------------------------------------

TEST(ConfigLoaderTest, ModelWithoutSlashIsOpenAi) {
  auto r = load("model_list:\n  - model_name: g\n    litellm_params: {model: gpt-4o, api_key: k}\n");
  expect_clean(r);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.provider, "openai");
  EXPECT_EQ(d.model, "gpt-4o");
  EXPECT_EQ(d.api_base, "https://api.openai.com/v1");
  EXPECT_EQ(d.api_key, "k");
}

TEST(ConfigLoaderTest, ProviderIsTextBeforeFirstSlash) {
  auto r = load(R"(
model_list:
  - model_name: g
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://localhost:8000/v1
)");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).provider, "hosted_vllm");
  EXPECT_EQ(r.config->model_list.at(0).model, "meta-llama/Llama-3.1-8B-Instruct");
}

TEST(ConfigLoaderTest, EmptyProviderOrModelIsError) {
  auto r = load(R"(
model_list:
  - model_name: g
    litellm_params: {model: /x, mock_response: hi}
  - model_name: h
    litellm_params: {model: "openai/", mock_response: hi}
)");
  EXPECT_EQ(strings(r.errors), (Strings{"model_list[0].litellm_params.model: expected 'provider/model', got '/x'",
                                        "model_list[1].litellm_params.model: expected 'provider/model', got 'openai/'"}));
}

TEST(ConfigLoaderTest, CustomLlmProviderNamesProviderAndKeepsModelWhole) {
  auto r = load(R"(
model_list:
  - model_name: g
    litellm_params: {model: my/model, custom_llm_provider: groq, api_key: k}
)");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).provider, "groq");
  EXPECT_EQ(r.config->model_list.at(0).model, "my/model");
  EXPECT_EQ(r.config->model_list.at(0).api_base, "https://api.groq.com/openai/v1");
}

TEST(ConfigLoaderTest, KnownProvidersGetDefaultApiBase) {
  const std::map<std::string, std::string> expected{
      {"openai", "https://api.openai.com/v1"},
      {"groq", "https://api.groq.com/openai/v1"},
      {"mistral", "https://api.mistral.ai/v1"},
      {"deepseek", "https://api.deepseek.com/v1"},
      {"together_ai", "https://api.together.xyz/v1"},
      {"fireworks_ai", "https://api.fireworks.ai/inference/v1"},
      {"openrouter", "https://openrouter.ai/api/v1"},
      {"xai", "https://api.x.ai/v1"},
      {"perplexity", "https://api.perplexity.ai"},
      {"lm_studio", "http://localhost:1234/v1"},
  };
  std::string yaml = "model_list:\n";
  for (const auto& [provider, base] : expected) {
    yaml += "  - model_name: " + provider + "\n    litellm_params: {model: " + provider + "/some-model}\n";
  }
  auto r = load(yaml);
  expect_clean(r);
  ASSERT_EQ(r.config->model_list.size(), expected.size());
  for (const Deployment& d : r.config->model_list) EXPECT_EQ(d.api_base, expected.at(d.provider)) << d.provider;
}

TEST(ConfigLoaderTest, HostedVllmAndAzureRequireApiBase) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: hosted_vllm/llama}
  - model_name: b
    litellm_params: {model: azure/gpt-4o, api_key: k, api_version: "2024-06-01"}
)");
  EXPECT_EQ(strings(r.errors),
            (Strings{"model_list[0].litellm_params.api_base: required for provider 'hosted_vllm' (it has no default)",
                     "model_list[1].litellm_params.api_base: required for provider 'azure' (it has no default)"}));
}

TEST(ConfigLoaderTest, AzureWithApiBaseAndApiVersionLoads) {
  auto r = load(R"(
model_list:
  - model_name: b
    litellm_params:
      model: azure/my-deployment
      api_base: https://res.openai.azure.com/
      api_key: k
      api_version: "2024-06-01"
)");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).api_base, "https://res.openai.azure.com");
  EXPECT_EQ(r.config->model_list.at(0).litellm_params["api_version"], "2024-06-01");
  EXPECT_EQ(r.config->model_list.at(0).api_version, "2024-06-01");
}

TEST(ConfigLoaderTest, AzureApiVersionDefaultsToTheEnvironmentsAzureApiVersion) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: azure/dep-a, api_base: "https://res.openai.azure.com", api_key: k}
  - model_name: b
    litellm_params: {model: azure/dep-b, api_base: "https://res.openai.azure.com", api_key: k, api_version: 2024-06-01}
  - model_name: c
    litellm_params: {model: openai/gpt-4o, api_key: k}
)",
                {{"AZURE_API_VERSION", "2025-01-01-preview"}});
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).api_version, "2025-01-01-preview");
  EXPECT_EQ(r.config->model_list.at(1).api_version, "2024-06-01") << "litellm_params wins";
  EXPECT_EQ(r.config->model_list.at(2).api_version, "") << "only azure/ reads AZURE_API_VERSION";
  auto unset = load("model_list:\n  - model_name: a\n    litellm_params: {model: azure/d, api_base: \"https://r.openai.azure.com\"}\n");
  expect_clean(unset);
  EXPECT_EQ(unset.config->model_list.at(0).api_version, "") << "empty: the adapter's default";
}

TEST(ConfigLoaderTest, UnknownProviderWithoutApiBaseIsError) {
  auto r = load("model_list:\n  - model_name: a\n    litellm_params: {model: acme/m1}\n");
  EXPECT_EQ(strings(r.errors),
            Strings{"model_list[0].litellm_params.api_base: required for provider 'acme' (it has no default)"});
}

TEST(ConfigLoaderTest, ApiBaseMustBeHttpUrlWithHost) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: acme/m, api_base: foo}
  - model_name: b
    litellm_params: {model: acme/m, api_base: "ftp://host/v1"}
  - model_name: c
    litellm_params: {model: acme/m, api_base: "http:///v1"}
  - model_name: d
    litellm_params: {model: acme/m, api_base: "http://host:99999"}
  - model_name: e
    litellm_params: {model: acme/m, api_base: "https://[::1]:8443/v1"}
  - model_name: f
    litellm_params: {model: acme/m, api_base: "HTTP://Host:8080"}
)");
  EXPECT_EQ(strings(r.errors), (Strings{"model_list[0].litellm_params.api_base: not a URL: 'foo'",
                                        "model_list[1].litellm_params.api_base: not a URL: 'ftp://host/v1'",
                                        "model_list[2].litellm_params.api_base: not a URL: 'http:///v1'",
                                        "model_list[3].litellm_params.api_base: not a URL: 'http://host:99999'"}));
}

TEST(ConfigLoaderTest, ApiBaseTrailingSlashesStripped) {
  auto r = load("model_list:\n  - model_name: a\n    litellm_params: {model: acme/m, api_base: 'http://h:8000/v1//'}\n");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).api_base, "http://h:8000/v1");
}

TEST(ConfigLoaderTest, MockResponseNeedsNoApiBaseOrKey) {
  auto r = load("model_list:\n  - model_name: a\n    litellm_params: {model: acme/demo, mock_response: Hello}\n");
  expect_clean(r);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.mock_response, "Hello");
  EXPECT_EQ(d.api_base, "");
  EXPECT_EQ(d.api_key, "");
}

TEST(ConfigLoaderTest, ApiKeyAndOrganizationRead) {
  auto r = load("model_list:\n  - model_name: a\n    litellm_params: {model: openai/m, api_key: k1, organization: org-1}\n");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).api_key, "k1");
  EXPECT_EQ(r.config->model_list.at(0).organization, "org-1");
}

TEST(ConfigLoaderTest, TimeoutsInSecondsBecomeMilliseconds) {
  auto r = load("model_list:\n  - model_name: a\n    litellm_params: {model: openai/m, mock_response: x, timeout: 30, "
                "stream_timeout: 0.25}\n");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).timeout, 30'000ms);
  EXPECT_EQ(r.config->model_list.at(0).stream_timeout, 250ms);
}

TEST(ConfigLoaderTest, NonPositiveOrNonNumericTimeoutIsError) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: openai/m, mock_response: x, timeout: -1, stream_timeout: 0}
  - model_name: b
    litellm_params: {model: openai/m, mock_response: x, timeout: "30", stream_timeout: [1]}
)");
  auto inf = load("model_list:\n  - model_name: a\n    litellm_params: {model: openai/m, mock_response: x, timeout: .inf}\n");
  EXPECT_EQ(strings(inf.errors), Strings{"model_list[0].litellm_params.timeout: must be a positive number of seconds, got .inf"});
  EXPECT_EQ(strings(r.errors),
            (Strings{"model_list[0].litellm_params.timeout: must be a positive number of seconds, got -1",
                     "model_list[0].litellm_params.stream_timeout: must be a positive number of seconds, got 0",
                     "model_list[1].litellm_params.timeout: expected a number, got a string",
                     "model_list[1].litellm_params.stream_timeout: expected a number, got a list"}));
}

TEST(ConfigLoaderTest, ModelInfoIdBecomesDeploymentId) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: openai/m, mock_response: x}
    model_info: {id: my-id}
  - model_name: a
    litellm_params: {model: openai/m, mock_response: x}
    model_info: {id: 42}
)");
  expect_clean(r);
  EXPECT_EQ(r.config->model_list.at(0).id, "my-id");
  EXPECT_EQ(r.config->model_list.at(1).id, "42");
}

TEST(ConfigLoaderTest, GeneratedIdIsStableHexAndIgnoresApiKey) {
  auto yaml = [](const char* name, const char* key) {
    return std::string("model_list:\n  - model_name: ") + name + "\n    litellm_params: {model: openai/gpt-4o, api_key: " +
           key + "}\n";
  };
  auto a = load(yaml("gpt-4o", "key-one"));
  auto b = load(yaml("gpt-4o", "key-two"));
  auto c = load(yaml("other", "key-one"));
  ASSERT_TRUE(a.config && b.config && c.config);
  const std::string& id = a.config->model_list.at(0).id;
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, b.config->model_list.at(0).id);
  EXPECT_NE(id, c.config->model_list.at(0).id);
  // Pinned: the id must be the same in every process and release (FNV-1a 64 of the JSON basis).
  EXPECT_EQ(id, "9ff40a35d93b5964");
}

TEST(ConfigLoaderTest, DeploymentsDifferingOnlyInApiKeyGetDistinctIds) {
  auto r = load(R"(
model_list:
  - model_name: g
    litellm_params: {model: openai/gpt-4o, api_key: one}
  - model_name: g
    litellm_params: {model: openai/gpt-4o, api_key: two}
)");
  expect_clean(r);
  ASSERT_EQ(r.config->model_list.size(), 2u);
  EXPECT_NE(r.config->model_list[0].id, r.config->model_list[1].id);
}

TEST(ConfigLoaderTest, DuplicateIdsAreError) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params: {model: openai/m, mock_response: x}
    model_info: {id: same}
  - model_name: b
    litellm_params: {model: openai/m, mock_response: x}
    model_info: {id: same}
)");
  EXPECT_EQ(strings(r.errors), Strings{"model_list[1].model_info.id: duplicate id 'same' (also used by model_list[0])"});
}

TEST(ConfigLoaderTest, RawParamsKeepYamlTypes) {
  auto r = load(R"(
model_list:
  - model_name: a
    litellm_params:
      model: openai/m
      mock_response: x
      i: 3
      f: 0.5
      b: true
      y: yes
      n: ~
      quoted: "123"
      s: plain text
      list: [1, two, 3.0]
      map: {k: v}
)");
  expect_clean(r);
  const nlohmann::json& p = r.config->model_list.at(0).litellm_params;
  EXPECT_TRUE(p["i"].is_number_integer());
  EXPECT_EQ(p["i"], 3);
  EXPECT_TRUE(p["f"].is_number_float());
  EXPECT_EQ(p["f"], 0.5);
  EXPECT_EQ(p["b"], true);
  EXPECT_EQ(p["y"], true);
  EXPECT_TRUE(p["n"].is_null());
  EXPECT_EQ(p["quoted"], "123");
  EXPECT_EQ(p["s"], "plain text");
  EXPECT_EQ(p["list"], nlohmann::json::parse(R"([1, "two", 3.0])"));
  EXPECT_EQ(p["map"], nlohmann::json::parse(R"({"k": "v"})"));
}

// ---- general_settings ---------------------------------------------------------------------------

TEST(ConfigLoaderTest, MasterKeyMustStartWithSkAndIsNotEchoed) {
  auto r = load(with_mock("general_settings:\n  master_key: hunter2\n"));
  EXPECT_EQ(strings(r.errors), Strings{"general_settings.master_key: must start with 'sk-'"});
  EXPECT_EQ(r.errors[0].message.find("hunter2"), std::string::npos);
}

TEST(ConfigLoaderTest, MasterKeyReadFromFile) {
  auto r = load(with_mock("general_settings:\n  master_key: sk-file\n"));
  expect_clean(r);
  EXPECT_EQ(r.config->master_key, "sk-file");
}

TEST(ConfigLoaderTest, LitellmMasterKeyEnvOverridesFile) {
  auto r = load(with_mock("general_settings:\n  master_key: sk-file\n"), {{"LITELLM_MASTER_KEY", "sk-env"}});
  expect_clean(r);
  EXPECT_EQ(r.config->master_key, "sk-env");
  auto bare = load(kMockModel, {{"LITELLM_MASTER_KEY", "sk-env"}});
  ASSERT_TRUE(bare.config);
  EXPECT_EQ(bare.config->master_key, "sk-env");
  auto bad = load(kMockModel, {{"LITELLM_MASTER_KEY", "nope"}});
  EXPECT_EQ(strings(bad.errors),
            Strings{"general_settings.master_key: environment variable LITELLM_MASTER_KEY must start with 'sk-'"});
}

TEST(ConfigLoaderTest, MaxRequestSizeMbSetsBodyLimit) {
  auto r = load(with_mock("general_settings:\n  max_request_size_mb: 2.5\n"));
  expect_clean(r);
  EXPECT_EQ(r.config->server.max_request_body_bytes, 2'621'440u);
  auto bad = load(with_mock("general_settings:\n  max_request_size_mb: 0\n"));
  EXPECT_EQ(strings(bad.errors), Strings{"general_settings.max_request_size_mb: must be above 0 and at most 4096"});
}

// ---- router_settings / litellm_settings ---------------------------------------------------------

TEST(ConfigLoaderTest, RouterTimeoutWinsOverRequestTimeout) {
  auto r = load(with_mock("litellm_settings:\n  request_timeout: 10\nrouter_settings:\n  timeout: 20\n"));
  expect_clean(r);
  EXPECT_EQ(r.config->upstream.default_timeout, 20'000ms);
}

TEST(ConfigLoaderTest, RequestTimeoutUsedWithoutRouterTimeout) {
  auto r = load(with_mock("litellm_settings:\n  request_timeout: 10\n"));
  expect_clean(r);
  EXPECT_EQ(r.config->upstream.default_timeout, 10'000ms);
  auto defaults = load(kMockModel);
  ASSERT_TRUE(defaults.config);
  EXPECT_EQ(defaults.config->upstream.default_timeout, 600'000ms);
  EXPECT_EQ(defaults.config->upstream.default_stream_timeout, std::nullopt);
}

TEST(ConfigLoaderTest, RouterStreamTimeoutSetsDefaultStreamTimeout) {
  auto r = load(with_mock("router_settings:\n  stream_timeout: 45\n"));
  expect_clean(r);
  EXPECT_EQ(r.config->upstream.default_stream_timeout, 45'000ms);
}

TEST(ConfigLoaderTest, SslVerifyFalseDisablesVerification) {
  auto r = load(with_mock("litellm_settings:\n  ssl_verify: false\n"));
  expect_clean(r);
  EXPECT_FALSE(r.config->upstream.ssl_verify);
  EXPECT_EQ(r.config->upstream.ca_file, "");
}

TEST(ConfigLoaderTest, SslVerifyFromVariableTextIsBoolean) {
  auto r = load(with_mock("litellm_settings:\n  ssl_verify: os.environ/SSL_VERIFY\n"), {{"SSL_VERIFY", "False"}});
  expect_clean(r);
  EXPECT_FALSE(r.config->upstream.ssl_verify);
}

TEST(ConfigLoaderTest, SslVerifyPathBecomesCaFileAndMustExist) {
  const std::string existing = std::string(TOLLGATE_SOURCE_DIR) + "/config/config.yaml";
  auto r = load(with_mock("litellm_settings:\n  ssl_verify: " + existing + "\n"));
  expect_clean(r);
  EXPECT_TRUE(r.config->upstream.ssl_verify);
  EXPECT_EQ(r.config->upstream.ca_file, existing);
  auto missing = load(with_mock("litellm_settings:\n  ssl_verify: /no/such/ca.pem\n"));
  EXPECT_EQ(strings(missing.errors), Strings{"litellm_settings.ssl_verify: CA bundle not found: '/no/such/ca.pem'"});
}

TEST(ConfigLoaderTest, SslCertFileEnvUsedWhenNoCaFileConfigured) {
  auto r = load(kMockModel, {{"SSL_CERT_FILE", "/etc/ssl/custom.pem"}});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->upstream.ca_file, "/etc/ssl/custom.pem");
  const std::string existing = std::string(TOLLGATE_SOURCE_DIR) + "/config/config.yaml";
  auto explicit_file = load(with_mock("litellm_settings:\n  ssl_verify: " + existing + "\n"),
                            {{"SSL_CERT_FILE", "/etc/ssl/custom.pem"}});
  ASSERT_TRUE(explicit_file.config);
  EXPECT_EQ(explicit_file.config->upstream.ca_file, existing);
}

// ---- tollgate_settings --------------------------------------------------------------------------

TEST(ConfigLoaderTest, UnquotedAccessLogOffIsAccepted) {
  auto r = load(with_mock("tollgate_settings:\n  access_log: off\n"));
  expect_clean(r);
  EXPECT_EQ(r.config->log.access_log, "off");
}

TEST(ConfigLoaderTest, TollgateSettingsRead) {
  auto r = load(with_mock(R"(
tollgate_settings:
  host: 127.0.0.1
  port: 0
  num_workers: 3
  max_header_size_kb: 32
  header_timeout_seconds: 5
  body_timeout_seconds: 60
  idle_timeout_seconds: 90
  shutdown_timeout_seconds: 10
  upstream_connect_timeout_seconds: 2.5
  upstream_chunk_timeout_seconds: 30
  upstream_pool_idle_timeout_seconds: 15
  upstream_max_idle_per_host: 8
  log_level: debug
  access_log: /var/log/tollgate/access.log
)"));
  expect_clean(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 0);
  EXPECT_EQ(c.server.num_workers, 3u);
  EXPECT_EQ(c.server.max_header_bytes, 32u * 1024);
  EXPECT_EQ(c.server.header_timeout, 5'000ms);
  EXPECT_EQ(c.server.body_timeout, 60'000ms);
  EXPECT_EQ(c.server.idle_timeout, 90'000ms);
  EXPECT_EQ(c.server.shutdown_timeout, 10'000ms);
  EXPECT_EQ(c.upstream.connect_timeout, 2'500ms);
  EXPECT_EQ(c.upstream.chunk_timeout, 30'000ms);
  EXPECT_EQ(c.upstream.pool_idle_timeout, 15'000ms);
  EXPECT_EQ(c.upstream.max_idle_per_host, 8u);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.access_log, "/var/log/tollgate/access.log");
}

TEST(ConfigLoaderTest, TollgateSettingsValidatedWithPaths) {
  auto r = load(with_mock(R"(
tollgate_settings:
  host: ""
  port: -1
  num_workers: 2.5
  max_header_size_kb: 0
  idle_timeout_seconds: 0
  upstream_max_idle_per_host: -3
  access_log: [stdout]
)"));
  EXPECT_EQ(strings(r.errors), (Strings{
                                   "tollgate_settings.host: must not be empty",
                                   "tollgate_settings.port: must be between 0 and 65535, got -1",
                                   "tollgate_settings.num_workers: expected an integer, got a number",
                                   "tollgate_settings.max_header_size_kb: must be between 1 and 16384, got 0",
                                   "tollgate_settings.idle_timeout_seconds: must be a positive number of seconds, got 0",
                                   "tollgate_settings.upstream_max_idle_per_host: must be between 0 and 100000, got -3",
                                   "tollgate_settings.access_log: expected a string, got a list",
                               }));
}

// ---- files --------------------------------------------------------------------------------------

TEST(ConfigLoaderTest, MissingFileIsOneErrorWithoutPath) {
  auto r = load_config_file("/no/such/dir/config.yaml", env_of({}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].path, "");
  EXPECT_NE(r.errors[0].message.find("/no/such/dir/config.yaml"), std::string::npos);
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoaderTest, DefaultConfigRunsWithNoEnvironment) {
  const std::string path = std::string(TOLLGATE_SOURCE_DIR) + "/config/config.yaml";
  auto r = load_config_file(path, env_of({}));
  EXPECT_EQ(strings(r.errors), Strings{});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->source_path, path);
  ASSERT_EQ(r.config->model_list.size(), 2u);
  EXPECT_EQ(r.config->model_list[0].model_name, "demo");
  EXPECT_EQ(r.config->model_list[0].id, "demo-1");
  EXPECT_EQ(r.config->model_list[1].id, "demo-2");
  EXPECT_TRUE(r.config->model_list[0].mock_response.has_value());
  EXPECT_EQ(r.config->master_key, "");
  EXPECT_EQ(r.config->server.port, 4000);
  // gpt-4o-mini, gpt-4o, groq-llama disabled; no master key.
  EXPECT_EQ(r.warnings.size(), 4u) << ::testing::PrintToString(strings(r.warnings));

  auto keyed = load_config_file(path, env_of({{"OPENAI_API_KEY", "sk-o"}, {"GROQ_API_KEY", "g"}, {"LITELLM_MASTER_KEY", "sk-m"}}));
  ASSERT_TRUE(keyed.config);
  EXPECT_EQ(strings(keyed.warnings), Strings{});
  EXPECT_EQ(keyed.config->model_list.size(), 5u);
  EXPECT_EQ(keyed.config->master_key, "sk-m");
}

TEST(ConfigLoaderTest, EveryShippedConfigLoadsWithoutErrors) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(TOLLGATE_SOURCE_DIR) + "/config")) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    auto r = load_config_file(entry.path().string(), env_of(sample_env()));
    EXPECT_EQ(strings(r.errors), Strings{});
    // With every variable set, nothing is disabled and every fallback/alias group exists.
    EXPECT_EQ(strings(r.warnings), Strings{});
    ASSERT_TRUE(r.config);
    EXPECT_FALSE(r.config->model_list.empty());
    EXPECT_EQ(r.config->master_key, "sk-test");
  }
  EXPECT_GE(files, 3u);
}

}  // namespace
}  // namespace tollgate::config
