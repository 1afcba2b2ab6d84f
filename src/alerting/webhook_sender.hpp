#pragma once
// Module-private: posts alert payloads to one webhook from a thread and io_context of its own,
// through the project's upstream client (keep-alive, TLS verified, deadlines). A bounded queue
// feeds one sending coroutine; each payload gets a timeout per attempt and a few retries with
// backoff on connection errors, timeouts, 408, 429 and 5xx.
//
// Thread safety: enqueue() and the counters from any thread; stop() from one thread.
// Lifetime: `on_failure` is called on the sender's thread and must stay callable until stop().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/http/upstream_client.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::alerting {

namespace asio = boost::asio;

class WebhookSender {
 public:
  struct Options {
    http::Url url;
    std::string target;                          // path and query of the webhook URL
    std::chrono::milliseconds timeout{10'000};   // per attempt: connect to response read
    int retries = 2;                             // after the first attempt
    std::size_t max_queued = 1000;
    std::chrono::milliseconds first_backoff{500};  // doubles per retry
  };

  /// Throws std::invalid_argument when `url` is not an http(s) URL, std::runtime_error on a bad
  /// CA bundle. Starts the thread.
  WebhookSender(const std::string& url, Options options, const config::UpstreamSettings& upstream,
                std::shared_ptr<spdlog::logger> log, std::function<void()> on_failure);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  /// Queues a payload; false when the queue is full or the sender is stopping (never blocks).
  bool enqueue(std::string payload);
  /// Stops taking payloads, waits up to `grace` for the queue to empty, stops the thread. Idempotent.
  void stop(std::chrono::milliseconds grace);

  std::uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  // An io_context whose frames can be destroyed (shutdown) before the client they refer to.
  class Io : public asio::io_context {
   public:
    Io() : asio::io_context(1) {}
    using asio::execution_context::shutdown;
  };

  asio::awaitable<void> drain();
  asio::awaitable<bool> deliver(const std::string& payload);

  Options options_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<void()> on_failure_;
  Io io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::unique_ptr<http::UpstreamClient> client_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool draining_ = false;          // guarded by mu_: the sending coroutine is running
  bool closed_ = false;            // guarded by mu_
  bool in_flight_ = false;         // sender thread only (read by stop() after the join)
  bool stopped_ = false;           // stop() ran (caller's thread only)
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::thread thread_;             // last: started once everything above exists
};

}  // namespace tollgate::alerting
