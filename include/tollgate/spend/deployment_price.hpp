#pragma once
// The price of one deployment, resolved once per config snapshot, and the exact cost of a request
// on it (docs/pricing.md). Sources, per side (input, output, cache read, cache write):
//   1. the deployment's own override (`input_cost_per_token`, `output_cost_per_token`,
//      `cache_read_input_token_cost`, `cache_creation_input_token_cost`), USD per token, flat;
//   2. the price table's entry for `model_info.base_model` when set (an optional provider prefix,
//      "azure/gpt-4o", selects the price-data provider), else for the deployment's provider and
//      model; tiered and time-dependent prices as the data has them.
// A `mock_response` deployment never calls a provider: it costs 0 unless it sets overrides, and
// then only those count (the table is not consulted).
//
// Thread safety: immutable after resolve(); call cost() from any thread. Keeps the price table's
// model entry alive (shared ownership), no reference to the Deployment.
#include <chrono>
#include <cstdint>
#include <optional>

#include "tollgate/core/clock.hpp"
#include "tollgate/spend/price_table.hpp"

namespace tollgate::config {
struct Deployment;
}
namespace tollgate::api {
struct Usage;
}

namespace tollgate::spend {

class DeploymentPrice {
 public:
  /// An unpriced deployment: priced() false, every cost 0.
  DeploymentPrice() = default;

  /// Looks `deployment` up in `table` once. Pure: logging and metrics are the caller's.
  static DeploymentPrice resolve(const config::Deployment& deployment, const PriceTable& table);

  /// Whether any price applies (a table entry, an override, or a mock's zero). An unpriced
  /// deployment's requests cost 0.
  bool priced() const { return priced_; }

  /// USD for one request with `usage`, at the prices in effect at `now`:
  ///   (prompt − cached − cache_write, never below 0) × input
  ///   + cached × cache_read + cache_write × cache_write + completion × output
  ///   + requests_kcount / 1000 when the upstream reported usage.
  /// completion_tokens already include reasoning tokens (counted once). Every rate takes the tier
  /// of the request's prompt_tokens (genai-prices' cliff model). A cache side without a price of
  /// its own is charged at the input rate.
  double cost(const api::Usage& usage, WallTime now = std::chrono::system_clock::now()) const;

  /// Base-tier USD per token, for worst-case reservations and cost-based routing; 0 when unpriced.
  double input_per_token(WallTime now = std::chrono::system_clock::now()) const;
  double output_per_token(WallTime now = std::chrono::system_clock::now()) const;
  /// The model's context window (max input tokens) from the price data, when it knows it.
  std::optional<std::int64_t> context_window(WallTime now = std::chrono::system_clock::now()) const;

 private:
  std::optional<ModelEntry> entry_;  // the table's model, when found (never for mocks)
  // The deployment's overrides, USD per token; each wins over the table for its side.
  std::optional<double> input_;
  std::optional<double> output_;
  std::optional<double> cache_read_;
  std::optional<double> cache_write_;
  bool priced_ = false;
};

}  // namespace tollgate::spend
