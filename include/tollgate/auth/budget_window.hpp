#pragma once
// Budget windows over LiteLLM's duration strings (tollgate/core/duration.hpp).
//
// `duration` (key expiry) and `budget_duration` (how often spend resets) are durations. A budget window ends at
// `budget_reset_at`; the next one starts there, so every entity keeps its own schedule and a
// replica that notices late still lands on the same boundary as the others.
//
// Thread safety: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tollgate/core/duration.hpp"

namespace tollgate::auth {

// The duration strings themselves live in core (config reads them too).
using tollgate::add_duration;
using tollgate::Duration;
using tollgate::parse_duration;

/// The end of the window that contains `now_ms`, given a window that ended (or ends) at `end_ms`:
/// `end_ms` itself while now < end_ms, otherwise end_ms advanced by whole durations past now.
std::int64_t current_window_end(std::int64_t end_ms, const Duration& d, std::int64_t now_ms);

/// ISO 8601 UTC with milliseconds, "2026-11-22T07:30:00.000Z" (LiteLLM's `expires`, `created_at`).
std::string iso8601(std::int64_t unix_ms);
/// Parses what iso8601() writes, also without milliseconds or with "+00:00". nullopt otherwise.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

}  // namespace tollgate::auth
