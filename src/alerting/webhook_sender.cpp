#include "alerting/webhook_sender.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/logger.h>

namespace tollgate::alerting {
namespace {

constexpr std::size_t kMaxResponseBody = 64 * 1024;  // Slack answers "ok"; anything big is read and dropped
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

bool worth_retrying(unsigned status) { return status == 408 || status == 429 || status >= 500; }

http::Url parse_url(const std::string& url) {
  auto parsed = http::Url::parse(url);
  if (!parsed) throw std::invalid_argument("alerting webhook: expected an http:// or https:// URL");
  return *parsed;
}

}  // namespace

WebhookSender::WebhookSender(const std::string& url, Options options, const config::UpstreamSettings& upstream,
                             std::shared_ptr<spdlog::logger> log, std::function<void()> on_failure)
    : options_(std::move(options)),
      log_(std::move(log)),
      on_failure_(std::move(on_failure)),
      work_(asio::make_work_guard(io_)) {
  options_.url = parse_url(url);
  // Url keeps the path (with any query) after the authority; the request line needs at least "/".
  options_.target = options_.url.path.empty() ? std::string("/") : options_.url.path;
  config::UpstreamSettings settings = upstream;
  settings.connect_timeout = std::min(settings.connect_timeout, options_.timeout);
  settings.max_idle_per_host = 1;
  tls_ = http::make_client_tls_context(settings);
  client_ = std::make_unique<http::UpstreamClient>(io_, *tls_, settings);
  thread_ = std::thread([this] { io_.run(); });
}

WebhookSender::~WebhookSender() { stop(std::chrono::milliseconds(0)); }

bool WebhookSender::enqueue(std::string payload) {
  bool spawn = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || queue_.size() >= options_.max_queued) return false;
    queue_.push_back(std::move(payload));
    spawn = !std::exchange(draining_, true);
  }
  if (spawn) {
    asio::co_spawn(io_, drain(), [log = log_](std::exception_ptr e) {
      if (e) log->error("msg=\"alert delivery loop failed\"");
    });
  }
  return true;
}

void WebhookSender::stop(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  {
    std::unique_lock lock(mu_);
    closed_ = true;
    idle_.wait_for(lock, grace, [this] { return !draining_ && queue_.empty(); });
    // What is still queued now is not delivered: count it like any other failure.
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      if (on_failure_) on_failure_();
    }
    queue_.clear();
  }
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
  if (in_flight_) {  // cut short by the stop
    failed_.fetch_add(1, std::memory_order_relaxed);
    if (on_failure_) on_failure_();
  }
  // A send cut short by stop() leaves its frame in io_: destroy it while the client it uses exists.
  io_.shutdown();
  client_.reset();
}

asio::awaitable<void> WebhookSender::drain() {
  for (;;) {
    std::string payload;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        draining_ = false;
        idle_.notify_all();
        co_return;
      }
      payload = std::move(queue_.front());
      queue_.pop_front();
      in_flight_ = true;
    }
    const bool ok = co_await deliver(payload);
    in_flight_ = false;
    if (ok) {
      delivered_.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed_.fetch_add(1, std::memory_order_relaxed);
      if (on_failure_) on_failure_();
    }
  }
}

asio::awaitable<bool> WebhookSender::deliver(const std::string& payload) {
  asio::steady_timer backoff(io_);
  for (int attempt = 0;; ++attempt) {
    http::UpstreamRequest request;
    request.method = "POST";
    request.url = options_.url;
    request.target = options_.target;
    request.headers.emplace_back("content-type", "application/json");
    request.body = payload;
    request.first_byte_timeout = options_.timeout;
    request.chunk_timeout = options_.timeout;
    auto sent = co_await client_->send(std::move(request));
    // Messages name host and port only: a Slack webhook's secret is its path.
    std::string why;
    bool retry = true;
    if (!sent) {
      why = sent.error().message;
    } else {
      http::UpstreamResponse& response = **sent;
      const unsigned status = response.status();
      auto drained = co_await response.read_all(kMaxResponseBody);  // frees the connection for reuse
      (void)drained;
      if (status >= 200 && status < 300) co_return true;  // delivered, whatever the body says
      why = "webhook answered HTTP " + std::to_string(status);
      retry = worth_retrying(status);
    }
    if (!retry || attempt >= options_.retries) {
      log_->warn("msg=\"alert not delivered\" attempts={} error=\"{}\"", attempt + 1, why);
      co_return false;
    }
    log_->debug("msg=\"alert delivery failed, retrying\" attempt={} error=\"{}\"", attempt + 1, why);
    backoff.expires_after(options_.first_backoff * (1 << std::min(attempt, 10)));
    auto [ec] = co_await backoff.async_wait(kTuple);
    if (ec) co_return false;
  }
}

}  // namespace tollgate::alerting
