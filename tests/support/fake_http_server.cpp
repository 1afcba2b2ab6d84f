#include "support/fake_http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace tollgate::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kIdleTimeout = 60s;       // keep-alive idle and request read
constexpr auto kWriteTimeout = 30s;      // per write
constexpr auto kHandshakeTimeout = 10s;  // TLS handshake and shutdown
constexpr std::uint64_t kMaxBody = 64ull << 20;
constexpr std::uint32_t kMaxHeader = 64u << 10;

using TlsStream = asio::ssl::stream<beast::tcp_stream>;

// How a session goes on after a reply.
enum class After { kKeepAlive, kClose, kAbort };

// Notices the client leaving while a reply is pending (delays, hangs, pauses between stream chunks),
// so cancellations are seen even when no write would fail. An HTTP/1.1 client sends nothing while it
// waits for a reply, so readability means EOF or a reset; a peeked byte (a pipelined request, or TLS
// data) is left alone and the write path decides.
class PeerWatch {
 public:
  PeerWatch(tcp::socket& socket, asio::steady_timer& wake) : state_(std::make_shared<State>()) {
    socket.async_wait(tcp::socket::wait_read, [state = state_, &socket, &wake](error_code ec) {
      if (!state->active) return;  // the reply ended; socket and timer may be gone
      if (!ec) {
        char byte = 0;
        error_code peek_ec;
        socket.non_blocking(true, peek_ec);
        const std::size_t n = socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, peek_ec);
        if (!peek_ec && n > 0) return;
      }
      state->gone = true;
      wake.cancel();
    });
  }
  ~PeerWatch() { state_->active = false; }
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  bool gone() const { return state_->gone; }

 private:
  struct State {
    bool active = true;
    bool gone = false;
  };
  std::shared_ptr<State> state_;
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

template <class Message>
void set_reply_headers(Message& m, const FakeReply& r, bool keep_alive) {
  m.result(r.status);
  m.set(http::field::server, "tollgate-fake-provider");
  m.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) m.set(name, value);
  m.keep_alive(keep_alive);
}

// Waits `d` unless the client leaves first; false when it left.
asio::awaitable<bool> pause(asio::steady_timer& wake, const PeerWatch& watch, std::chrono::milliseconds d) {
  if (watch.gone()) co_return false;
  wake.expires_after(d);
  co_await wake.async_wait(kUseTuple);
  co_return !watch.gone();
}

}  // namespace

class FakeHttpServer::Impl {
 public:
  Impl(FakeServerOptions options, Planner planner) : options_(std::move(options)), planner_(std::move(planner)) {}

  void start();
  void stop();

  FakeServerOptions options_;
  Planner planner_;
  std::uint16_t port_ = 0;
  std::optional<asio::ssl::context> tls_;  // outlives io_ (declared before it)
  std::unique_ptr<asio::io_context> io_;
  std::optional<tcp::acceptor> acceptor_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;  // guarded by mutex_
  std::atomic<std::size_t> request_count_{0};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> cancelled_{0};
  std::atomic<std::size_t> session_failures_{0};
  std::atomic<std::uint64_t> seq_{0};

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_plain(beast::tcp_stream stream);
  asio::awaitable<void> serve_tls(beast::tcp_stream stream);
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream);
  template <class Stream>
  asio::awaitable<After> respond(Stream& stream, const FakeExchange& ex, bool keep_alive);
  template <class Stream>
  asio::awaitable<After> write_whole(Stream& stream, const FakeReply& r, bool keep_alive);
  template <class Stream>
  asio::awaitable<After> write_stream(Stream& stream, const FakeExchange& ex, bool keep_alive, const PeerWatch& watch,
                                      asio::steady_timer& wake);
  std::uint64_t record(const http::request<http::string_body>& req);

  auto on_done() {
    return [this](std::exception_ptr e) {
      if (e) ++session_failures_;
    };
  }
};

void FakeHttpServer::Impl::start() {
  if (io_) throw std::logic_error("FakeHttpServer already started");
  if (!options_.tls_cert_file.empty() && !options_.tls_key_file.empty()) {
    tls_.emplace(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3);
    tls_->use_certificate_chain_file(options_.tls_cert_file);
    tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem);
  }
  io_ = std::make_unique<asio::io_context>(1);
  const tcp::endpoint endpoint(asio::ip::make_address(options_.host), options_.port);
  acceptor_.emplace(*io_);
  acceptor_->open(endpoint.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(endpoint);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(*io_, accept_loop(), on_done());
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_->run();
        return;
      } catch (...) {
        ++session_failures_;
      }
    }
  });
}

void FakeHttpServer::Impl::stop() {
  if (!io_) return;
  io_->stop();
  if (thread_.joinable()) thread_.join();
  // Destroying the io_context destroys the suspended sessions, which closes their sockets.
  acceptor_.reset();
  io_.reset();
  tls_.reset();
}

asio::awaitable<void> FakeHttpServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (ec) {  // e.g. out of descriptors: back off instead of spinning
      asio::steady_timer backoff(*io_, 10ms);
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    ++connections_;
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    beast::tcp_stream stream(std::move(socket));
    if (tls_) {
      asio::co_spawn(*io_, serve_tls(std::move(stream)), on_done());
    } else {
      asio::co_spawn(*io_, serve_plain(std::move(stream)), on_done());
    }
  }
}

asio::awaitable<void> FakeHttpServer::Impl::serve_plain(beast::tcp_stream stream) { co_await serve(stream); }

asio::awaitable<void> FakeHttpServer::Impl::serve_tls(beast::tcp_stream plain) {
  TlsStream stream(std::move(plain), *tls_);
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
  if (ec) co_return;
  co_await serve(stream);
}

template <class Stream>
asio::awaitable<void> FakeHttpServer::Impl::serve(Stream& stream) {
  beast::flat_buffer buffer;
  auto& lowest = beast::get_lowest_layer(stream);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeader);
    parser.body_limit(kMaxBody);
    lowest.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (ec) break;
    const auto& req = parser.get();
    const std::uint64_t seq = record(req);
    const auto header = [&req](std::string_view name) {
      const auto it = req.find(name);
      return it == req.end() ? std::string_view{} : std::string_view(it->value());
    };
    const FakeRequest freq{.method = req.method_string(),
                           .target = req.target(),
                           .body = req.body(),
                           .authorization = header("authorization"),
                           .x_api_key = header("x-api-key"),
                           .anthropic_version = header("anthropic-version"),
                           .api_key = header("api-key"),
                           .x_goog_api_key = header("x-goog-api-key"),
                           .seq = seq,
                           .header = [&header](std::string_view field) { return std::string(header(field)); }};
    const FakeExchange ex = planner_(freq);
    const After after = co_await respond(stream, ex, req.keep_alive());
    if (after == After::kAbort) {
      lowest.close();  // no TLS close_notify, no FIN-after-flush courtesy: the client sees a cut
      co_return;
    }
    if (after == After::kClose) break;
  }
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    lowest.expires_after(kHandshakeTimeout);
    co_await stream.async_shutdown(kUseTuple);
  } else {
    error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
  lowest.close();
}

template <class Stream>
asio::awaitable<After> FakeHttpServer::Impl::respond(Stream& stream, const FakeExchange& ex, bool keep_alive) {
  asio::steady_timer wake(stream.get_executor());
  const PeerWatch watch(beast::get_lowest_layer(stream).socket(), wake);
  const FakeControls& c = ex.controls;
  if (c.hang) {
    wake.expires_at(asio::steady_timer::time_point::max());
    co_await wake.async_wait(kUseTuple);  // only the peer leaving (or stop()) ends this
    ++cancelled_;
    co_return After::kAbort;
  }
  if (c.delay_headers_ms > 0 && !co_await pause(wake, watch, std::chrono::milliseconds(c.delay_headers_ms))) {
    ++cancelled_;
    co_return After::kAbort;
  }
  if (!ex.reply.stream) co_return co_await write_whole(stream, ex.reply, keep_alive);
  co_return co_await write_stream(stream, ex, keep_alive, watch, wake);
}

template <class Stream>
asio::awaitable<After> FakeHttpServer::Impl::write_whole(Stream& stream, const FakeReply& r, bool keep_alive) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(kWriteTimeout);
  if (r.cut) {
    // Promise the whole body, send half, then drop the connection.
    http::response<http::empty_body> head;
    set_reply_headers(head, r, false);
    head.content_length(r.body.size());
    http::response_serializer<http::empty_body> sr(head);
    auto [ec, n] = co_await http::async_write_header(stream, sr, kUseTuple);
    if (!ec) co_await asio::async_write(stream, asio::buffer(r.body.data(), r.body.size() / 2), kUseTuple);
    co_return After::kAbort;
  }
  http::response<http::string_body> res;
  set_reply_headers(res, r, keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(stream, res, kUseTuple);
  if (ec) co_return After::kAbort;
  co_return keep_alive ? After::kKeepAlive : After::kClose;
}

template <class Stream>
asio::awaitable<After> FakeHttpServer::Impl::write_stream(Stream& stream, const FakeExchange& ex, bool keep_alive,
                                                        const PeerWatch& watch, asio::steady_timer& wake) {
  auto& lowest = beast::get_lowest_layer(stream);
  const FakeReply& r = ex.reply;
  http::response<http::empty_body> head;
  set_reply_headers(head, r, keep_alive);
  head.set(http::field::cache_control, "no-cache");
  head.chunked(true);
  http::response_serializer<http::empty_body> sr(head);
  lowest.expires_after(kWriteTimeout);
  if (auto [ec, n] = co_await http::async_write_header(stream, sr, kUseTuple); ec) {
    ++cancelled_;
    co_return After::kAbort;
  }
  const std::chrono::milliseconds gap(ex.controls.delay_chunk_ms);
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    // Not `?:` around co_await: GCC 12 miscompiles that (see docs/request-lifecycle.md).
    bool stayed = !watch.gone();
    if (i > 0 && gap.count() > 0) stayed = co_await pause(wake, watch, gap);
    if (!stayed) {
      ++cancelled_;
      co_return After::kAbort;
    }
    lowest.expires_after(kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(r.events[i])), kUseTuple);
    if (ec) {
      ++cancelled_;
      co_return After::kAbort;
    }
  }
  if (r.cut) co_return After::kAbort;  // no last chunk: the client sees a truncated body
  lowest.expires_after(kWriteTimeout);
  if (auto [ec, n] = co_await asio::async_write(stream, http::make_chunk_last(), kUseTuple); ec) {
    ++cancelled_;
    co_return After::kAbort;
  }
  co_return keep_alive ? After::kKeepAlive : After::kClose;
}

std::uint64_t FakeHttpServer::Impl::record(const http::request<http::string_body>& req) {
  ++request_count_;
  const std::uint64_t seq = ++seq_;
  if (!options_.record_requests) return seq;
  RecordedRequest rec;
  rec.method = std::string(req.method_string());
  rec.target = std::string(req.target());
  for (const auto& field : req) {
    auto [it, inserted] = rec.headers.emplace(lower(field.name_string()), std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  rec.body = req.body();
  const std::lock_guard lock(mutex_);
  requests_.push_back(std::move(rec));
  return seq;
}

// ---- FakeHttpServer ----------------------------------------------------------------------------

FakeHttpServer::FakeHttpServer(FakeServerOptions options, Planner planner)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(planner))) {}

FakeHttpServer::~FakeHttpServer() { impl_->stop(); }

void FakeHttpServer::start() { impl_->start(); }

void FakeHttpServer::stop() { impl_->stop(); }

std::uint16_t FakeHttpServer::port() const { return impl_->port_; }

std::string FakeHttpServer::root_url() const {
  const auto& o = impl_->options_;
  std::string host = o.host;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const char* scheme = !o.tls_cert_file.empty() && !o.tls_key_file.empty() ? "https" : "http";
  return std::string(scheme) + "://" + host + ":" + std::to_string(impl_->port_);
}

std::vector<RecordedRequest> FakeHttpServer::requests() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->requests_;
}

std::size_t FakeHttpServer::request_count() const { return impl_->request_count_; }

void FakeHttpServer::clear() {
  const std::lock_guard lock(impl_->mutex_);
  impl_->requests_.clear();
  impl_->request_count_ = 0;
}

std::size_t FakeHttpServer::connections_accepted() const { return impl_->connections_; }

std::size_t FakeHttpServer::requests_cancelled() const { return impl_->cancelled_; }

}  // namespace tollgate::testing
