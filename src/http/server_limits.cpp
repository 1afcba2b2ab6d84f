#include "http/server_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/string.hpp>

namespace tollgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no reliable body
// length. Beast frames it as bodiless, so its body would be parsed as the next request on the
// connection (request smuggling): it is answered 400 and the connection closed. Only chunked
// alone is decoded; another coding before it ("gzip, chunked") is 501 (§6.1). HTTP/1.0 has no
// Transfer-Encoding: a 1.0 request carrying one has faulty framing (§6.1).
std::optional<api::ApiError> transfer_encoding_error(const Request& request) {
  auto [it, end] = request.equal_range(bhttp::field::transfer_encoding);
  if (it == end) return std::nullopt;
  std::vector<std::string_view> codings;
  for (; it != end; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) coding.remove_prefix(1);
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) coding.remove_suffix(1);
      if (!coding.empty()) codings.push_back(coding);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  const auto chunked = [](std::string_view c) { return beast::iequals(c, "chunked"); };
  if (request.version() < 11 || codings.empty() || !chunked(codings.back()) ||
      std::count_if(codings.begin(), codings.end(), chunked) > 1) {
    return api::make_error(Errc::kInvalidRequest,
                           "Malformed HTTP request: Transfer-Encoding must be chunked, once and last, in HTTP/1.1 "
                           "(RFC 9112 section 6).");
  }
  if (codings.size() == 1) return std::nullopt;
  api::ApiError e = api::make_error(Errc::kInvalidRequest,
                                    "Transfer-Encoding other than chunked is not supported; send the body unencoded.");
  e.status = 501;
  e.code = "501";
  return e;
}

api::ApiError read_timeout_error(std::string message) {
  api::ApiError e = api::make_error(Errc::kInvalidRequest, std::move(message));
  e.status = 408;
  e.code = "408";
  e.type = "timeout_error";
  return e;
}

bool log_due(std::atomic<std::int64_t>& last_logged) {
  constexpr std::int64_t kInterval = std::chrono::nanoseconds(std::chrono::minutes(1)).count();
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::int64_t last = last_logged.load(std::memory_order_relaxed);
  if (last != 0 && now - last < kInterval) return false;
  return last_logged.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

// SO_REUSEPORT, which lets each worker's acceptor bind the same port, would equally let a second
// tollgate of the same user bind it and silently take part of the connections. So before the
// workers bind, a probe socket binds the address *without* SO_REUSEPORT: Linux refuses that with
// EADDRINUSE while any socket listens on the port (on this address or the wildcard), whatever its
// options and owner. The probe sets SO_REUSEADDR like the acceptors, so connections of a previous
// run still in TIME_WAIT do not count, and it never listens, so it leaves nothing behind. It is
// closed before the acceptors bind: two instances started within those microseconds could both
// pass. The check is for an operator's mistake, not a defence against a racing attacker (who could
// as well take the port first).
void ensure_port_free(const tcp::endpoint& endpoint) {
  asio::io_context io;
  tcp::acceptor probe(io);
  boost::system::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (ec == asio::error::address_in_use) {
    throw std::runtime_error("port " + std::to_string(endpoint.port()) + " on " + endpoint.address().to_string() +
                             " is already in use by another process; stop it, choose another port, or set "
                             "tollgate_settings.reuse_port: true to share the port with it");
  }
  // Other errors (no such address, no permission) surface when the acceptors bind.
}

std::size_t connection_limit(const config::ServerSettings& settings) {
  if (settings.max_connections > 0) return settings.max_connections;
  // Descriptors beside client connections: listeners, epoll and timers, database, Redis, logs,
  // journal files, pooled idle upstream connections beyond the one each request holds.
  constexpr std::size_t kReserve = 128;
  constexpr std::size_t kFloor = 16;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 100'000;
  const auto soft = static_cast<std::size_t>(limit.rlim_cur);
  return std::max(kFloor, soft > 2 * kReserve ? (soft - kReserve) / 2 : soft / 4);
}

}  // namespace tollgate::http
