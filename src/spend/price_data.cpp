#include "spend/price_data.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <utility>

namespace tollgate::spend {
namespace detail {
namespace {

using nlohmann::json;
using std::chrono::seconds;

std::string index_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

// A value that is absent and one that is JSON null mean the same in this data.
const json* find_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

const std::string& string_field(const json& object, const char* key, const std::string& path) {
  const json* value = find_field(object, key);
  if (value == nullptr || !value->is_string()) throw DataError{path + "." + key + ": expected a string"};
  return value->get_ref<const std::string&>();
}

double number(const json& value, const std::string& path) {
  if (!value.is_number()) throw DataError{path + ": expected a number"};
  return value.get<double>();
}

// Reads an unsigned decimal field of exactly `width` digits at `pos`, advancing `pos`.
bool digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + width, out);
  if (ec != std::errc{} || end != s.data() + pos + width) return false;
  pos += width;
  return true;
}

bool literal(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

StartDate parse_date(const std::string& text, const std::string& path) {
  std::size_t pos = 0;
  int y = 0, m = 0, d = 0;
  if (digits(text, pos, 4, y) && literal(text, pos, '-') && digits(text, pos, 2, m) && literal(text, pos, '-') &&
      digits(text, pos, 2, d) && pos == text.size()) {
    std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                    std::chrono::day{static_cast<unsigned>(d)}};
    if (ymd.ok()) return StartDate{std::chrono::sys_days{ymd}};
  }
  throw DataError{path + ": expected a date YYYY-MM-DD, got \"" + text + "\""};
}

// ISO time of day: HH:MM[:SS[.fraction]] then Z or +HH:MM / -HH:MM (none = UTC). Returned in UTC.
seconds parse_time(const std::string& text, const std::string& path) {
  std::size_t pos = 0;
  int h = 0, m = 0, s = 0;
  bool ok = digits(text, pos, 2, h) && literal(text, pos, ':') && digits(text, pos, 2, m);
  if (ok && literal(text, pos, ':')) {
    ok = digits(text, pos, 2, s);
    if (ok && literal(text, pos, '.')) {
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;  // sub-second: ignored
    }
  }
  int offset = 0;
  if (ok && pos < text.size()) {
    if (text[pos] == 'Z') {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      const int sign = text[pos++] == '-' ? -1 : 1;
      int oh = 0, om = 0;
      ok = digits(text, pos, 2, oh) && literal(text, pos, ':') && digits(text, pos, 2, om);
      offset = sign * (oh * 3600 + om * 60);
    }
  }
  if (!ok || pos != text.size() || h > 23 || m > 59 || s > 60) {
    throw DataError{path + ": expected a time HH:MM:SS[Z], got \"" + text + "\""};
  }
  const int day = 24 * 3600;
  return seconds{((h * 3600 + m * 60 + s - offset) % day + day) % day};
}

Constraint parse_constraint(const json& c, const std::string& path) {
  if (!c.is_object()) throw DataError{path + ": expected an object"};
  if (c.contains("start_date")) return parse_date(string_field(c, "start_date", path), path + ".start_date");
  if (c.contains("start_time") || c.contains("end_time")) {
    return TimeOfDay{parse_time(string_field(c, "start_time", path), path + ".start_time"),
                     parse_time(string_field(c, "end_time", path), path + ".end_time")};
  }
  throw DataError{path + ": unknown constraint (expected start_date, or start_time and end_time)"};
}

TokenPrice parse_token_price(const json& value, const std::string& path) {
  if (value.is_number()) return TokenPrice{.base_mtok = value.get<double>()};
  if (!value.is_object()) throw DataError{path + ": expected a number or {base, tiers}"};
  const json* base = find_field(value, "base");
  const json* tiers = find_field(value, "tiers");
  if (base == nullptr || tiers == nullptr || !tiers->is_array()) {
    throw DataError{path + ": a tiered price needs base and tiers"};
  }
  TokenPrice price{.base_mtok = number(*base, path + ".base")};
  for (std::size_t i = 0; i < tiers->size(); ++i) {
    const json& tier = (*tiers)[i];
    const std::string tier_path = index_path(path + ".tiers", i);
    const json* start = tier.is_object() ? find_field(tier, "start") : nullptr;
    const json* rate = tier.is_object() ? find_field(tier, "price") : nullptr;
    if (start == nullptr || !start->is_number_integer() || rate == nullptr) {
      throw DataError{tier_path + ": a tier needs an integer start and a price"};
    }
    price.tiers.push_back({.start = start->get<std::int64_t>(), .price_mtok = number(*rate, tier_path + ".price")});
  }
  std::sort(price.tiers.begin(), price.tiers.end(),
            [](const PriceTier& a, const PriceTier& b) { return a.start < b.start; });
  return price;
}

ModelPrice parse_prices(const json& object, const std::string& path) {
  if (!object.is_object()) throw DataError{path + ": expected an object of prices"};
  ModelPrice price;
  for (const auto& [key, value] : object.items()) {
    const std::string key_path = path + "." + key;
    if (key == "requests_kcount") {
      price.requests_kcount = number(value, key_path);
    } else if (key == "input_mtok") {
      price.input = parse_token_price(value, key_path);
    } else if (key == "output_mtok") {
      price.output = parse_token_price(value, key_path);
    } else if (key == "cache_read_mtok") {
      price.cache_read = parse_token_price(value, key_path);
    } else if (key == "cache_write_mtok") {
      price.cache_write = parse_token_price(value, key_path);
    } else {
      // The schema allows further kinds (audio, image, video, text-only); keep them by name.
      price.other.emplace(key, parse_token_price(value, key_path));
    }
  }
  return price;
}

Model parse_model(const json& m, const std::string& provider_id, const std::string& path, std::size_t& bad_regexes) {
  if (!m.is_object()) throw DataError{path + ": expected an object"};
  Model model{.id = string_field(m, "id", path), .match = {}, .prices = {}};
  const json* match = find_field(m, "match");
  if (match == nullptr) throw DataError{path + ".match: missing"};
  model.match = MatchRule::parse(*match, path + ".match", bad_regexes);

  const json* prices = find_field(m, "prices");
  if (prices == nullptr) throw DataError{path + ".prices: missing"};
  if (prices->is_array()) {
    if (prices->empty()) throw DataError{path + ".prices: empty list"};
    for (std::size_t i = 0; i < prices->size(); ++i) {
      const json& conditional = (*prices)[i];
      const std::string item_path = index_path(path + ".prices", i);
      if (!conditional.is_object()) throw DataError{item_path + ": expected an object"};
      const json* constraint = find_field(conditional, "constraint");
      const json* variant_prices = find_field(conditional, "prices");
      if (variant_prices == nullptr) throw DataError{item_path + ".prices: missing"};
      model.prices.push_back({constraint ? parse_constraint(*constraint, item_path + ".constraint") : Constraint{},
                              parse_prices(*variant_prices, item_path + ".prices")});
    }
  } else {
    model.prices.push_back({Constraint{}, parse_prices(*prices, path + ".prices")});
  }

  std::optional<std::int64_t> context_window;
  if (const json* cw = find_field(m, "context_window"); cw != nullptr && cw->is_number_integer()) {
    context_window = cw->get<std::int64_t>();
  }
  for (auto& variant : model.prices) {
    variant.price.provider_id = provider_id;
    variant.price.model_id = model.id;
    variant.price.context_window = context_window;
  }
  return model;
}

Provider parse_provider(const json& p, const std::string& path, std::size_t& bad_regexes) {
  if (!p.is_object()) throw DataError{path + ": expected an object"};
  Provider provider{.id = string_field(p, "id", path)};
  if (const json* mm = find_field(p, "model_match")) {
    provider.model_match = MatchRule::parse(*mm, path + ".model_match", bad_regexes);
  }
  if (const json* pm = find_field(p, "provider_match")) {
    provider.provider_match = MatchRule::parse(*pm, path + ".provider_match", bad_regexes);
  }
  if (const json* fb = find_field(p, "fallback_model_providers")) {
    if (!fb->is_array()) throw DataError{path + ".fallback_model_providers: expected an array"};
    for (std::size_t i = 0; i < fb->size(); ++i) {
      if (!(*fb)[i].is_string()) throw DataError{index_path(path + ".fallback_model_providers", i) + ": expected a string"};
      provider.fallback_ids.push_back((*fb)[i].get<std::string>());
    }
  }
  const json* models = find_field(p, "models");
  if (models == nullptr || !models->is_array()) throw DataError{path + ".models: expected an array"};
  provider.models.reserve(models->size());
  for (std::size_t i = 0; i < models->size(); ++i) {
    provider.models.push_back(parse_model((*models)[i], provider.id, index_path(path + ".models", i), bad_regexes));
  }
  return provider;
}

}  // namespace

bool active(const Constraint& constraint, WallTime now) {
  using namespace std::chrono;
  const auto today = floor<days>(now);
  if (const auto* date = std::get_if<StartDate>(&constraint)) return today >= date->day;
  if (const auto* window = std::get_if<TimeOfDay>(&constraint)) {
    const auto time_of_day = duration_cast<seconds>(now - today);
    if (window->start <= window->end) return window->start <= time_of_day && time_of_day < window->end;
    return time_of_day >= window->start || time_of_day < window->end;
  }
  return true;
}

}  // namespace detail

std::unique_ptr<const PriceTable::Data> parse_price_data(const nlohmann::json& root) {
  if (!root.is_array()) throw detail::DataError{"$: expected an array of providers"};
  auto data = std::make_unique<PriceTable::Data>();
  data->providers.reserve(root.size());
  for (std::size_t i = 0; i < root.size(); ++i) {
    data->providers.push_back(detail::parse_provider(root[i], detail::index_path("$", i), data->bad_regexes));
    data->model_count += data->providers.back().models.size();
  }
  return data;
}

}  // namespace tollgate::spend
