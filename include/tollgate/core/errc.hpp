#pragma once
// Error codes of the data plane. Expected failures travel as values (Result<T>), not exceptions.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <system_error>
#include <type_traits>

namespace tollgate {

enum class Errc {
  kOk = 0,
  kInvalidJson,        // request body is not valid JSON (or not valid UTF-8)
  kInvalidRequest,     // JSON is valid but a field has the wrong type or value
  kBodyTooLarge,       // request body over the configured limit
  kUnauthorized,       // missing or bad key
  kUnknownModel,       // no model group of that name
  kNotFound,           // unknown route
  kMethodNotAllowed,   // known route, wrong method
  kUpstreamTimeout,    // connect / first byte / between-chunk deadline passed
  kUpstreamConnect,    // could not resolve, connect or complete TLS
  kUpstreamProtocol,   // upstream sent something that is not valid HTTP / SSE / JSON
  kUpstreamStatus,     // upstream answered with an error status
  kShuttingDown,       // the gateway is draining
  kNoDeployments,      // every deployment of the group is cooling down or over its limits
  kRedisUnavailable,   // Redis is not connected or did not answer in time
  kDbUnavailable,      // the database cannot be reached (connect failed, connection lost)
  kDbError,            // the database refused a statement (syntax, type) — a bug or a schema mismatch
  kDbConflict,         // a unique constraint was violated (the row exists already)
  kForbidden,          // authenticated, but the role may not do this
  kRateLimited,        // a key/user/team/end-user rpm, tpm or parallel limit is reached
  kBudgetExceeded,     // a budget the request falls under is spent
  kModelAccessDenied,  // the key (or its team) may not call this model
  kInternal,           // a bug: should never reach a user
};

const boost::system::error_category& tollgate_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), tollgate_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace tollgate

template <>
struct boost::system::is_error_code_enum<tollgate::Errc> : std::true_type {};
