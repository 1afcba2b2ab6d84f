#pragma once
// The OpenAI-shaped error every failure becomes, and the one place that builds it.
// Handlers never build error bodies: they produce an ApiError (from an Errc, or from an upstream
// error) and hand it to the responder, which serialises it with error_json().
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "tollgate/core/errc.hpp"

namespace tollgate::api {

struct ApiError {
  unsigned status = 500;                  // HTTP status sent to the client
  std::string message;                    // human-readable, safe to show (no secrets)
  std::string type;                       // OpenAI error type, e.g. "invalid_request_error"
  std::optional<std::string> param;       // offending field, or null
  std::string code;                       // LiteLLM sends the status as a string, e.g. "400"
  std::optional<std::chrono::seconds> retry_after;  // sent as the retry-after header when set
  Errc errc = Errc::kInternal;            // our classification, for logs and counters
};

/// The single mapping from our error codes to status/type/code. `message` is used as given.
ApiError make_error(Errc errc, std::string message, std::optional<std::string> param = std::nullopt);

/// `{"error":{"message":...,"type":...,"param":...,"code":...}}`
std::string error_json(const ApiError& error);

template <class T>
using ApiResult = boost::system::result<T, ApiError>;

/// Needed by boost::system::result<T, ApiError>::value(); rethrows as std::runtime_error.
[[noreturn]] void throw_exception_from_error(const ApiError& error, const boost::source_location& loc);

}  // namespace tollgate::api
