#include "config/load_context.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <utility>

namespace tollgate::config::detail {

void LoadContext::error(std::string path, std::string message) {
  errors_.push_back(Problem{std::move(path), std::move(message)});
}

void LoadContext::warn(std::string path, std::string message) {
  warnings_.push_back(Problem{std::move(path), std::move(message)});
}

std::optional<std::string> LoadContext::env(const std::string& name) const {
  if (auto it = overlay_.find(name); it != overlay_.end()) return it->second;
  return env_ ? env_(name) : std::nullopt;
}

std::optional<std::string> LoadContext::take_unset(const std::string& path) {
  auto it = unset_.find(path);
  if (it == unset_.end()) return std::nullopt;
  std::string var = std::move(it->second);
  unset_.erase(it);
  return var;
}

void LoadContext::drop_unset_under(const std::string& path) {
  // "model_list[1]" must not swallow "model_list[10]": only the path itself or a child path.
  std::erase_if(unset_, [&](const auto& entry) {
    const std::string& p = entry.first;
    if (!p.starts_with(path)) return false;
    return p.size() == path.size() || p[path.size()] == '.' || p[path.size()] == '[';
  });
}

void LoadContext::report_unclaimed_unset() {
  for (auto& [path, var] : unset_) error(path, "environment variable " + var + " is not set");
  unset_.clear();
}

std::string join_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out;
  out.reserve(parent.size() + 1 + key.size());
  out.append(parent).append(".").append(key);
  return out;
}

std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "a map";
    case Json::value_t::array: return "a list";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

Section::Section(const Json& obj, std::string path, LoadContext& ctx) : path_(std::move(path)), ctx_(ctx) {
  if (obj.is_object()) {
    obj_ = &obj;
  } else if (!obj.is_null()) {
    ctx_.error(path_, "expected a map, got " + describe(obj));
  }
}

const Json* Section::get(std::string_view key) const {
  if (obj_ == nullptr) return nullptr;
  auto it = obj_->find(key);
  if (it == obj_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> Section::string(std::string_view key) const {
  const Json* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    ctx_.error(path_of(key), "expected a string, got " + describe(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::string> Section::required_string(std::string_view key) const {
  if (obj_ == nullptr) return std::nullopt;
  auto s = string(key);
  if (!s && get(key) == nullptr && !ctx_.is_unset(path_of(key))) ctx_.error(path_of(key), "required");
  if (s && s->empty()) {
    ctx_.error(path_of(key), "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> Section::boolean(std::string_view key) const {
  const Json* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string() && ctx_.is_from_env(path_of(key))) {
    if (auto b = parse_bool_text(v->get_ref<const std::string&>())) return b;
  }
  ctx_.error(path_of(key), "expected true or false, got " + describe(*v));
  return std::nullopt;
}

std::optional<double> Section::as_number(std::string_view key, const Json& value) const {
  if (value.is_number()) return value.get<double>();
  // A variable's value is text; `timeout: os.environ/TIMEOUT` with TIMEOUT=30 is a number.
  if (value.is_string() && ctx_.is_from_env(path_of(key))) {
    if (auto d = parse_float(value.get_ref<const std::string&>())) return d;
  }
  ctx_.error(path_of(key), "expected a number, got " + describe(value));
  return std::nullopt;
}

std::optional<double> Section::number(std::string_view key) const {
  const Json* v = get(key);
  if (v == nullptr) return std::nullopt;
  auto d = as_number(key, *v);
  if (d && !std::isfinite(*d)) {
    ctx_.error(path_of(key), "expected a finite number");
    return std::nullopt;
  }
  return d;
}

std::optional<std::int64_t> Section::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  const Json* v = get(key);
  if (v == nullptr) return std::nullopt;
  std::optional<std::int64_t> n;
  if (v->is_number_integer() && !(v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX)) {
    n = v->get<std::int64_t>();
  } else if (v->is_string() && ctx_.is_from_env(path_of(key))) {
    n = parse_int(v->get_ref<const std::string&>());
  }
  if (!n) {
    ctx_.error(path_of(key), "expected an integer, got " + describe(*v));
    return std::nullopt;
  }
  if (*n < min || *n > max) {
    ctx_.error(path_of(key), "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                 ", got " + std::to_string(*n));
    return std::nullopt;
  }
  return n;
}

std::optional<std::chrono::milliseconds> Section::seconds(std::string_view key) const {
  return duration(key, false);
}

std::optional<std::chrono::milliseconds> Section::seconds_or_zero(std::string_view key) const {
  return duration(key, true);
}

std::optional<std::chrono::milliseconds> Section::duration(std::string_view key, bool zero_ok) const {
  // Upper bound keeps the millisecond count far from overflow; nobody means a century.
  constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;
  const Json* v = get(key);
  if (v == nullptr) return std::nullopt;
  auto d = as_number(key, *v);
  if (!d) return std::nullopt;
  bool in_range = zero_ok ? *d >= 0 : *d > 0;
  if (!in_range || !std::isfinite(*d) || *d > kMaxSeconds) {
    // JSON has no infinity (dump() would say "null"); show what the operator wrote.
    std::string got = std::isfinite(*d) ? v->dump() : std::isnan(*d) ? ".nan" : *d > 0 ? ".inf" : "-.inf";
    ctx_.error(path_of(key), std::string(zero_ok ? "must be a number of seconds >= 0" : "must be a positive number of seconds") +
                                 ", got " + got);
    return std::nullopt;
  }
  if (*d == 0) return std::chrono::milliseconds(0);
  auto ms = static_cast<std::int64_t>(std::llround(*d * 1000.0));
  return std::chrono::milliseconds(std::max<std::int64_t>(ms, 1));
}

std::optional<double> Section::bounded_number(std::string_view key, double min, bool inclusive) const {
  auto d = number(key);
  if (!d) return std::nullopt;
  if (inclusive ? *d >= min : *d > min) return d;
  std::ostringstream msg;
  msg << "must be " << (inclusive ? ">= " : "> ") << min << ", got " << *d;
  ctx_.error(path_of(key), msg.str());
  return std::nullopt;
}

std::optional<double> Section::number_at_least(std::string_view key, double min) const {
  return bounded_number(key, min, true);
}

std::optional<double> Section::number_above(std::string_view key, double min) const {
  return bounded_number(key, min, false);
}

std::optional<std::vector<std::string>> Section::string_list(std::string_view key, bool one_string_ok) const {
  const Json* v = get(key);
  if (v == nullptr) return std::nullopt;
  const std::string path = path_of(key);
  if (v->is_string() && one_string_ok) {
    if (v->get_ref<const std::string&>().empty()) {
      ctx_.error(path, "must not be empty");
      return std::nullopt;
    }
    return std::vector<std::string>{v->get<std::string>()};
  }
  if (!v->is_array()) {
    ctx_.error(path, std::string(one_string_ok ? "expected a string or a list of strings, got "
                                               : "expected a list of strings, got ") + describe(*v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const Json& item = (*v)[i];
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (item.is_null() && ctx_.is_unset(item_path)) continue;
    if (!item.is_string()) {
      ctx_.error(item_path, "expected a string, got " + describe(item));
      ok = false;
    } else if (item.get_ref<const std::string&>().empty()) {
      ctx_.error(item_path, "must not be empty");
      ok = false;
    } else {
      out.push_back(item.get<std::string>());
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

void Section::check_keys(std::span<const std::string_view> handled,
                         std::span<const std::string_view> accepted) const {
  if (obj_ == nullptr) return;
  auto in = [](std::span<const std::string_view> list, const std::string& k) {
    return std::find(list.begin(), list.end(), k) != list.end();
  };
  for (const auto& [key, value] : obj_->items()) {
    if (in(handled, key) || in(accepted, key)) continue;
    ctx_.warn(path_of(key), "unknown key, ignored");
    ctx_.drop_unset_under(path_of(key));
  }
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_float(std::string_view text) {
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return std::nan("");
  // YAML's float grammar, checked by hand: from_chars alone would also take "inf", "nan", hex.
  std::size_t i = 0, digits = 0;
  while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  // from_chars rejects a leading '+' and exponent-only '+', so feed it the validated body.
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Overflow or underflow: strtod gives the saturated or denormal/zero value (digits only here,
    // so the locale's decimal point cannot matter beyond '.', which the C locale uses).
    value = std::strtod(std::string(body).c_str(), nullptr);
    return negative ? -value : value;
  }
  if (ec != std::errc{} || end != body.data() + body.size()) return std::nullopt;
  return negative ? -value : value;
}

std::optional<bool> parse_bool_text(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  return std::nullopt;
}

}  // namespace tollgate::config::detail
