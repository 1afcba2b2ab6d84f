#include "tollgate/auth/budget_window.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace tollgate::auth {

using namespace std::chrono;

std::int64_t current_window_end(std::int64_t end_ms, const Duration& d, std::int64_t now_ms) {
  if (now_ms < end_ms) return end_ms;
  if (d.unit != Duration::Unit::kMonths) {
    const std::int64_t step = fixed_duration_ms(d);
    return end_ms + ((now_ms - end_ms) / step + 1) * step;
  }
  std::int64_t next = end_ms;
  // Months: step from the original boundary so clamping (Jan 31 -> Feb 28) does not drift.
  for (std::int64_t k = 1; next <= now_ms; ++k) next = add_duration(end_ms, Duration{.count = k * d.count, .unit = Duration::Unit::kMonths});
  return next;
}

std::string iso8601(std::int64_t unix_ms) {
  const sys_time<milliseconds> t{milliseconds(unix_ms)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::optional<std::int64_t> parse_iso8601(std::string_view text) {
  int y = 0;
  unsigned mo = 0, d = 0;
  int h = 0, mi = 0, s = 0, frac = 0, consumed = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2u-%2uT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 3) frac = frac * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    for (; digits < 3; ++digits) frac *= 10;
  }
  if (!(rest.empty() || rest == "Z" || rest == "+00:00")) return std::nullopt;
  const year_month_day ymd{year(y), month(mo), day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + milliseconds(frac);
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

}  // namespace tollgate::auth
