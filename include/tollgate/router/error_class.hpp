#pragma once
// What kind of failure an attempt ended in, read from the upstream's answer (status, error
// type/code/message, retry headers) or from our own transport error. The router's retry,
// fallback and cooldown rules key on this class (docs/routing.md).
//
// Thread safety: pure functions.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tollgate/config/config.hpp"
#include "tollgate/core/errc.hpp"

namespace tollgate::router {

using config::ErrorClass;

struct Classified {
  ErrorClass cls = ErrorClass::kServerError;
  std::optional<std::chrono::milliseconds> retry_after;  // from retry-after / x-ratelimit-reset*
};

/// An upstream error response. `retry_after` is the `retry-after` header (seconds or HTTP date),
/// `ratelimit_reset` the `x-ratelimit-reset-requests`/`-tokens` header ("1s", "6m0s", "20ms", or
/// seconds); `now_unix_s` resolves HTTP dates.
Classified classify_response(unsigned status, std::string_view body, std::string_view retry_after,
                             std::string_view ratelimit_reset, std::int64_t now_unix_s);

/// A failure without an upstream answer (deadline, connection, broken stream).
ErrorClass classify_errc(Errc errc);

/// LiteLLM's exception class name ("RateLimitError", ...): metrics labels and logs.
std::string_view exception_class_name(ErrorClass cls);

/// The caller's own fault: never cools a deployment down.
bool is_client_fault(ErrorClass cls);

/// `retry-after` as seconds ("30", "1.5") or an HTTP date; nullopt when unparsable or past.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s);

/// OpenAI's `x-ratelimit-reset-*` durations ("1s", "6m0s", "20ms", "1h2m3.5s") or plain seconds.
std::optional<std::chrono::milliseconds> parse_reset_duration(std::string_view value);

}  // namespace tollgate::router
