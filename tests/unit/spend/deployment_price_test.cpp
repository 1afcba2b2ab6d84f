// DeploymentPrice: the exact cost of a request. Every expected figure is worked out by hand from
// data/genai-prices/data_slim.json (USD per million tokens, "mtok") in the comment above it.
#include "tollgate/spend/deployment_price.hpp"

#include <chrono>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "tollgate/config/config.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::spend {
namespace {

using namespace std::chrono;

const WallTime kNow = sys_days{year{2026} / month{8} / day{21}} + hours{12};  // the data snapshot's date

const PriceTable& table() {
  static const auto t = PriceTable::embedded();
  return *t;
}

config::Deployment deployment(std::string provider, std::string model) {
  config::Deployment d;
  d.id = "d";
  d.model_name = "g";
  d.provider = std::move(provider);
  d.model = std::move(model);
  return d;
}

api::Usage usage(std::int64_t prompt, std::int64_t completion, std::int64_t cached = 0, std::int64_t written = 0,
                       std::int64_t reasoning = 0) {
  api::Usage u;
  u.present = true;
  u.prompt_tokens = prompt;
  u.completion_tokens = completion;
  u.total_tokens = prompt + completion;
  u.cached_prompt_tokens = cached;
  u.cache_write_tokens = written;
  u.reasoning_tokens = reasoning;
  return u;
}

double cost_of(const config::Deployment& d, const api::Usage& u) {
  return DeploymentPrice::resolve(d, table()).cost(u, kNow);
}

TEST(DeploymentPriceTest, OpenAiCachedTokensAtTheCacheReadPrice) {
  // gpt-4o: input 2.5, cache_read 1.25, output 10 per mtok.
  // 10000 prompt tokens of which 4000 cached, 500 completion:
  //   6000 × 2.5e-6 = 0.015  +  4000 × 1.25e-6 = 0.005  +  500 × 10e-6 = 0.005  = 0.025
  const auto d = deployment("openai", "gpt-4o");
  EXPECT_TRUE(DeploymentPrice::resolve(d, table()).priced());
  EXPECT_DOUBLE_EQ(cost_of(d, usage(10000, 500, 4000)), 0.025);
  // Without cached tokens all 10000 are input: 0.025 + 4000 × (2.5 − 1.25)e-6 = 0.03.
  EXPECT_DOUBLE_EQ(cost_of(d, usage(10000, 500)), 0.03);
}

TEST(DeploymentPriceTest, AnthropicCacheReadAndCacheWrite) {
  // claude-3-5-sonnet: input 3, cache_write 3.75, cache_read 0.3, output 15 per mtok.
  // 3000 prompt tokens = 1000 read from the cache + 1500 written to it + 500 uncached; 200 out:
  //   500 × 3e-6 = 0.0015  +  1000 × 0.3e-6 = 0.0003  +  1500 × 3.75e-6 = 0.005625
  //   + 200 × 15e-6 = 0.003  = 0.010425
  EXPECT_DOUBLE_EQ(cost_of(deployment("anthropic", "claude-3-5-sonnet-20241022"), usage(3000, 200, 1000, 1500)),
                   0.010425);
}

TEST(DeploymentPriceTest, TieredPriceTakesTheTierOfTheWholePrompt) {
  // gemini-2.5-pro: input 1.25 → 2.5, cache_read 0.125 → 0.25, output 10 → 15 above 200000
  // prompt tokens (cliff model: the tier applies to every token of the request).
  const auto d = deployment("gemini", "gemini-2.5-pro");
  // At the threshold, still the base tier: 200000 × 1.25e-6 = 0.25 + 1000 × 10e-6 = 0.01 = 0.26.
  EXPECT_DOUBLE_EQ(cost_of(d, usage(200000, 1000)), 0.26);
  // One token over, with 100000 cached:
  //   100001 × 2.5e-6 = 0.2500025  +  100000 × 0.25e-6 = 0.025  +  1000 × 15e-6 = 0.015  = 0.2900025
  EXPECT_DOUBLE_EQ(cost_of(d, usage(200001, 1000, 100000)), 0.2900025);
}

TEST(DeploymentPriceTest, CachedTokensWithoutACachePriceCostTheInputPrice) {
  // gemini-1.5-pro has no cache_read price: input 1.25, output 5 per mtok below 128000.
  // 1000 prompt (400 cached) + 100 out: 1000 × 1.25e-6 = 0.00125 + 100 × 5e-6 = 0.0005 = 0.00175.
  EXPECT_DOUBLE_EQ(cost_of(deployment("gemini", "gemini-1.5-pro"), usage(1000, 100, 400)), 0.00175);
  // gpt-4o has no cache_write price: 1000 written tokens cost 2.5e-6 each, like input.
  // 4000 prompt = 1000 written + 3000 uncached → 4000 × 2.5e-6 = 0.01.
  EXPECT_DOUBLE_EQ(cost_of(deployment("openai", "gpt-4o"), usage(4000, 0, 0, 1000)), 0.01);
}

TEST(DeploymentPriceTest, ReasoningTokensAreCountedOnceAsOutput) {
  // o3-mini: input 1.1, output 4.4 per mtok. completion_tokens 1000 include 800 reasoning tokens:
  //   100 × 1.1e-6 = 0.00011  +  1000 × 4.4e-6 = 0.0044  = 0.00451 (not + 800 × 4.4e-6 more).
  EXPECT_DOUBLE_EQ(cost_of(deployment("openai", "o3-mini"), usage(100, 1000, 0, 0, 800)), 0.00451);
}

TEST(DeploymentPriceTest, EmbeddingsPayForPromptTokensOnly) {
  // text-embedding-3-small: input 0.02 per mtok. 5000 tokens → 0.0001.
  EXPECT_DOUBLE_EQ(cost_of(deployment("openai", "text-embedding-3-small"), usage(5000, 0)), 0.0001);
}

TEST(DeploymentPriceTest, PerRequestPriceWhenTheUpstreamReportedUsage) {
  // perplexity sonar: input 1, output 1 per mtok, 12 USD per thousand requests.
  // 1000 + 1000 tokens → 0.002, + 12 / 1000 = 0.014.
  const auto d = deployment("perplexity", "sonar");
  EXPECT_DOUBLE_EQ(cost_of(d, usage(1000, 1000)), 0.014);
  EXPECT_DOUBLE_EQ(cost_of(d, api::Usage{}), 0.0);  // no usage: the call did not complete
}

TEST(DeploymentPriceTest, OverridesWinPerSide) {
  // gpt-4o (input 2.5, cache_read 1.25, output 10 per mtok), 10000 prompt / 4000 cached / 500 out.
  auto d = deployment("openai", "gpt-4o");
  // Output and cache-read overridden, input from the table:
  //   6000 × 2.5e-6 = 0.015  +  4000 × 0.5e-6 = 0.002  +  500 × 20e-6 = 0.01  = 0.027
  d.output_cost_per_token = 20e-6;
  d.cache_read_input_token_cost = 0.5e-6;
  EXPECT_DOUBLE_EQ(cost_of(d, usage(10000, 500, 4000)), 0.027);
  // Only input overridden: cached tokens keep the table's cache-read price.
  //   6000 × 1e-6 = 0.006  +  4000 × 1.25e-6 = 0.005  +  500 × 10e-6 = 0.005  = 0.016
  d = deployment("openai", "gpt-4o");
  d.input_cost_per_token = 1e-6;
  EXPECT_DOUBLE_EQ(cost_of(d, usage(10000, 500, 4000)), 0.016);
  // A cache-write override where the table has none: 1000 written × 4e-6 = 0.004 + 3000 × 2.5e-6
  // = 0.0075 → 0.0115.
  d = deployment("openai", "gpt-4o");
  d.cache_creation_input_token_cost = 4e-6;
  EXPECT_DOUBLE_EQ(cost_of(d, usage(4000, 0, 0, 1000)), 0.0115);
  // Overrides price a model the table does not know; unset sides are 0, cached tokens take the
  // input override: 1000 × 1e-6 + 10 × 2e-6 = 0.00102.
  auto local = deployment("hosted_vllm", "my-finetune-7b");
  local.input_cost_per_token = 1e-6;
  local.output_cost_per_token = 2e-6;
  const DeploymentPrice p = DeploymentPrice::resolve(local, table());
  EXPECT_TRUE(p.priced());
  EXPECT_DOUBLE_EQ(p.cost(usage(1000, 10, 300), kNow), 0.00102);
  EXPECT_DOUBLE_EQ(p.input_per_token(kNow), 1e-6);
  EXPECT_DOUBLE_EQ(p.output_per_token(kNow), 2e-6);
}

TEST(DeploymentPriceTest, BaseModelPricesAnAzureDeploymentName) {
  // An Azure deployment named by the operator: its name is no model, base_model is.
  auto d = deployment("azure", "prod-chat-eu");
  EXPECT_FALSE(DeploymentPrice::resolve(d, table()).priced());
  // gpt-4o (through azure's fallback to openai): 1000 × 2.5e-6 + 100 × 10e-6 = 0.0035.
  for (const char* base : {"azure/gpt-4o", "gpt-4o", "openai/gpt-4o"}) {
    SCOPED_TRACE(base);
    d.base_model = base;
    EXPECT_TRUE(DeploymentPrice::resolve(d, table()).priced());
    EXPECT_DOUBLE_EQ(cost_of(d, usage(1000, 100)), 0.0035);
  }
  // A prefix that names no provider stays part of the model name: Together's
  // meta-llama/Llama-3.3-70B-Instruct-Turbo at 0.88 per mtok both ways: 2000 × 0.88e-6 = 0.00176.
  auto together = deployment("together_ai", "my-llama");
  together.base_model = "meta-llama/Llama-3.3-70B-Instruct-Turbo";
  EXPECT_DOUBLE_EQ(cost_of(together, usage(1000, 1000)), 0.00176);
  // base_model wins over the deployment's own (priced) model: gpt-4o-mini's 0.15/0.6 per mtok
  // give 1000 × 0.15e-6 + 100 × 0.6e-6 = 0.00021.
  auto mini = deployment("openai", "gpt-4o");
  mini.base_model = "gpt-4o-mini";
  EXPECT_DOUBLE_EQ(cost_of(mini, usage(1000, 100)), 0.00021);
}

TEST(DeploymentPriceTest, MockCostsNothingUnlessPricedExplicitly) {
  // A mock never calls gpt-4o, so gpt-4o's list price does not apply.
  auto mock = deployment("openai", "gpt-4o");
  mock.mock_response = "hi";
  const DeploymentPrice free = DeploymentPrice::resolve(mock, table());
  EXPECT_TRUE(free.priced());
  EXPECT_EQ(free.cost(usage(1000, 100), kNow), 0.0);
  EXPECT_EQ(free.input_per_token(kNow), 0.0);
  // An operator pricing the mock: only the overrides count (2 output tokens × 2^-7 = 2^-6).
  mock.input_cost_per_token = 0;
  mock.output_cost_per_token = 0.0078125;
  EXPECT_EQ(cost_of(mock, usage(1000, 2)), 0.015625);
}

TEST(DeploymentPriceTest, UnknownModelIsUnpricedAndCostsNothing) {
  const DeploymentPrice p = DeploymentPrice::resolve(deployment("hosted_vllm", "my-finetune-7b"), table());
  EXPECT_FALSE(p.priced());
  EXPECT_EQ(p.cost(usage(1000, 100), kNow), 0.0);
  EXPECT_EQ(p.input_per_token(kNow), 0.0);
  EXPECT_EQ(p.output_per_token(kNow), 0.0);
  EXPECT_FALSE(DeploymentPrice{}.priced());
}

TEST(DeploymentPriceTest, InconsistentUsageNeverGoesNegative) {
  // More cache tokens than prompt tokens (a server counting them apart): no negative uncached
  // input; the cache tokens are charged as reported. gpt-4o: 300 × 1.25e-6 = 0.000375.
  EXPECT_DOUBLE_EQ(cost_of(deployment("openai", "gpt-4o"), usage(100, 0, 300)), 0.000375);
  EXPECT_EQ(cost_of(deployment("openai", "gpt-4o"), usage(-5, -5, -5, -5)), 0.0);
}

TEST(DeploymentPriceTest, TimeDependentPricesFollowTheRequestTime) {
  // deepseek-chat: 0.27 input per mtok from 00:30 to 16:30 UTC, 0.135 otherwise. One resolve,
  // two times: 1e6 prompt tokens → 0.27 vs 0.135.
  const DeploymentPrice p = DeploymentPrice::resolve(deployment("deepseek", "deepseek-chat"), table());
  const WallTime midnight = sys_days{year{2026} / month{8} / day{21}};
  EXPECT_DOUBLE_EQ(p.cost(usage(1'000'000, 0), midnight + hours{12}), 0.27);
  EXPECT_DOUBLE_EQ(p.cost(usage(1'000'000, 0), midnight + hours{20}), 0.135);
}

TEST(DeploymentPriceTest, EntriesKeepTheirTableAlive) {
  auto parsed = PriceTable::parse(R"([{"id": "acme", "models": [
      {"id": "m", "match": {"equals": "m"}, "prices": {"input_mtok": 1, "output_mtok": 2}}]}])");
  ASSERT_TRUE(parsed.table) << parsed.error;
  const DeploymentPrice p = DeploymentPrice::resolve(deployment("acme", "m"), *parsed.table);
  parsed.table.reset();
  // 1000 × 1e-6 + 1000 × 2e-6 = 0.003
  EXPECT_DOUBLE_EQ(p.cost(usage(1000, 1000), kNow), 0.003);
}

}  // namespace
}  // namespace tollgate::spend
