#pragma once
// Feeding Beast's HTTP parsers from bytes already buffered, without an asynchronous operation.
//
// A co_await on beast::http::async_read* completes through a posted handler even when the data is
// already in the buffer, and each such round trip through the scheduler costs a non-blocking
// epoll_wait. Requests and responses usually arrive in one segment, so parsing synchronously what
// is buffered (parser.put) and awaiting a socket read only when more bytes are needed removes most
// of those round trips.
#include <algorithm>
#include <cstdint>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tollgate/config/config.hpp"

namespace tollgate::http {

enum class ParseGoal { kHeader, kMessage };

/// The parser the server reads each client request with.
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// The server's limits on a fresh request parser: header block and body size from `settings`.
/// (The server then reads the header, and turns eager parsing on for the body.)
inline void limit_request_parser(RequestParser& parser, const config::ServerSettings& settings) {
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(settings.max_header_bytes, UINT32_MAX)));
  parser.body_limit(settings.max_request_body_bytes);
}

/// Consumes buffered bytes into `parser` until `goal` is reached or the buffer is used up.
/// Returns true when the goal is reached; false with `ec` clear when more bytes are needed; false
/// with `ec` set on a parse error (header_limit, body_limit, bad syntax...).
template <bool isRequest>
bool parse_buffered(boost::beast::http::basic_parser<isRequest>& parser, boost::beast::flat_buffer& buffer,
                    ParseGoal goal, boost::beast::error_code& ec) {
  auto reached = [&] { return goal == ParseGoal::kHeader ? parser.is_header_done() : parser.is_done(); };
  ec = {};
  while (!reached() && buffer.size() > 0) {
    const std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
      return false;
    }
    if (ec) return false;
    if (n == 0) break;
  }
  return reached();
}

}  // namespace tollgate::http
