#pragma once
// LiteLLM's duration strings: "<n>s", "<n>m", "<n>h", "<n>d", "<n>w" or "<n>mo" (calendar months,
// UTC), as used by `duration`, `budget_duration` and `maximum_spend_logs_retention_period`.
//
// Thread safety: pure functions.
#include <cstdint>
#include <optional>
#include <string_view>

namespace tollgate {

struct Duration {
  std::int64_t count = 0;
  enum class Unit { kSeconds, kMinutes, kHours, kDays, kWeeks, kMonths } unit = Unit::kSeconds;
  bool operator==(const Duration&) const = default;
};

/// nullopt when the text is not a positive duration in one of the units above.
std::optional<Duration> parse_duration(std::string_view text);

/// `from_ms` plus the duration (months: the same day and time in a later month, clamped to its
/// end). A negative count goes back in time.
std::int64_t add_duration(std::int64_t from_ms, const Duration& d);

/// The duration in milliseconds; 0 for months (their length varies).
std::int64_t fixed_duration_ms(const Duration& d);

}  // namespace tollgate
