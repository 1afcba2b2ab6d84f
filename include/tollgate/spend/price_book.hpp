#pragma once
// Every deployment's price, resolved once per config snapshot whether or not a master key is set
// (spend::DeploymentPrice; docs/pricing.md): the one place a request's cost is computed, the
// counterfactual cost on general_settings.baseline_model, and what a request reserves against
// budgets before its answer is known (docs/limits.md, "What a request reserves").
//
// Thread safety: immutable but for the observed-output averages (relaxed atomics), so shared by
// every worker through the snapshot.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "tollgate/api/usage.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/spend/deployment_price.hpp"

namespace tollgate::spend {

/// Base-tier USD per token of one deployment (override, else the price table; 0 when unpriced).
struct TokenRates {
  double input = 0;
  double output = 0;
};

/// What a group's deployments accept as output (model_info.max_output_tokens; the context window
/// from model_info.max_input_tokens or the price data). nullopt when any deployment's is unknown.
struct OutputBound {
  std::optional<std::int64_t> max_output;  // the largest max_tokens any deployment of the group takes
  std::optional<std::int64_t> context;     // the largest context window among them
};

/// Output tokens reserved for a request without max_tokens: twice the completion size the group's
/// deployments have been answering with (a moving average), never below this...
inline constexpr std::int64_t kMinReservedOutputTokens = 256;
/// ...and never above the reservation cap. Before any answer, the average starts here.
inline constexpr std::int64_t kInitialObservedOutputTokens = 256;
/// The most output a reservation assumes when no deployment limit bounds it.
inline constexpr std::int64_t kMaxReservedOutputTokens = 262'144;

class PriceBook {
 public:
  explicit PriceBook(const config::Config& config);

  /// The request's cost on deployment `route_index` (DeploymentPrice::cost; 0 when the deployment
  /// has no price).
  double cost(std::size_t route_index, const api::Usage& usage) const;
  /// What `usage` would have cost on general_settings.baseline_model (a model group of this
  /// config, else a provider/model the price table knows); `actual` when no baseline is set.
  double counterfactual_cost(const api::Usage& usage, double actual) const;
  /// Whether deployment `route_index` has a price (see DeploymentPrice::priced).
  bool priced(std::size_t route_index) const;
  /// Worst case over `routes` (a group's deployments): the dearest input and output rates.
  TokenRates worst_rates(const std::vector<std::size_t>& routes) const;
  /// The output limits of a group (`routes`: its deployments).
  OutputBound output_bound(const std::vector<std::size_t>& routes) const;
  /// Output tokens to reserve for a request on `routes`: `max_tokens` when given, else the
  /// observed estimate; either capped by the group's output limit and by its context window less
  /// the prompt.
  std::int64_t reserved_output(const std::vector<std::size_t>& routes, std::optional<std::int64_t> max_tokens,
                               std::int64_t prompt_estimate) const;
  /// Feeds a finished answer's completion tokens on `route_index` into its moving average.
  /// Lock-free; callable from any worker.
  void observe_output(std::size_t route_index, std::int64_t completion_tokens) const;

 private:
  std::vector<DeploymentPrice> prices_;       // by route index
  std::vector<OutputBound> output_limits_;    // by route index: that deployment's own limits
  // By route index: moving average of completion tokens (observe_output). Mutable statistics in
  // an otherwise immutable snapshot; a reload starts them again.
  std::unique_ptr<std::atomic<std::int64_t>[]> observed_output_;
  std::optional<DeploymentPrice> baseline_;  // general_settings.baseline_model's price
};

}  // namespace tollgate::spend
