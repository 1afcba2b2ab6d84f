#pragma once
// Module-private: the HTTP server's defences against hostile clients that need no session
// (docs/request-lifecycle.md, "HTTP server limits"). Sans-IO except ensure_port_free.
//
// Thread safety: pure functions, except log_due (atomic on its argument) and ensure_port_free
// (its own socket).
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/http/server.hpp"

namespace tollgate::http {

/// The error for a request whose Transfer-Encoding the server will not read (400 when the body
/// length is unknown, RFC 9112 §6.3; 501 for a coding before chunked), nullopt when it is absent
/// or `chunked` alone. The connection must close after the answer.
std::optional<api::ApiError> transfer_encoding_error(const Request& request);

/// 408 for a request header or body that did not arrive within its total time.
api::ApiError read_timeout_error(std::string message);

/// True at most once a minute per `last_logged` (steady-clock nanoseconds), across threads: for
/// log lines about a condition that may last (refusing connections, out of descriptors).
bool log_due(std::atomic<std::int64_t>& last_logged);

/// Throws std::runtime_error naming the port when another socket listens on `endpoint`.
void ensure_port_free(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace tollgate::http
