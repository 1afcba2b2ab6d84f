#pragma once
// Module-private: the parsed genai-prices data behind a PriceTable, and its parser.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "spend/match_rule.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/spend/price_table.hpp"

namespace tollgate::spend {
namespace detail {

struct StartDate {
  std::chrono::sys_days day;  // the price applies from this UTC date on
};
struct TimeOfDay {
  std::chrono::seconds start;  // UTC seconds since midnight, inclusive
  std::chrono::seconds end;    // exclusive; before `start` means the interval wraps midnight
};
using Constraint = std::variant<std::monostate, StartDate, TimeOfDay>;

/// Whether a price variant applies at `now` (monostate: always).
bool active(const Constraint& constraint, WallTime now);

struct PriceVariant {
  Constraint constraint;
  ModelPrice price;  // provider_id and model_id filled in
};

struct Model {
  std::string id;
  MatchRule match;
  std::vector<PriceVariant> prices;  // data order; a plain price object is one unconstrained variant
};

struct Provider {
  std::string id;
  std::optional<MatchRule> model_match;     // names this provider serves, for unknown providers
  std::optional<MatchRule> provider_match;  // provider identifiers that mean this provider
  std::vector<std::string> fallback_ids;    // fallback_model_providers
  std::vector<Model> models;
};

}  // namespace detail

struct PriceTable::Data {
  std::vector<detail::Provider> providers;  // data order
  std::size_t model_count = 0;
  std::size_t bad_regexes = 0;
};

/// Builds the table data from the parsed JSON document; throws detail::DataError with a path.
std::unique_ptr<const PriceTable::Data> parse_price_data(const nlohmann::json& root);

}  // namespace tollgate::spend
