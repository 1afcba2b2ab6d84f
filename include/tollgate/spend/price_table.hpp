#pragma once
// Model prices, from the genai-prices database (data/genai-prices, compiled into the binary) or an
// operator's file in the same format. Cost-based routing asks for a deployment's blended price per
// token; exact cost tracking (spend/deployment_price.hpp) looks a deployment's model up once as a
// ModelEntry and prices each request at the time it happens.
//
// Lookup follows genai-prices: the LiteLLM provider prefix of a deployment selects a price-data
// provider, then that provider's models are tried in data order against the lower-cased model
// name; the first model whose `match` rule accepts it wins, and the provider's
// `fallback_model_providers` (Azure -> OpenAI, Google -> Anthropic, ...) are tried after its own.
//
// Thread safety: a PriceTable is immutable after parse; share it as shared_ptr<const PriceTable>
// and call it from any thread. It keeps no references to its inputs.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/core/clock.hpp"

namespace tollgate::config {
struct Deployment;
}

namespace tollgate::spend {

namespace detail {
struct Model;  // one model of the price data with its time variants (src/spend/price_data.hpp)
}

/// From `start` input (prompt) tokens on, `price_mtok` applies.
struct PriceTier {
  std::int64_t start = 0;  // threshold in input tokens of the request
  double price_mtok = 0;   // USD per million tokens once the threshold is crossed

  bool operator==(const PriceTier&) const = default;
};

/// A price in USD per million tokens, flat or tiered by the request's input size. genai-prices
/// uses the "cliff" model: once a request's input tokens exceed a tier's start, that tier's rate
/// applies to all tokens of the priced kind, not just those above the threshold.
struct TokenPrice {
  double base_mtok = 0;          // rate below the first tier (the only rate when flat)
  std::vector<PriceTier> tiers;  // ascending by start; empty = flat

  /// The rate for a request with `input_tokens` input tokens (the highest tier it exceeds).
  double rate_mtok(std::int64_t input_tokens) const;
  bool operator==(const TokenPrice&) const = default;
};

/// A model's prices in effect at one time (time-dependent variants already resolved).
struct ModelPrice {
  std::string provider_id;                 // price-data provider that priced it ("aws")
  std::string model_id;                    // price-data model id ("gpt-4o")
  std::optional<TokenPrice> input;         // input_mtok: uncached text input
  std::optional<TokenPrice> output;        // output_mtok
  std::optional<TokenPrice> cache_read;    // cache_read_mtok
  std::optional<TokenPrice> cache_write;   // cache_write_mtok
  std::map<std::string, TokenPrice, std::less<>> other;  // any other *_mtok key (input_audio_mtok, ...)
  std::optional<double> requests_kcount;   // USD per thousand requests
  std::optional<std::int64_t> context_window;  // max input tokens, when the data knows it

  /// Base-tier USD per token; 0 when that kind is not priced.
  double input_per_token() const;
  double output_per_token() const;
};

/// One model of a table with all its time-dependent variants: found once, priced at any time.
/// Keeps its table alive; cheap to copy; immutable, so usable from any thread.
class ModelEntry {
 public:
  /// The prices in effect at `now` (what PriceTable::find answers for that time).
  const ModelPrice& at(WallTime now) const;

 private:
  friend class PriceTable;
  explicit ModelEntry(std::shared_ptr<const detail::Model> model) : model_(std::move(model)) {}
  std::shared_ptr<const detail::Model> model_;  // shares ownership of the table
};

class PriceTable : public std::enable_shared_from_this<PriceTable> {
 public:
  /// A table, or why there is none (`error` names the JSON path of the first problem).
  struct ParseResult {
    std::shared_ptr<const PriceTable> table;  // null on error
    std::string error;
  };

  /// Parses genai-prices `data_slim.json` (an array of providers). Never throws.
  static ParseResult parse(std::string_view json);

  /// The table compiled into the binary, parsed on first use (thread-safe) and shared after.
  /// Throws std::runtime_error only if the embedded data is broken, a build defect the unit
  /// tests catch. Parsing takes 6-10 ms (RelWithDebInfo, 1285 models, busy 2-core build machine).
  static std::shared_ptr<const PriceTable> embedded();

  /// Price of `model` (the deployment's name after the LiteLLM prefix) served by
  /// `litellm_provider` ("openai", "bedrock", "vertex_ai", ...), in effect at `now`. An unknown or
  /// self-hosted provider ("hosted_vllm", "ollama", ...) searches every provider: first those
  /// whose `model_match` accepts the name, then all, each in data order. A known provider never
  /// borrows another's price except through its data-declared fallbacks. nullopt when nothing
  /// matches. A linear scan: ~0.2 us for a hit early in a provider, ~15 us for a miss across all
  /// providers, so callers resolve deployments once per config snapshot, not per request.
  std::optional<ModelPrice> find(std::string_view litellm_provider, std::string_view model,
                                 WallTime now = std::chrono::system_clock::now()) const;

  /// The model find() would price from, with every time variant: for callers that look a
  /// deployment up once (per config snapshot) and price its requests at their own time.
  std::optional<ModelEntry> find_entry(std::string_view litellm_provider, std::string_view model) const;

  /// The price-data provider id a LiteLLM prefix maps to; empty when none (searched as unknown).
  std::string provider_id_for(std::string_view litellm_provider) const;

  std::size_t provider_count() const;
  std::size_t model_count() const;
  /// `regex` clauses skipped because std::regex (ECMAScript) would not compile them.
  std::size_t skipped_regex_count() const;

  ~PriceTable();
  PriceTable(const PriceTable&) = delete;
  PriceTable& operator=(const PriceTable&) = delete;

  struct Data;  // parsed providers and models (src/spend/price_data.hpp)

 private:
  explicit PriceTable(std::unique_ptr<const Data> data);

  std::unique_ptr<const Data> data_;
};

/// Blended USD per token (input + output) used by cost-based routing: the base input and output
/// rates of DeploymentPrice::resolve (overrides win per side, `model_info.base_model` is honoured,
/// a mock without overrides is free). nullopt when the deployment has no price at all.
std::optional<double> per_token_cost(const config::Deployment& deployment, const PriceTable& table,
                                     WallTime now = std::chrono::system_clock::now());

}  // namespace tollgate::spend
