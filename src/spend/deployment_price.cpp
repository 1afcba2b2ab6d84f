#include "tollgate/spend/deployment_price.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "tollgate/config/config.hpp"
#include "tollgate/api/usage.hpp"

namespace tollgate::spend {
namespace {

constexpr double kPerMillion = 1e6;

using TableSide = std::optional<TokenPrice> ModelPrice::*;

// USD per token of one side for a request with `prompt_tokens` input tokens: the override, else
// the table's rate at that tier; nullopt when neither prices the side.
std::optional<double> rate(const std::optional<double>& override_per_token, const ModelPrice* table, TableSide side,
                           std::int64_t prompt_tokens) {
  if (override_per_token) return override_per_token;
  if (table == nullptr || !(table->*side)) return std::nullopt;
  return (table->*side)->rate_mtok(prompt_tokens) / kPerMillion;
}

// The table entry for `base_model` ("azure/gpt-4o", or "gpt-4o" under the deployment's own
// provider). A prefix the price data does not know as a provider stays part of the name
// ("meta-llama/Llama-3.3-70B-Instruct-Turbo" on together_ai).
std::optional<ModelEntry> find_base_model(const PriceTable& table, std::string_view provider, std::string_view base_model) {
  if (const auto slash = base_model.find('/'); slash != std::string_view::npos) {
    const std::string_view prefix = base_model.substr(0, slash);
    if (!table.provider_id_for(prefix).empty()) return table.find_entry(prefix, base_model.substr(slash + 1));
  }
  return table.find_entry(provider, base_model);
}

std::int64_t non_negative(std::int64_t n) { return std::max<std::int64_t>(0, n); }

}  // namespace

DeploymentPrice DeploymentPrice::resolve(const config::Deployment& d, const PriceTable& table) {
  DeploymentPrice p;
  p.input_ = d.input_cost_per_token;
  p.output_ = d.output_cost_per_token;
  p.cache_read_ = d.cache_read_input_token_cost;
  p.cache_write_ = d.cache_creation_input_token_cost;
  if (d.mock_response) {
    // A mock never calls a provider: list prices do not apply; explicit overrides do.
    p.priced_ = true;
    return p;
  }
  if (!d.base_model.empty()) p.entry_ = find_base_model(table, d.provider, d.base_model);
  if (!p.entry_) p.entry_ = table.find_entry(d.provider, d.model);
  p.priced_ = p.entry_ || p.input_ || p.output_ || p.cache_read_ || p.cache_write_;
  return p;
}

double DeploymentPrice::cost(const api::Usage& usage, WallTime now) const {
  if (!priced_) return 0;
  const ModelPrice* table = entry_ ? &entry_->at(now) : nullptr;
  const std::int64_t prompt = non_negative(usage.prompt_tokens);
  const std::int64_t cached = non_negative(usage.cached_prompt_tokens);
  const std::int64_t written = non_negative(usage.cache_write_tokens);
  const std::int64_t uncached = non_negative(prompt - cached - written);
  // OpenAI's completion_tokens include the reasoning tokens: they are output, priced once.
  const std::int64_t output = non_negative(usage.completion_tokens);

  const double input_rate = rate(input_, table, &ModelPrice::input, prompt).value_or(0.0);
  const double read_rate = rate(cache_read_, table, &ModelPrice::cache_read, prompt).value_or(input_rate);
  const double write_rate = rate(cache_write_, table, &ModelPrice::cache_write, prompt).value_or(input_rate);
  const double output_rate = rate(output_, table, &ModelPrice::output, prompt).value_or(0.0);
  double total = static_cast<double>(uncached) * input_rate + static_cast<double>(cached) * read_rate +
                 static_cast<double>(written) * write_rate + static_cast<double>(output) * output_rate;
  if (usage.present && table != nullptr && table->requests_kcount) total += *table->requests_kcount / 1000.0;
  return total;
}

double DeploymentPrice::input_per_token(WallTime now) const {
  const ModelPrice* table = entry_ ? &entry_->at(now) : nullptr;
  return rate(input_, table, &ModelPrice::input, 0).value_or(0.0);
}

double DeploymentPrice::output_per_token(WallTime now) const {
  const ModelPrice* table = entry_ ? &entry_->at(now) : nullptr;
  return rate(output_, table, &ModelPrice::output, 0).value_or(0.0);
}

std::optional<std::int64_t> DeploymentPrice::context_window(WallTime now) const {
  if (!entry_) return std::nullopt;
  return entry_->at(now).context_window;
}

std::optional<double> per_token_cost(const config::Deployment& deployment, const PriceTable& table, WallTime now) {
  const DeploymentPrice price = DeploymentPrice::resolve(deployment, table);
  if (!price.priced()) return std::nullopt;
  return price.input_per_token(now) + price.output_per_token(now);
}

}  // namespace tollgate::spend
