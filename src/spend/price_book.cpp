#include "tollgate/spend/price_book.hpp"

#include <algorithm>
#include <chrono>

#include "tollgate/spend/price_table.hpp"

namespace tollgate::spend {

PriceBook::PriceBook(const config::Config& config) {
  const auto table = PriceTable::embedded();
  const std::size_t n = config.model_list.size();
  prices_.reserve(n);
  output_limits_.reserve(n);
  observed_output_ = std::make_unique<std::atomic<std::int64_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) {
    const config::Deployment& d = config.model_list[i];
    prices_.push_back(DeploymentPrice::resolve(d, *table));
    output_limits_.push_back({.max_output = d.max_output_tokens,
                              .context = d.max_input_tokens ? d.max_input_tokens : prices_.back().context_window()});
    observed_output_[i].store(kInitialObservedOutputTokens, std::memory_order_relaxed);
  }
  const std::string& baseline = config.spend.baseline_model;
  if (baseline.empty()) return;
  for (std::size_t i = 0; i < config.model_list.size() && !baseline_; ++i) {
    if (config.model_list[i].model_name == baseline) baseline_ = prices_[i];
  }
  if (baseline_) return;
  // Not a model group of this config: a provider/model the price table knows.
  config::Deployment named;
  const auto slash = baseline.find('/');
  named.provider = slash == std::string::npos ? std::string() : baseline.substr(0, slash);
  named.model = slash == std::string::npos ? baseline : baseline.substr(slash + 1);
  DeploymentPrice price = DeploymentPrice::resolve(named, *table);
  if (price.priced()) baseline_ = std::move(price);
}

double PriceBook::counterfactual_cost(const api::Usage& usage, double actual) const {
  return baseline_ ? baseline_->cost(usage) : actual;
}

double PriceBook::cost(std::size_t route_index, const api::Usage& usage) const {
  return route_index < prices_.size() ? prices_[route_index].cost(usage) : 0.0;
}

bool PriceBook::priced(std::size_t route_index) const {
  return route_index < prices_.size() && prices_[route_index].priced();
}

TokenRates PriceBook::worst_rates(const std::vector<std::size_t>& routes) const {
  TokenRates worst;
  const WallTime now = std::chrono::system_clock::now();
  for (std::size_t i : routes) {
    if (i >= prices_.size()) continue;
    worst.input = std::max(worst.input, prices_[i].input_per_token(now));
    worst.output = std::max(worst.output, prices_[i].output_per_token(now));
  }
  return worst;
}

OutputBound PriceBook::output_bound(const std::vector<std::size_t>& routes) const {
  // The largest limit among the deployments (the request may land on any of them); unknown as
  // soon as one deployment's is unknown.
  auto widest = [&](std::optional<std::int64_t> OutputBound::*side) -> std::optional<std::int64_t> {
    std::optional<std::int64_t> out;
    for (std::size_t i : routes) {
      if (i >= output_limits_.size() || !(output_limits_[i].*side)) return std::nullopt;
      out = std::max(out.value_or(0), *(output_limits_[i].*side));
    }
    return out;
  };
  return {.max_output = widest(&OutputBound::max_output), .context = widest(&OutputBound::context)};
}

std::int64_t PriceBook::reserved_output(const std::vector<std::size_t>& routes, std::optional<std::int64_t> max_tokens,
                                   std::int64_t prompt_estimate) const {
  std::int64_t cap = kMaxReservedOutputTokens;
  const OutputBound bound = output_bound(routes);
  if (bound.max_output) cap = std::min(cap, *bound.max_output);
  if (bound.context) cap = std::min(cap, std::max<std::int64_t>(1, *bound.context - prompt_estimate));
  if (max_tokens) return std::min(*max_tokens, cap);
  std::int64_t observed = 0;
  for (std::size_t i : routes) {
    if (i < output_limits_.size()) observed = std::max(observed, observed_output_[i].load(std::memory_order_relaxed));
  }
  return std::min(cap, std::max(kMinReservedOutputTokens, 2 * observed));
}

void PriceBook::observe_output(std::size_t route_index, std::int64_t completion_tokens) const {
  if (route_index >= output_limits_.size() || completion_tokens < 0) return;
  // avg += (x - avg) / 8. Two workers racing may lose one sample; an estimate tolerates that.
  std::atomic<std::int64_t>& avg = observed_output_[route_index];
  const std::int64_t old = avg.load(std::memory_order_relaxed);
  const std::int64_t x = std::min(completion_tokens, kMaxReservedOutputTokens);
  avg.store(old + (x - old) / 8, std::memory_order_relaxed);
}

}  // namespace tollgate::spend
