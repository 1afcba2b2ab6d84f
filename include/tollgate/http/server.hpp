#pragma once
// The HTTP/1.1 server: one io_context and one SO_REUSEPORT acceptor per worker thread, one
// coroutine per connection, keep-alive, header/body limits and per-phase deadlines. Requests are
// handed to a Handler owned by the worker (so handlers keep per-thread state without locks).
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
};

/// Worker threads the settings ask for: num_workers, or one per core.
unsigned worker_count(const config::ServerSettings& settings);

using HandlerFactory = std::function<std::unique_ptr<Handler>(unsigned worker_index, asio::io_context& io)>;

class Server {
 public:
  Server(config::ServerSettings settings, HandlerFactory factory, std::shared_ptr<spdlog::logger> log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds every worker's acceptor and starts the threads. Returns the bound port. Throws on bind failure.
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
  /// Stops the io threads and joins them. Idempotent.
  void stop();

  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  std::size_t active_requests() const { return active_.load(std::memory_order_relaxed); }
  std::uint16_t port() const { return port_; }

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
};

}  // namespace tollgate::http
