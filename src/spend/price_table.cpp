#include "tollgate/spend/price_table.hpp"
#include "tollgate/api/json_read.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <span>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "spend/price_data.hpp"

namespace tollgate::spend {
namespace detail {
// Defined in the file CMake generates from data/genai-prices/data_slim.json (cmake/EmbedFile.cmake).
std::span<const std::string_view> embedded_price_data();
}  // namespace detail

namespace {

using detail::Model;
using detail::Provider;

// LiteLLM provider prefixes and the price-data provider each one bills as. Prefixes not listed
// fall back to the data's own ids and `provider_match` rules (which already know e.g. "xai").
struct ProviderAlias {
  std::string_view litellm;
  std::string_view price_id;
};
constexpr ProviderAlias kProviderAliases[] = {
    {"openai", "openai"},         {"text-completion-openai", "openai"}, {"anthropic", "anthropic"},
    {"azure", "azure"},           {"azure_ai", "azure"},                {"azure_text", "azure"},
    {"gemini", "google"},         {"vertex_ai", "google"},              {"vertex_ai_beta", "google"},
    {"bedrock", "aws"},           {"groq", "groq"},                     {"mistral", "mistral"},
    {"codestral", "mistral"},     {"text-completion-codestral", "mistral"}, {"deepseek", "deepseek"},
    {"together_ai", "together"},  {"fireworks_ai", "fireworks"},        {"openrouter", "openrouter"},
    {"xai", "x-ai"},              {"perplexity", "perplexity"},         {"cohere", "cohere"},
    {"cohere_chat", "cohere"},    {"cerebras", "cerebras"},             {"moonshot", "moonshotai"},
    {"novita", "novita"},         {"voyage", "voyageai"},               {"zai", "zhipuai"},
    {"minimax", "minimax"},       {"ovhcloud", "ovhcloud"},
};

// Prefixes for servers the operator runs (or proxies to) that have no list price of their own:
// searched like an unknown provider, and never resolved through `provider_match` (which would
// read "custom_openai" as OpenAI).
constexpr std::string_view kSelfHosted[] = {
    "hosted_vllm", "vllm", "ollama", "ollama_chat", "lm_studio", "llamafile",
    "openai_like", "custom_openai", "custom", "litellm_proxy", "xinference", "triton",
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

const Provider* by_id(const PriceTable::Data& data, std::string_view id) {
  auto it = std::find_if(data.providers.begin(), data.providers.end(),
                         [&](const Provider& p) { return p.id == id; });
  return it == data.providers.end() ? nullptr : &*it;
}

// genai-prices' find_provider_by_id, after Tollgate's alias table.
const Provider* resolve_provider(const PriceTable::Data& data, std::string_view litellm_provider) {
  const std::string id = lower(litellm_provider);
  if (id.empty() || std::find(std::begin(kSelfHosted), std::end(kSelfHosted), id) != std::end(kSelfHosted)) {
    return nullptr;
  }
  for (const auto& alias : kProviderAliases) {
    if (alias.litellm != id) continue;
    if (const Provider* p = by_id(data, alias.price_id)) return p;
  }
  if (const Provider* p = by_id(data, id)) return p;
  for (const Provider& p : data.providers) {
    if (p.provider_match && p.provider_match->matches(id)) return &p;
  }
  return nullptr;
}

const Model* find_in(const Provider& provider, std::string_view name) {
  for (const Model& m : provider.models) {
    if (m.match.matches(name)) return &m;
  }
  return nullptr;
}

// The provider's own models, then those of its fallback providers (one level, as genai-prices).
const Model* find_with_fallbacks(const PriceTable::Data& data, const Provider& provider, std::string_view name) {
  if (const Model* m = find_in(provider, name)) return m;
  for (const std::string& fallback_id : provider.fallback_ids) {
    const Provider* fallback = by_id(data, fallback_id);
    if (fallback == nullptr) continue;
    if (const Model* m = find_in(*fallback, name)) return m;
  }
  return nullptr;
}

const Model* find_anywhere(const PriceTable::Data& data, std::string_view name) {
  for (const Provider& p : data.providers) {
    if (!p.model_match || !p.model_match->matches(name)) continue;
    if (const Model* m = find_with_fallbacks(data, p, name)) return m;
  }
  for (const Provider& p : data.providers) {
    if (const Model* m = find_in(p, name)) return m;
  }
  return nullptr;
}

// The model a deployment's name prices as, under the lookup rules in price_table.hpp.
const Model* lookup(const PriceTable::Data& data, std::string_view litellm_provider, std::string_view model) {
  const std::string name = lower(model);
  const Provider* provider = resolve_provider(data, litellm_provider);
  return provider ? find_with_fallbacks(data, *provider, name) : find_anywhere(data, name);
}

// Later variants take precedence; when none applies, the first one does (genai-prices semantics).
const ModelPrice& price_at(const Model& model, WallTime now) {
  for (auto it = model.prices.rbegin(); it != model.prices.rend(); ++it) {
    if (detail::active(it->constraint, now)) return it->price;
  }
  return model.prices.front().price;
}

double base_per_token(const std::optional<TokenPrice>& price) { return price ? price->base_mtok / 1e6 : 0.0; }

}  // namespace

double TokenPrice::rate_mtok(std::int64_t input_tokens) const {
  double rate = base_mtok;
  for (const PriceTier& tier : tiers) {
    if (input_tokens > tier.start) rate = tier.price_mtok;
  }
  return rate;
}

double ModelPrice::input_per_token() const { return base_per_token(input); }
double ModelPrice::output_per_token() const { return base_per_token(output); }

PriceTable::PriceTable(std::unique_ptr<const Data> data) : data_(std::move(data)) {}
PriceTable::~PriceTable() = default;

PriceTable::ParseResult PriceTable::parse(std::string_view json) {
  const auto root = api::read_json_lenient(json);
  if (root.is_discarded()) return {nullptr, "price data is not valid JSON"};
  try {
    return {std::shared_ptr<const PriceTable>(new PriceTable(parse_price_data(root))), {}};
  } catch (const detail::DataError& e) {
    return {nullptr, e.message};
  }
}

std::shared_ptr<const PriceTable> PriceTable::embedded() {
  static std::once_flag once;
  static std::shared_ptr<const PriceTable> table;
  std::call_once(once, [] {
    std::string json;
    for (std::string_view chunk : detail::embedded_price_data()) json += chunk;
    auto result = parse(json);
    if (!result.table) throw std::runtime_error("embedded price data: " + result.error);
    table = std::move(result.table);
  });
  return table;
}

std::optional<ModelPrice> PriceTable::find(std::string_view litellm_provider, std::string_view model,
                                           WallTime now) const {
  const Model* found = lookup(*data_, litellm_provider, model);
  if (found == nullptr) return std::nullopt;
  return price_at(*found, now);
}

std::optional<ModelEntry> PriceTable::find_entry(std::string_view litellm_provider, std::string_view model) const {
  const Model* found = lookup(*data_, litellm_provider, model);
  if (found == nullptr) return std::nullopt;
  // Aliasing: the entry points at the model and owns (a share of) the table it lives in.
  return ModelEntry(std::shared_ptr<const Model>(shared_from_this(), found));
}

const ModelPrice& ModelEntry::at(WallTime now) const { return price_at(*model_, now); }

std::string PriceTable::provider_id_for(std::string_view litellm_provider) const {
  const Provider* provider = resolve_provider(*data_, litellm_provider);
  return provider ? provider->id : std::string{};
}

std::size_t PriceTable::provider_count() const { return data_->providers.size(); }
std::size_t PriceTable::model_count() const { return data_->model_count; }
std::size_t PriceTable::skipped_regex_count() const { return data_->bad_regexes; }

}  // namespace tollgate::spend
