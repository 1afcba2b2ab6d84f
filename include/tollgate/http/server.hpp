#pragma once
// The HTTP/1.1 server: one io_context and one SO_REUSEPORT acceptor per worker thread, one
// coroutine per connection, keep-alive, header/body limits and per-phase deadlines. Requests are
// handed to a Handler owned by the worker (so handlers keep per-thread state without locks).
// Limits against hostile clients (docs/request-lifecycle.md, "HTTP server limits"): a total time
// for each request's header and body, a cap on open connections per process, Transfer-Encoding
// other than chunked refused, a port another process listens on refused at start.
//
// Thread safety: Server's public methods are for the control thread (start, drain, stop).
// A Handler and the Exchange it receives are used only on their worker's thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/core/clock.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::metrics {
class ServerMetrics;
}

namespace tollgate::http {

namespace asio = boost::asio;
using Request = boost::beast::http::request<boost::beast::http::string_body>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// One request and the means to answer it. Implemented by the server's session.
/// Lifetime: valid for the duration of Handler::handle().
///
/// Coroutine rule (GCC 12): arguments of a co_await'ed call must be named lvalues or trivial
/// values: no temporaries with destructors and no `?:`. GCC 12 miscompiles both (double
/// destruction; both branches evaluated). Parameters here are references for that reason.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  virtual SteadyTime received_at() const = 0;   // when the request's headers were complete
  virtual bool draining() const = 0;             // the server is shutting down
  virtual bool stopping() const = 0;             // draining, or about to (readiness says no)

  /// A complete response. Returns false when the client is gone.
  virtual asio::awaitable<bool> send(unsigned status, std::string_view content_type, std::string&& body,
                                     const HeaderList& headers) = 0;
  /// A chunked streaming response: the head now, then chunks, then end_stream().
  virtual asio::awaitable<bool> begin_stream(unsigned status, std::string_view content_type,
                                             const HeaderList& headers) = 0;
  virtual asio::awaitable<bool> write_chunk(std::string_view data) = 0;
  virtual asio::awaitable<bool> end_stream() = 0;
  /// Close the connection once the current response is complete (e.g. after a failed stream).
  virtual void close_after_response() = 0;
};

/// Answers requests. One instance per worker thread.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual asio::awaitable<void> handle(Exchange& exchange) = 0;
  /// The shutdown deadline passed with requests in flight: end them now (their upstream calls
  /// fail, so answers and streams end with an error and settle). Called on the worker's thread.
  virtual void cut_inflight() {}
};

/// Worker threads the settings ask for: num_workers, or one per core.
unsigned worker_count(const config::ServerSettings& settings);

/// The connection cap the settings ask for: max_connections, or (0) half of what RLIMIT_NOFILE
/// leaves after a reserve, since a proxied request holds a client and an upstream descriptor.
std::size_t connection_limit(const config::ServerSettings& settings);

using HandlerFactory = std::function<std::unique_ptr<Handler>(unsigned worker_index, asio::io_context& io)>;

class Server {
 public:
  /// `metrics` (may be null) must outlive the server.
  Server(config::ServerSettings settings, HandlerFactory factory, std::shared_ptr<spdlog::logger> log,
         metrics::ServerMetrics* metrics = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds every worker's acceptor and starts the threads. Returns the bound port. Throws
  /// std::runtime_error naming the port when it cannot listen, or when another process listens on
  /// it already and settings.reuse_port is false.
  std::uint16_t start();
  /// Shutdown is coming: readiness answers 503 from now on while requests are still served
  /// normally, so load balancers stop sending before the listener closes.
  void announce_stop() { stopping_.store(true, std::memory_order_relaxed); }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed) || draining(); }
  /// Stops accepting, closes idle keep-alive connections, answers further requests with
  /// `Connection: close`. In-flight requests and streams continue.
  void begin_drain();
  /// Waits until no request is in flight or the deadline passes. Returns true when idle.
  bool wait_idle(std::chrono::milliseconds deadline);
  /// Asks every worker's handler to end its in-flight requests (Handler::cut_inflight), on the
  /// worker's thread. For after the shutdown deadline, before stop().
  void cut_inflight();
  /// Stops the io threads and joins them. Idempotent.
  void stop();

  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  std::size_t active_requests() const { return active_.load(std::memory_order_relaxed); }
  std::uint16_t port() const { return port_; }
  std::size_t open_connections() const { return open_connections_.load(std::memory_order_relaxed); }

  struct Worker;  // defined in server.cpp

 private:
  config::ServerSettings settings_;
  HandlerFactory factory_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> active_{0};
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  // Connections (all workers): admitted up to max_connections_, the rest answered 503 and closed.
  metrics::ServerMetrics* metrics_;
  std::size_t max_connections_ = 0;
  std::atomic<std::size_t> open_connections_{0};
  std::string refusal_;                            // the 503 response written to refused connections
  std::atomic<std::int64_t> refusal_logged_{0};    // steady ns of the last "refusing" log line
  std::atomic<std::uint64_t> refused_unlogged_{0};
  std::atomic<std::int64_t> accept_error_logged_{0};
};

}  // namespace tollgate::http
