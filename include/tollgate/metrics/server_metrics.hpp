#pragma once
// The HTTP server's series (tollgate_http_*): open client connections, connections refused at
// the connection limit, failed accepts (descriptor exhaustion), request reads that timed out and
// requests refused as unreadable. Obtained from Metrics::server(); docs/metrics.md lists them.
//
// Thread safety: every member function may be called concurrently (atomic increments only; every
// series is created in the constructor). Lives as long as the Metrics that made it.
#include <array>
#include <cstddef>
#include <cstdint>

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace tollgate::metrics {

/// Why a request was answered with an error before it reached a handler (label `reason`).
enum class UnreadableRequest : std::uint8_t {
  kMalformed,          // not HTTP/1.1 the parser accepts
  kHeaderTooLarge,     // over max_header_size_kb
  kBodyTooLarge,       // over max_request_size_mb
  kTransferEncoding,   // a Transfer-Encoding other than chunked (RFC 9112 §6.3)
};
inline constexpr std::size_t kUnreadableRequestCount = 4;

/// Which read of a request took too long (label `phase`).
enum class ReadPhase : std::uint8_t { kHeader, kBody };

class ServerMetrics {
 public:
  explicit ServerMetrics(prometheus::Registry& registry);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  void connection_opened();
  void connection_closed();
  /// Accepted and closed at once: the process was at max_connections.
  void connection_refused();
  /// accept() failed (EMFILE, ENFILE, ENOBUFS...): the connection waits in the backlog.
  void accept_failed();
  void read_timeout(ReadPhase phase);
  void unreadable(UnreadableRequest reason);

 private:
  prometheus::Gauge* open_;
  prometheus::Counter* refused_;
  prometheus::Counter* accept_errors_;
  std::array<prometheus::Counter*, 2> timeouts_;
  std::array<prometheus::Counter*, kUnreadableRequestCount> unreadable_;
};

}  // namespace tollgate::metrics
