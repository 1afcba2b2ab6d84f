#pragma once
// LiteLLM's duration strings and budget windows.
//
// `duration` (key expiry) and `budget_duration` (how often spend resets) are "<n>s", "<n>m",
// "<n>h", "<n>d", "<n>w" or "<n>mo" (calendar months, UTC). A budget window ends at
// `budget_reset_at`; the next one starts there, so every entity keeps its own schedule and a
// replica that notices late still lands on the same boundary as the others.
//
// Thread safety: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::auth {

struct Duration {
  std::int64_t count = 0;
  enum class Unit { kSeconds, kMinutes, kHours, kDays, kWeeks, kMonths } unit = Unit::kSeconds;
};

/// nullopt when the text is not a positive duration in one of the units above.
std::optional<Duration> parse_duration(std::string_view text);

/// `from_ms` plus the duration (months: the same day and time in a later month, clamped to its end).
std::int64_t add_duration(std::int64_t from_ms, const Duration& d);

/// The end of the window that contains `now_ms`, given a window that ended (or ends) at `end_ms`:
/// `end_ms` itself while now < end_ms, otherwise end_ms advanced by whole durations past now.
std::int64_t current_window_end(std::int64_t end_ms, const Duration& d, std::int64_t now_ms);

/// ISO 8601 UTC with milliseconds, "2026-11-22T07:30:00.000Z" (LiteLLM's `expires`, `created_at`).
std::string iso8601(std::int64_t unix_ms);
/// Parses what iso8601() writes, also without milliseconds or with "+00:00". nullopt otherwise.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

}  // namespace tollgate::auth
