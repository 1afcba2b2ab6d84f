#include "db/session.hpp"

#include <charconv>
#include <chrono>
#include <type_traits>

namespace tollgate::db {
namespace {

template <class N>
N parse_number(const std::string& s) {
  N out{};
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  (void)ptr;
  return ec == std::errc() ? out : N{};
}

template <class N>
N to_number(const Value& v) {
  return std::visit(
      [](const auto& x) -> N {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::monostate>) {
          return N{};
        } else if constexpr (std::is_same_v<X, std::string>) {
          return parse_number<N>(x);
        } else {
          return static_cast<N>(x);
        }
      },
      v);
}

}  // namespace

std::int64_t as_int(const Value& v) { return to_number<std::int64_t>(v); }

double as_double(const Value& v) { return to_number<double>(v); }

std::string as_text(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);  // shortest text that reads back exactly
    return ec == std::errc() ? std::string(buf, end) : std::string();
  }
  return {};
}

bool is_null(const Value& v) { return std::holds_alternative<std::monostate>(v); }


}  // namespace tollgate::db
