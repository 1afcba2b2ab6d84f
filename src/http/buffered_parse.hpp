#pragma once
// Feeding Beast's HTTP parsers from bytes already buffered, without an asynchronous operation.
//
// A co_await on beast::http::async_read* completes through a posted handler even when the data is
// already in the buffer, and each such round trip through the scheduler costs a non-blocking
// epoll_wait. Requests and responses usually arrive in one segment, so parsing synchronously what
// is buffered (parser.put) and awaiting a socket read only when more bytes are needed removes most
// of those round trips.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace tollgate::http {

enum class ParseGoal { kHeader, kMessage };

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
