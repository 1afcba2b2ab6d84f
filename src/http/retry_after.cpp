#include "tollgate/http/retry_after.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <string>

namespace tollgate::http {
namespace {

using std::chrono::milliseconds;

constexpr double kMaxWaitMs = 86'400'000.0;  // one day

std::string_view trimmed(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return value;
}

// The whole of `value` as a non-negative number, or nullopt.
std::optional<double> number(std::string_view value) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(out) || out < 0) return std::nullopt;
  return out;
}

std::optional<milliseconds> capped_ms(double ms) {
  if (!std::isfinite(ms) || ms < 0 || ms > kMaxWaitMs) return std::nullopt;
  return milliseconds(static_cast<std::int64_t>(ms));
}

std::optional<std::int64_t> parse_http_date(std::string_view value) {
  // IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form every provider sends.
  std::tm tm{};
  std::string copy(value);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::optional<milliseconds> until(double when_unix_s, std::int64_t now_unix_s) {
  if (!(when_unix_s > static_cast<double>(now_unix_s))) return std::nullopt;
  return capped_ms((when_unix_s - static_cast<double>(now_unix_s)) * 1000.0);
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s) {
  value = trimmed(value);
  if (value.empty()) return std::nullopt;
  if (auto seconds = number(value)) return capped_ms(*seconds * 1000.0);
  auto when = parse_http_date(value);
  if (!when || *when <= now_unix_s) return std::nullopt;
  return milliseconds((*when - now_unix_s) * 1000);
}

std::optional<milliseconds> parse_retry_after_ms(std::string_view value) {
  value = trimmed(value);
  auto ms = number(value);
  return ms ? capped_ms(*ms) : std::nullopt;
}

std::optional<milliseconds> parse_reset_duration(std::string_view value) {
  if (value.empty()) return std::nullopt;
  double total_ms = 0;
  const char* p = value.data();
  const char* end = p + value.size();
  bool any = false;
  while (p < end) {
    double n = 0;
    auto [next, ec] = std::from_chars(p, end, n);
    if (ec != std::errc() || !std::isfinite(n) || n < 0) return std::nullopt;
    p = next;
    std::string_view unit(p, static_cast<std::size_t>(end - p));
    double scale = 1000;  // bare number: seconds
    std::size_t len = 0;
    if (unit.starts_with("ms")) {
      scale = 1, len = 2;
    } else if (unit.starts_with("h")) {
      scale = 3'600'000, len = 1;
    } else if (unit.starts_with("m")) {
      scale = 60'000, len = 1;
    } else if (unit.starts_with("s")) {
      scale = 1000, len = 1;
    } else if (!unit.empty()) {
      return std::nullopt;
    }
    p += len;
    total_ms += n * scale;
    any = true;
  }
  if (!any) return std::nullopt;
  return capped_ms(total_ms);
}

std::optional<milliseconds> parse_reset_instant(std::string_view value, std::int64_t now_unix_s) {
  value = trimmed(value);
  std::tm tm{};
  std::string copy(value);
  const char* p = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == nullptr) return std::nullopt;
  double when = static_cast<double>(timegm(&tm));
  if (*p == '.') {
    ++p;
    const char* digits = p;
    double scale = 0.1;
    for (; *p >= '0' && *p <= '9'; ++p, scale /= 10) when += (*p - '0') * scale;
    if (p == digits) return std::nullopt;
  }
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if ((*p == '+' || *p == '-') && std::strlen(p) == 6 && p[3] == ':') {
    int hours = 0, minutes = 0;
    if (std::from_chars(p + 1, p + 3, hours).ec != std::errc() || std::from_chars(p + 4, p + 6, minutes).ec != std::errc()) {
      return std::nullopt;
    }
    const double offset = hours * 3600.0 + minutes * 60.0;
    when += *p == '+' ? -offset : offset;  // local time ahead of UTC: UTC is earlier
    p += 6;
  } else {
    return std::nullopt;
  }
  if (*p != '\0') return std::nullopt;
  return until(when, now_unix_s);
}

}  // namespace tollgate::http
