#include "tollgate/core/duration.hpp"

#include <charconv>
#include <chrono>

namespace tollgate {
namespace {

using namespace std::chrono;

constexpr std::int64_t kMaxCount = 1'000'000;

std::int64_t add_months(std::int64_t from_ms, std::int64_t months) {
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(from_ms)));
  const milliseconds time_of_day = milliseconds(from_ms) - duration_cast<milliseconds>(day.time_since_epoch());
  year_month_day ymd{day};
  year_month_day target = ymd + std::chrono::months(months);
  if (!target.ok()) target = year_month_day_last(target.year(), month_day_last(target.month()));
  return duration_cast<milliseconds>(sys_days(target).time_since_epoch()).count() + time_of_day.count();
}

}  // namespace

std::int64_t fixed_duration_ms(const Duration& d) {
  switch (d.unit) {
    case Duration::Unit::kSeconds: return d.count * 1000;
    case Duration::Unit::kMinutes: return d.count * 60'000;
    case Duration::Unit::kHours: return d.count * 3'600'000;
    case Duration::Unit::kDays: return d.count * 86'400'000;
    case Duration::Unit::kWeeks: return d.count * 7 * 86'400'000;
    case Duration::Unit::kMonths: break;
  }
  return 0;
}

std::optional<Duration> parse_duration(std::string_view text) {
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || ptr == text.data() || n <= 0 || n > kMaxCount) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  Duration d{.count = n};
  if (unit == "s") {
    d.unit = Duration::Unit::kSeconds;
  } else if (unit == "m") {
    d.unit = Duration::Unit::kMinutes;
  } else if (unit == "h") {
    d.unit = Duration::Unit::kHours;
  } else if (unit == "d") {
    d.unit = Duration::Unit::kDays;
  } else if (unit == "w") {
    d.unit = Duration::Unit::kWeeks;
  } else if (unit == "mo") {
    d.unit = Duration::Unit::kMonths;
  } else {
    return std::nullopt;
  }
  return d;
}

std::int64_t add_duration(std::int64_t from_ms, const Duration& d) {
  if (d.unit == Duration::Unit::kMonths) return add_months(from_ms, d.count);
  return from_ms + fixed_duration_ms(d);
}

}  // namespace tollgate
