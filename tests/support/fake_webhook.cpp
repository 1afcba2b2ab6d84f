#include "support/fake_webhook.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace tollgate::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

class FakeWebhook::Impl {
 public:
  Impl() : acceptor_(io_) {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), [](std::exception_ptr) {});
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Impl() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (ec) co_return;
      asio::co_spawn(io_, serve(beast::tcp_stream(std::move(socket))), [](std::exception_ptr) {});
    }
  }

  asio::awaitable<void> serve(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      stream.expires_after(30s);
      auto [ec, n] = co_await http::async_read(stream, buffer, req, kUseTuple);
      if (ec) co_return;
      unsigned status = 200;
      std::chrono::milliseconds delay{0};
      {
        std::lock_guard lock(mu_);
        RecordedRequest r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& field : req) r.headers[lower(field.name_string())] = std::string(field.value());
        r.body = req.body();
        requests_.push_back(std::move(r));
        if (!script_.empty()) {
          status = script_.front();
          script_.pop_front();
        }
        delay = delay_;
      }
      if (delay.count() > 0) {
        asio::steady_timer timer(io_, delay);
        co_await timer.async_wait(kUseTuple);
      }
      http::response<http::string_body> res;
      res.result(status);
      res.set(http::field::content_type, "text/plain");
      res.body() = status < 300 ? "ok" : "error";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      stream.expires_after(30s);
      auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
      if (wec || !req.keep_alive()) co_return;
    }
  }

  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;  // guarded by mu_
  std::deque<unsigned> script_;            // guarded by mu_
  std::chrono::milliseconds delay_{0};     // guarded by mu_
};

FakeWebhook::FakeWebhook() : impl_(std::make_unique<Impl>()) {}
FakeWebhook::~FakeWebhook() = default;

std::uint16_t FakeWebhook::port() const { return impl_->port_; }

std::string FakeWebhook::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->port_) + path;
}

void FakeWebhook::script(std::vector<unsigned> statuses) {
  std::lock_guard lock(impl_->mu_);
  impl_->script_.assign(statuses.begin(), statuses.end());
}

void FakeWebhook::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mu_);
  impl_->delay_ = delay;
}

std::vector<RecordedRequest> FakeWebhook::requests() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->requests_;
}

std::size_t FakeWebhook::request_count() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->requests_.size();
}

}  // namespace tollgate::testing
