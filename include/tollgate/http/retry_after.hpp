#pragma once
// The wait an upstream asks for before the next call, in the forms vendors send it: `retry-after`
// (RFC 9110: delay-seconds or an HTTP date), `retry-after-ms` (Azure, the OpenAI SDKs), OpenAI's
// `x-ratelimit-reset-*` durations and RFC 3339 reset instants (Anthropic). Which header a vendor
// sends, and in what order they count, is the provider's business (Provider::classify_error).
//
// Thread safety: pure functions. Every result is capped at one day; anything longer, negative or
// unreadable is nullopt.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tollgate::http {

/// `retry-after` as seconds ("30", "1.5") or an HTTP date (IMF-fixdate); nullopt when unparsable
/// or past. `now_unix_s` resolves dates.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s);

/// `retry-after-ms`: milliseconds ("1500", "20.5").
std::optional<std::chrono::milliseconds> parse_retry_after_ms(std::string_view value);

/// OpenAI's `x-ratelimit-reset-*` durations ("1s", "6m0s", "20ms", "1h2m3.5s") or plain seconds.
std::optional<std::chrono::milliseconds> parse_reset_duration(std::string_view value);

/// The wait until an RFC 3339 instant ("2024-05-01T12:00:30Z", fractions and offsets allowed);
/// nullopt when unparsable or not after `now_unix_s`.
std::optional<std::chrono::milliseconds> parse_reset_instant(std::string_view value, std::int64_t now_unix_s);

}  // namespace tollgate::http
