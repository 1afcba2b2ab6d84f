// PriceTable: the embedded genai-prices data and the lookup rules. Expected prices are copied by
// hand from data/genai-prices/data_slim.json.
#include "tollgate/spend/price_table.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tollgate/config/config.hpp"

namespace tollgate::spend {
namespace {

using namespace std::chrono;

WallTime at(int y, unsigned m, unsigned d, hours h = hours{12}, minutes min = minutes{0}) {
  return sys_days{year{y} / month{m} / day{d}} + h + min;
}

const WallTime kNow = at(2026, 8, 21);  // the data snapshot's date

const PriceTable& embedded() {
  static const auto table = PriceTable::embedded();
  return *table;
}

std::shared_ptr<const PriceTable> parse_ok(std::string_view json) {
  auto result = PriceTable::parse(json);
  EXPECT_TRUE(result.table) << result.error;
  EXPECT_EQ(result.error, "");
  return result.table;
}

// One provider whose models each use one kind of match clause.
constexpr std::string_view kClauseData = R"([
  {"id": "acme", "name": "Acme", "api_pattern": "x", "models": [
    {"id": "eq", "match": {"equals": "Exact-Model"}, "prices": {"input_mtok": 1, "output_mtok": 10}},
    {"id": "sw", "match": {"starts_with": "alpha-"}, "prices": {"input_mtok": 2}},
    {"id": "ew", "match": {"ends_with": "-omega"}, "prices": {"input_mtok": 3}},
    {"id": "ct", "match": {"contains": "middle"}, "prices": {"input_mtok": 4}},
    {"id": "re", "match": {"regex": "^rx-\\d{4}$"}, "prices": {"input_mtok": 5}},
    {"id": "bad", "match": {"regex": "(unclosed"}, "prices": {"input_mtok": 6}},
    {"id": "and", "match": {"and": [{"starts_with": "both-"}, {"or": [{"contains": "-x"}, {"contains": "-y"}]}]},
     "prices": {"input_mtok": 7}}
  ]}
])";

std::optional<std::string> model_id(const PriceTable& table, std::string_view model) {
  auto price = table.find("acme", model, kNow);
  if (!price) return std::nullopt;
  return price->model_id;
}

TEST(PriceTableTest, EmbeddedTableLoadsAllProvidersAndModels) {
  EXPECT_EQ(embedded().provider_count(), 34u);
  EXPECT_GT(embedded().model_count(), 1000u);
  EXPECT_EQ(embedded().skipped_regex_count(), 0u);
  EXPECT_EQ(PriceTable::embedded().get(), PriceTable::embedded().get());  // parsed once, shared
}

TEST(PriceTableTest, OpenAiModelsByNameAndDatedName) {
  auto gpt4o = embedded().find("openai", "gpt-4o", kNow);
  ASSERT_TRUE(gpt4o);
  EXPECT_EQ(gpt4o->provider_id, "openai");
  EXPECT_EQ(gpt4o->model_id, "gpt-4o");
  EXPECT_DOUBLE_EQ(gpt4o->input->base_mtok, 2.5);
  EXPECT_DOUBLE_EQ(gpt4o->output->base_mtok, 10);
  EXPECT_DOUBLE_EQ(gpt4o->cache_read->base_mtok, 1.25);
  EXPECT_FALSE(gpt4o->cache_write);
  EXPECT_DOUBLE_EQ(gpt4o->input_per_token(), 2.5e-6);
  EXPECT_DOUBLE_EQ(gpt4o->output_per_token(), 10e-6);
  EXPECT_EQ(gpt4o->context_window, 128000);

  auto dated = embedded().find("openai", "gpt-4o-2024-08-06", kNow);
  ASSERT_TRUE(dated);
  EXPECT_EQ(dated->model_id, "gpt-4o");

  auto mini = embedded().find("openai", "gpt-4o-mini-2024-07-18", kNow);
  ASSERT_TRUE(mini);
  EXPECT_EQ(mini->model_id, "gpt-4o-mini");
  EXPECT_DOUBLE_EQ(mini->input->base_mtok, 0.15);
  EXPECT_DOUBLE_EQ(mini->output->base_mtok, 0.6);
  EXPECT_DOUBLE_EQ(mini->cache_read->base_mtok, 0.075);
}

TEST(PriceTableTest, AnthropicDatedNameMatchesByPrefix) {
  auto sonnet = embedded().find("anthropic", "claude-3-5-sonnet-20241022", kNow);
  ASSERT_TRUE(sonnet);
  EXPECT_EQ(sonnet->provider_id, "anthropic");
  EXPECT_EQ(sonnet->model_id, "claude-3-5-sonnet");
  EXPECT_DOUBLE_EQ(sonnet->input->base_mtok, 3);
  EXPECT_DOUBLE_EQ(sonnet->output->base_mtok, 15);
  EXPECT_DOUBLE_EQ(sonnet->cache_write->base_mtok, 3.75);
  EXPECT_DOUBLE_EQ(sonnet->cache_read->base_mtok, 0.3);
}

TEST(PriceTableTest, GeminiAndVertexPrefixesBothPriceAsGoogle) {
  for (std::string_view prefix : {"gemini", "vertex_ai"}) {
    SCOPED_TRACE(prefix);
    auto flash = embedded().find(prefix, "gemini-2.0-flash", kNow);
    ASSERT_TRUE(flash);
    EXPECT_EQ(flash->provider_id, "google");
    EXPECT_EQ(flash->model_id, "gemini-2.0-flash");
    EXPECT_DOUBLE_EQ(flash->input->base_mtok, 0.1);
    EXPECT_DOUBLE_EQ(flash->output->base_mtok, 0.4);
    EXPECT_DOUBLE_EQ(flash->cache_read->base_mtok, 0.025);
    ASSERT_EQ(flash->other.count("input_audio_mtok"), 1u);
    EXPECT_DOUBLE_EQ(flash->other.at("input_audio_mtok").base_mtok, 0.7);
  }
  // Claude on Vertex: Google's own entry ("contains" rule), not Anthropic's.
  auto claude = embedded().find("vertex_ai", "claude-3-5-sonnet@20240620", kNow);
  ASSERT_TRUE(claude);
  EXPECT_EQ(claude->provider_id, "google");
  EXPECT_EQ(claude->model_id, "claude-3-5-sonnet");
  EXPECT_DOUBLE_EQ(claude->output->base_mtok, 15);
}

TEST(PriceTableTest, BedrockModelIdsIncludingRegionalPrefixes) {
  auto sonnet = embedded().find("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", kNow);
  ASSERT_TRUE(sonnet);
  EXPECT_EQ(sonnet->provider_id, "aws");
  EXPECT_EQ(sonnet->model_id, "regional.anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_DOUBLE_EQ(sonnet->input->base_mtok, 3);
  EXPECT_DOUBLE_EQ(sonnet->output->base_mtok, 15);

  auto regional = embedded().find("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", kNow);
  ASSERT_TRUE(regional);
  EXPECT_EQ(regional->model_id, "regional.anthropic.claude-sonnet-4-5-20250929-v1:0");
  EXPECT_DOUBLE_EQ(regional->input->base_mtok, 3.3);
  EXPECT_DOUBLE_EQ(regional->output->base_mtok, 16.5);

  auto global = embedded().find("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", kNow);
  ASSERT_TRUE(global);
  EXPECT_EQ(global->model_id, "global.anthropic.claude-sonnet-4-5-20250929-v1:0");
  EXPECT_DOUBLE_EQ(global->input->base_mtok, 3);
}

TEST(PriceTableTest, LiteLlmPrefixesMapToPriceDataProviders) {
  const std::pair<std::string_view, std::string_view> expected[] = {
      {"openai", "openai"},       {"anthropic", "anthropic"},   {"azure", "azure"},
      {"gemini", "google"},       {"vertex_ai", "google"},      {"bedrock", "aws"},
      {"groq", "groq"},           {"mistral", "mistral"},       {"deepseek", "deepseek"},
      {"together_ai", "together"}, {"fireworks_ai", "fireworks"}, {"openrouter", "openrouter"},
      {"xai", "x-ai"},            {"perplexity", "perplexity"}, {"cohere_chat", "cohere"},
      {"Anthropic", "anthropic"}, {"hosted_vllm", ""},          {"ollama", ""},
      {"custom_openai", ""},      {"no-such-provider", ""},
  };
  for (const auto& [litellm, price_id] : expected) {
    EXPECT_EQ(embedded().provider_id_for(litellm), price_id) << litellm;
  }
}

TEST(PriceTableTest, OtherProvidersThroughTheirPrefixes) {
  auto price = [](std::string_view provider, std::string_view model) {
    auto p = embedded().find(provider, model, kNow);
    return p ? std::optional<double>(p->input->base_mtok) : std::nullopt;
  };
  EXPECT_EQ(price("groq", "gemma2-9b-it"), 0.2);
  EXPECT_EQ(price("mistral", "codestral-latest"), 0.3);
  EXPECT_EQ(price("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo"), 0.88);
  EXPECT_EQ(price("fireworks_ai", "accounts/fireworks/models/deepseek-v3p2"), 0.56);
  EXPECT_EQ(price("openrouter", "anthropic/claude-3.5-sonnet"), 3);
  EXPECT_EQ(price("xai", "grok-4.3"), 1.25);
}

TEST(PriceTableTest, AzureFallsBackToOpenAiPrices) {
  auto price = embedded().find("azure", "gpt-4o", kNow);
  ASSERT_TRUE(price);
  EXPECT_EQ(price->provider_id, "openai");  // azure lists fallback_model_providers: [openai, anthropic]
  EXPECT_DOUBLE_EQ(price->input->base_mtok, 2.5);
}

TEST(PriceTableTest, UnknownProviderSearchesAllProvidersByModelName) {
  auto price = embedded().find("hosted_vllm", "gpt-4o-mini", kNow);
  ASSERT_TRUE(price);
  EXPECT_EQ(price->provider_id, "openai");  // openai's model_match (starts_with "gpt-") comes first
  EXPECT_DOUBLE_EQ(price->input->base_mtok, 0.15);
}

TEST(PriceTableTest, UnknownModelIsNullopt) {
  EXPECT_FALSE(embedded().find("openai", "definitely-not-a-model", kNow));
  EXPECT_FALSE(embedded().find("hosted_vllm", "my-finetune-7b", kNow));
  // A known provider does not borrow another provider's price for a name it does not list.
  EXPECT_FALSE(embedded().find("groq", "gpt-4o", kNow));
}

TEST(PriceTableTest, StartDatePricesTakeEffectOnTheirDate) {
  auto before = embedded().find("openai", "o3", at(2025, 6, 9, hours{23}, minutes{59}));
  auto on = embedded().find("openai", "o3", at(2025, 6, 10, hours{0}));
  ASSERT_TRUE(before && on);
  EXPECT_DOUBLE_EQ(before->input->base_mtok, 10);
  EXPECT_DOUBLE_EQ(before->output->base_mtok, 40);
  EXPECT_DOUBLE_EQ(on->input->base_mtok, 2);
  EXPECT_DOUBLE_EQ(on->output->base_mtok, 8);
}

TEST(PriceTableTest, TimeOfDayPricesApplyInsideTheirUtcWindow) {
  // deepseek-chat: 0.27/1.1 from 00:30 to 16:30 UTC, else the first (off-peak) variant 0.135/0.55.
  auto peak = embedded().find("deepseek", "deepseek-chat", at(2026, 8, 21, hours{0}, minutes{30}));
  auto late = embedded().find("deepseek", "deepseek-chat", at(2026, 8, 21, hours{16}, minutes{30}));
  auto night = embedded().find("deepseek", "deepseek-chat", at(2026, 8, 21, hours{0}, minutes{29}));
  ASSERT_TRUE(peak && late && night);
  EXPECT_DOUBLE_EQ(peak->input->base_mtok, 0.27);
  EXPECT_DOUBLE_EQ(peak->output->base_mtok, 1.1);
  EXPECT_DOUBLE_EQ(late->input->base_mtok, 0.135);
  EXPECT_DOUBLE_EQ(night->output->base_mtok, 0.55);
}

TEST(PriceTableTest, TieredPricesKeepTheirThresholds) {
  auto pro = embedded().find("gemini", "gemini-2.5-pro", kNow);
  ASSERT_TRUE(pro);
  EXPECT_EQ(*pro->input, (TokenPrice{1.25, {{200000, 2.5}}}));
  EXPECT_EQ(*pro->output, (TokenPrice{10, {{200000, 15}}}));
  EXPECT_EQ(*pro->cache_read, (TokenPrice{0.125, {{200000, 0.25}}}));
  EXPECT_DOUBLE_EQ(pro->input_per_token(), 1.25e-6);
  // Cliff model: a request over the threshold pays the tier rate on all its tokens.
  EXPECT_DOUBLE_EQ(pro->output->rate_mtok(200000), 10);
  EXPECT_DOUBLE_EQ(pro->output->rate_mtok(200001), 15);

  // claude-opus-4-6 was tiered until 2026-03-13, flat since.
  auto tiered = embedded().find("anthropic", "claude-opus-4-6", at(2026, 3, 12));
  auto flat = embedded().find("anthropic", "claude-opus-4-6", at(2026, 3, 13));
  ASSERT_TRUE(tiered && flat);
  EXPECT_EQ(*tiered->output, (TokenPrice{25, {{200000, 37.5}}}));
  EXPECT_EQ(*flat->output, (TokenPrice{25, {}}));
}

TEST(PriceTableTest, EachMatchClauseKind) {
  auto table = parse_ok(kClauseData);
  ASSERT_TRUE(table);
  EXPECT_EQ(table->skipped_regex_count(), 1u);  // "(unclosed": skipped, not fatal
  EXPECT_EQ(model_id(*table, "exact-model"), "eq");   // literals compare case-insensitively
  EXPECT_EQ(model_id(*table, "EXACT-MODEL"), "eq");
  EXPECT_EQ(model_id(*table, "exact-model-2"), std::nullopt);
  EXPECT_EQ(model_id(*table, "alpha-1"), "sw");
  EXPECT_EQ(model_id(*table, "x-alpha-1"), std::nullopt);
  EXPECT_EQ(model_id(*table, "big-omega"), "ew");
  EXPECT_EQ(model_id(*table, "in-the-middle-of"), "ct");
  EXPECT_EQ(model_id(*table, "rx-2024"), "re");
  EXPECT_EQ(model_id(*table, "rx-20245"), std::nullopt);
  EXPECT_EQ(model_id(*table, "(unclosed"), std::nullopt);
  EXPECT_EQ(model_id(*table, "both-x"), "and");
  EXPECT_EQ(model_id(*table, "both-z"), std::nullopt);
  // Real data: ends_with (gemini-2.0-flash) and regex (grok-4.3-YYYYMMDD).
  EXPECT_EQ(embedded().find("gemini", "models/gemini-2.0-flash", kNow)->model_id, "gemini-2.0-flash");
  EXPECT_EQ(embedded().find("xai", "grok-4.3-20260101", kNow)->model_id, "grok-4.3");
}

TEST(PriceTableTest, MalformedDataIsAnErrorNotACrash) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"not json", "not valid JSON"},
      {R"({"id": "x"})", "expected an array"},
      {R"([{"id": "p", "models": [{"id": "m", "match": {"prefix": "a"}, "prices": {}}]}])", "unknown match clause"},
      {R"([{"id": "p", "models": [{"id": "m", "match": {"equals": "a"}}]}])", "$[0].models[0].prices: missing"},
      {R"([{"id": "p", "models": [{"id": "m", "match": {"equals": "a"}, "prices": {"input_mtok": "1"}}]}])",
       "input_mtok: expected a number"},
      {R"([{"id": "p", "models": [{"id": "m", "match": {"equals": "a"},
          "prices": [{"constraint": {"start_date": "2025-13-01"}, "prices": {}}]}]}])", "expected a date"},
  };
  for (const auto& [json, message] : cases) {
    auto result = PriceTable::parse(json);
    EXPECT_FALSE(result.table) << json;
    EXPECT_NE(result.error.find(message), std::string::npos) << result.error;
  }
}

TEST(PriceTableTest, DeploymentOverrideWinsOverTable) {
  config::Deployment d;
  d.provider = "openai";
  d.model = "gpt-4o";
  EXPECT_DOUBLE_EQ(*per_token_cost(d, embedded(), kNow), 2.5e-6 + 10e-6);

  d.input_cost_per_token = 1e-6;
  d.output_cost_per_token = 2e-6;
  EXPECT_DOUBLE_EQ(*per_token_cost(d, embedded(), kNow), 3e-6);

  d.output_cost_per_token.reset();  // the unset side comes from the table
  EXPECT_DOUBLE_EQ(*per_token_cost(d, embedded(), kNow), 1e-6 + 10e-6);

  config::Deployment local;
  local.provider = "hosted_vllm";
  local.model = "my-finetune-7b";
  EXPECT_EQ(per_token_cost(local, embedded(), kNow), std::nullopt);
  local.input_cost_per_token = 0;
  local.output_cost_per_token = 0;
  EXPECT_EQ(per_token_cost(local, embedded(), kNow), 0.0);
}

}  // namespace
}  // namespace tollgate::spend
