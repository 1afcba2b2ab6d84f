#include "tollgate/http/server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <spdlog/logger.h>

#include "tollgate/api/api_error.hpp"
#include "tollgate/http/deadline.hpp"
#include "tollgate/metrics/server_metrics.hpp"
#include "http/buffered_parse.hpp"
#include "http/server_limits.hpp"

namespace tollgate::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::string_view kCrLf = "\r\n";
constexpr std::size_t kHeaderReadSize = 8 * 1024;
constexpr std::size_t kBodyReadSize = 64 * 1024;
constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Header values can carry client input (the model group name): drop CR, LF and other controls so
// nothing can split the response.
void append_header_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out.push_back(c);
  }
}

/// An HTTP/1.1 response head. `content_length` nullopt means a chunked body.
void append_response_head(std::string& out, unsigned status, std::string_view content_type, const HeaderList& headers,
                          bool keep_alive, std::optional<std::size_t> content_length) {
  out.append("HTTP/1.1 ");
  out.append(std::to_string(status));
  out.push_back(' ');
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(reason.data(), reason.size());
  out.append(kCrLf);
  if (!content_type.empty()) {
    out.append("Content-Type: ");
    append_header_value(out, content_type);
    out.append(kCrLf);
  }
  for (const auto& [name, value] : headers) {
    out.append(name);
    out.append(": ");
    append_header_value(out, value);
    out.append(kCrLf);
  }
  if (content_length) {
    out.append("Content-Length: ");
    out.append(std::to_string(*content_length));
    out.append(kCrLf);
  } else {
    out.append("Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n");
  }
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append(kCrLf);
}

// An HTTP/1.0 client keeps the connection only when told so explicitly.
void insert_keep_alive_for_http10(std::string& head) {
  head.insert(head.size() - kCrLf.size(), "Connection: keep-alive\r\n");
}

void append_chunk_size(std::string& out, std::size_t size) {
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
  out.append(hex, end);
  out.append(kCrLf);
}

// The 503 a connection over the limit receives before it is closed.
std::string refusal_response(std::size_t limit) {
  const std::string body = api::error_json(api::make_error(
      Errc::kShuttingDown,  // 503 service_unavailable; the message says why
      "The gateway has reached its limit of " + std::to_string(limit) + " open connections. Retry shortly."));
  std::string out;
  append_response_head(out, 503, "application/json", HeaderList{{"Retry-After", "1"}}, false, body.size());
  return out + body;
}

// An io_context whose shutdown (destroying pending handlers and coroutine frames) can be called
// before the objects those frames refer to are destroyed.
class WorkerIo : public asio::io_context {
 public:
  WorkerIo() : asio::io_context(1) {}
  using asio::execution_context::shutdown;
};

}  // namespace

struct Server::Worker {
  Worker(Server& server, unsigned index) : server_(server), index_(index), acceptor_(io_), sweeper_(io_) {}
  ~Worker() {
    // Suspended sessions refer to handler_ and sessions_: destroy their frames first.
    io_.shutdown();
    handler_.reset();
  }

  struct Session;

  void open(const tcp::endpoint& endpoint) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.set_option(ReusePort(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  void run() {
    handler_ = server_.factory_(index_, io_);
    asio::co_spawn(io_, accept_loop(), [log = server_.log_](std::exception_ptr e) {
      if (e) log->error("msg=\"accept loop failed\"");
    });
    thread_ = std::thread([this] { io_.run(); });
  }

  // One of the process's max_connections, held by a session for its whole life.
  class Slot {
   public:
    explicit Slot(Server& server) : server_(&server) {}
    Slot(Slot&& other) noexcept : server_(std::exchange(other.server_, nullptr)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (server_ == nullptr) return;
      server_->open_connections_.fetch_sub(1, std::memory_order_relaxed);
      if (server_->metrics_) server_->metrics_->connection_closed();
    }

   private:
    Server* server_;
  };

  asio::awaitable<void> accept_loop() {
    // A failed accept (EMFILE, ENFILE, ENOBUFS) leaves the connection in the backlog and the
    // listener readable, so retrying at once would spin. The loop pauses on a timer instead (the
    // worker keeps serving its sessions meanwhile), longer after each failure up to a bound, and
    // accepts again as soon as descriptors are free.
    constexpr std::chrono::milliseconds kFirstPause{10};
    constexpr std::chrono::milliseconds kLongestPause{500};
    asio::steady_timer backoff(io_);
    std::chrono::milliseconds pause = kFirstPause;
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      if (ec) {
        if (server_.metrics_) server_.metrics_->accept_failed();
        if (log_due(server_.accept_error_logged_)) {
          server_.log_->error("msg=\"accept failed; pausing accepts, serving open connections\" error=\"{}\" "
                              "open_connections={} hint=\"raise the descriptor limit (ulimit -n) or lower "
                              "max_connections\"",
                              ec.message(), server_.open_connections());
        }
        backoff.expires_after(pause);
        co_await backoff.async_wait(kTuple);
        pause = std::min(pause * 2, kLongestPause);
        continue;
      }
      pause = kFirstPause;
      if (server_.open_connections_.fetch_add(1, std::memory_order_relaxed) >= server_.max_connections_) {
        server_.open_connections_.fetch_sub(1, std::memory_order_relaxed);
        refuse(socket);
        continue;
      }
      Slot slot(server_);
      if (server_.metrics_) server_.metrics_->connection_opened();
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io_, run_session(std::move(socket), std::move(slot)), [log = server_.log_](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log->error("msg=\"session failed\" error=\"{}\"", ex.what());
        }
      });
    }
  }

  // Over max_connections: the client gets a 503 (one non-blocking write into an empty send
  // buffer) and the connection closes at once, so a flood costs a descriptor only for a moment
  // while the connections already open are served as usual.
  void refuse(tcp::socket& socket) {
    if (server_.metrics_) server_.metrics_->connection_refused();
    server_.refused_unlogged_.fetch_add(1, std::memory_order_relaxed);
    if (log_due(server_.refusal_logged_)) {
      server_.log_->warn("msg=\"refusing connections: at max_connections\" max_connections={} refused={}",
                         server_.max_connections_, server_.refused_unlogged_.exchange(0, std::memory_order_relaxed));
    }
    beast::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(server_.refusal_), ec);
    // Unread request bytes would turn the close into a reset that can discard the 503.
    std::array<char, 4096> scratch;
    for (int i = 0; i < 16 && !ec && socket.available(ec) > 0; ++i) socket.read_some(asio::buffer(scratch), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  asio::awaitable<void> run_session(tcp::socket socket, [[maybe_unused]] Slot slot);

  void drain();

  Server& server_;
  unsigned index_;
  WorkerIo io_;
  tcp::acceptor acceptor_;
  DeadlineSweeper sweeper_;
  std::unique_ptr<Handler> handler_;
  std::unordered_set<Session*> sessions_;  // touched only on this worker's thread
  std::thread thread_;
};

struct Server::Worker::Session final : Exchange {
  Session(Worker& worker, tcp::socket socket)
      : worker_(worker), socket_(std::move(socket)), deadline_(worker.sweeper_, socket_),
        accepted_at_(std::chrono::steady_clock::now()) {
    worker_.sessions_.insert(this);
  }
  ~Session() override { worker_.sessions_.erase(this); }

  const config::ServerSettings& settings() const { return worker_.server_.settings_; }

  void cancel_if_idle() {
    if (idle_) {
      beast::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.cancel(ec);
    }
  }

  // ---- Exchange ------------------------------------------------------------------------------
  const Request& request() const override { return parser_->get(); }
  SteadyTime received_at() const override { return received_at_; }
  bool draining() const override { return worker_.server_.draining(); }
  bool stopping() const override { return worker_.server_.stopping(); }

  bool keep_alive() const { return parser_->get().keep_alive() && !draining(); }

  asio::awaitable<bool> write_buffers(const std::array<asio::const_buffer, 3>& buffers) {
    deadline_.expires_after(settings().idle_timeout);
    auto [ec, n] = co_await asio::async_write(socket_, buffers, kTuple);
    if (ec) failed_ = true;
    co_return !ec;
  }

  asio::awaitable<bool> send(unsigned status, std::string_view content_type, std::string&& body,
                             const HeaderList& headers) override {
    const bool keep = parser_ && keep_alive();
    head_.clear();
    append_response_head(head_, status, content_type, headers, keep, body.size());
    if (keep && parser_->get().version() == 10) insert_keep_alive_for_http10(head_);
    responded_ = true;
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(head_), asio::buffer(body), asio::const_buffer()};
    const bool ok = co_await write_buffers(buffers);
    if (!keep) close_after_ = true;
    co_return ok;
  }

  asio::awaitable<bool> begin_stream(unsigned status, std::string_view content_type,
                                     const HeaderList& headers) override {
    const bool keep = keep_alive();
    head_.clear();
    append_response_head(head_, status, content_type, headers, keep, std::nullopt);
    responded_ = true;
    streaming_ = true;
    if (!keep) close_after_ = true;
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(head_), asio::const_buffer(), asio::const_buffer()};
    co_return co_await write_buffers(buffers);
  }

  asio::awaitable<bool> write_chunk(std::string_view data) override {
    if (failed_) co_return false;
    if (data.empty()) co_return true;  // an empty chunk would end the body
    chunk_size_line_.clear();
    append_chunk_size(chunk_size_line_, data.size());
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(chunk_size_line_), asio::buffer(data.data(), data.size()),
                                                    asio::buffer(kCrLf.data(), kCrLf.size())};
    co_return co_await write_buffers(buffers);
  }

  asio::awaitable<bool> end_stream() override {
    if (failed_) co_return false;
    const std::array<asio::const_buffer, 3> buffers{asio::buffer(kLastChunk.data(), kLastChunk.size()),
                                                    asio::const_buffer(), asio::const_buffer()};
    const bool ok = co_await write_buffers(buffers);
    streaming_ = false;
    co_return ok;
  }

  void close_after_response() override { close_after_ = true; }

  // Reads whatever arrives next into buffer_: small reads for headers (every open connection
  // keeps this buffer), large ones only while a body streams in.
  asio::awaitable<beast::error_code> read_more(SteadyTime until, std::size_t read_size) {
    deadline_.expires_at(until);
    const auto space = buffer_.prepare(read_size);
    auto [ec, n] = co_await socket_.async_read_some(space, kTuple);
    buffer_.commit(n);
    co_return ec;
  }

  // What a parse error means for the client (nullopt for no error).
  std::optional<api::ApiError> unreadable_error(const beast::error_code& ec) const {
    if (!ec) return std::nullopt;
    if (ec == bhttp::error::header_limit) {
      count_unreadable(metrics::UnreadableRequest::kHeaderTooLarge);
      return api::make_error(Errc::kBodyTooLarge, "Request headers are too large.");
    }
    if (ec == bhttp::error::body_limit) {
      count_unreadable(metrics::UnreadableRequest::kBodyTooLarge);
      return body_too_large();
    }
    count_unreadable(metrics::UnreadableRequest::kMalformed);
    return api::make_error(Errc::kInvalidRequest, "Malformed HTTP request: " + ec.message() + ".");
  }

  void count_unreadable(metrics::UnreadableRequest reason) const {
    if (auto* m = worker_.server_.metrics_) m->unreadable(reason);
  }
  void count_timeout(metrics::ReadPhase phase) const {
    if (auto* m = worker_.server_.metrics_) m->read_timeout(phase);
  }

  api::ApiError body_too_large() const {
    return api::make_error(Errc::kBodyTooLarge, "Request body exceeds the limit of " +
                                                    std::to_string(settings().max_request_body_bytes) + " bytes.");
  }

  // Answers a request that could not be read, then the connection closes (lingering, so a client
  // still sending its body reads this answer instead of a reset).
  asio::awaitable<void> reply_error(const api::ApiError& error) {
    parser_.reset();
    linger_ = true;
    std::string body = api::error_json(error);
    const HeaderList none;
    co_await send(error.status, "application/json", std::move(body), none);
  }

  asio::awaitable<void> run();

  Worker& worker_;
  tcp::socket socket_;
  Deadline deadline_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  SteadyTime accepted_at_;
  SteadyTime received_at_{};
  bool idle_ = false;
  bool failed_ = false;
  bool responded_ = false;
  bool streaming_ = false;
  bool close_after_ = false;
  bool linger_ = false;
  std::string head_;              // serialized response head, reused across requests
  std::string chunk_size_line_;   // "<hex>\r\n" of the chunk being written
};

void Server::Worker::drain() {
  asio::post(io_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    for (Session* s : sessions_) s->cancel_if_idle();
  });
}

asio::awaitable<void> Server::Worker::run_session(tcp::socket socket, [[maybe_unused]] Slot slot) {
  Session session(*this, std::move(socket));
  co_await session.run();
  // `slot` is released with this frame: after the socket closed.
}

asio::awaitable<void> Server::Worker::Session::run() {
  Server& server = worker_.server_;
  const auto& cfg = settings();
  bool first_request = true;
  for (;;) {
    parser_.emplace();
    limit_request_parser(*parser_, cfg);
    responded_ = false;

    // The header: parse what is buffered, read only when more is needed. header_timeout bounds
    // the whole header, not each read, so a client trickling a byte at a time cannot hold the
    // connection (slowloris). It runs from the accept for a connection's first request, and from
    // the first byte for later ones; until that byte a keep-alive connection is idle
    // (idle_timeout; a drain cancels it).
    bool close = false;
    beast::error_code pec;
    std::optional<SteadyTime> header_deadline;
    if (first_request) header_deadline = accepted_at_ + cfg.header_timeout;
    first_request = false;
    bool header_done = parse_buffered(*parser_, buffer_, ParseGoal::kHeader, pec);
    while (!header_done && !pec) {
      const bool idle = buffer_.size() == 0 && !parser_->got_some();
      if (idle && server.draining()) {
        close = true;
        break;
      }
      idle_ = idle;
      const SteadyTime now = std::chrono::steady_clock::now();
      if (!idle && !header_deadline) header_deadline = now + cfg.header_timeout;
      const SteadyTime until = header_deadline ? *header_deadline : now + cfg.idle_timeout;
      const beast::error_code rec = co_await read_more(until, kHeaderReadSize);
      idle_ = false;
      if (rec) {
        close = true;  // gone, idle too long, or too slow with its headers
        break;
      }
      header_done = parse_buffered(*parser_, buffer_, ParseGoal::kHeader, pec);
    }
    std::optional<api::ApiError> unreadable;
    if (close && header_deadline && deadline_.expired()) {
      count_timeout(metrics::ReadPhase::kHeader);
      // Part of a request came: say why it ends. A connection that sent nothing just closes.
      if (buffer_.size() > 0 || parser_->got_some()) {
        unreadable = read_timeout_error("Timed out reading the request headers.");
      }
    }
    if (!unreadable && !close) unreadable = unreadable_error(pec);
    if (!unreadable && !close) {
      unreadable = transfer_encoding_error(parser_->get());
      if (unreadable) count_unreadable(metrics::UnreadableRequest::kTransferEncoding);
    }
    if (unreadable) {
      co_await reply_error(*unreadable);
      break;
    }
    if (close) break;
    received_at_ = std::chrono::steady_clock::now();

    // The body.
    parser_->eager(true);
    bool done = parse_buffered(*parser_, buffer_, ParseGoal::kMessage, pec);
    if (!done && !pec && beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      const asio::const_buffer continue_line(kContinue.data(), kContinue.size());
      deadline_.expires_after(cfg.idle_timeout);
      auto [cec, cn] = co_await asio::async_write(socket_, continue_line, kTuple);
      if (cec) break;
    }
    // body_timeout bounds the whole body, from the end of the header.
    const SteadyTime body_deadline = received_at_ + cfg.body_timeout;
    while (!done && !pec) {
      const beast::error_code rec = co_await read_more(body_deadline, kBodyReadSize);
      if (rec) {
        if (deadline_.expired()) {
          count_timeout(metrics::ReadPhase::kBody);
          unreadable = read_timeout_error("Timed out reading the request body.");
        }
        close = true;
        break;
      }
      done = parse_buffered(*parser_, buffer_, ParseGoal::kMessage, pec);
    }
    if (!unreadable) unreadable = unreadable_error(pec);
    if (unreadable) {
      co_await reply_error(*unreadable);
      break;
    }
    if (close) break;

    deadline_.clear();  // the handler sets its own deadlines for what it writes
    server.active_.fetch_add(1, std::memory_order_relaxed);
    bool threw = false;
    try {
      co_await worker_.handler_->handle(*this);
    } catch (const std::exception& ex) {
      server.log_->error("msg=\"handler threw\" error=\"{}\"", ex.what());
      threw = true;
    }
    if (threw) {
      if (!responded_) {
        const api::ApiError internal = api::make_error(Errc::kInternal, "Internal error.");
        co_await reply_error(internal);
      }
      failed_ = true;  // close: the handler's state for this connection is unknown
    }
    server.active_.fetch_sub(1, std::memory_order_relaxed);
    if (failed_ || streaming_ || close_after_ || !responded_ || !keep_alive()) break;
    // An idle keep-alive connection keeps neither the last request nor a large read buffer.
    parser_.reset();
    if (buffer_.size() == 0 && buffer_.capacity() > kBodyReadSize) buffer_.shrink_to_fit();
  }
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (linger_ && !ec) {
    // Discard what the client still sends, briefly and boundedly (nginx's lingering close).
    constexpr std::size_t kMaxDiscard = 64u << 20;
    std::array<char, 16 * 1024> scratch;
    std::size_t discarded = 0;
    deadline_.expires_after(std::chrono::seconds(2));
    while (discarded < kMaxDiscard) {
      const asio::mutable_buffer space(scratch.data(), scratch.size());
      auto [rec, n] = co_await socket_.async_read_some(space, kTuple);
      if (rec) break;
      discarded += n;
    }
  }
  deadline_.clear();
  socket_.close(ec);
}

unsigned worker_count(const config::ServerSettings& settings) {
  return settings.num_workers ? settings.num_workers : std::max(1u, std::thread::hardware_concurrency());
}

Server::Server(config::ServerSettings settings, HandlerFactory factory, std::shared_ptr<spdlog::logger> log,
               metrics::ServerMetrics* metrics)
    : settings_(std::move(settings)), factory_(std::move(factory)), log_(std::move(log)), metrics_(metrics) {}

Server::~Server() {
  stop();
  workers_.clear();
}

std::uint16_t Server::start() {
  const unsigned n = worker_count(settings_);
  const auto address = asio::ip::make_address(settings_.host);
  std::uint16_t port = settings_.port;
  // Port 0 needs no probe: the kernel never picks an ephemeral port another socket listens on.
  if (port != 0 && !settings_.reuse_port) ensure_port_free(tcp::endpoint(address, port));
  max_connections_ = connection_limit(settings_);
  refusal_ = refusal_response(max_connections_);
  for (unsigned i = 0; i < n; ++i) {
    auto worker = std::make_unique<Worker>(*this, i);
    try {
      worker->open(tcp::endpoint(address, port));
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + settings_.host + ":" + std::to_string(port) + ": " +
                               e.code().message());
    }
    // With port 0 the first acceptor picks the port; the others join it through SO_REUSEPORT.
    if (i == 0) port = worker->acceptor_.local_endpoint().port();
    workers_.push_back(std::move(worker));
  }
  port_ = port;
  for (auto& w : workers_) w->run();
  log_->info("msg=\"listening\" port={} workers={} max_connections={}", port_, n, max_connections_);
  return port_;
}

void Server::begin_drain() {
  draining_.store(true);
  for (auto& w : workers_) w->drain();
}

void Server::cut_inflight() {
  for (auto& w : workers_) {
    asio::post(w->io_, [worker = w.get()] {
      if (worker->handler_) worker->handler_->cut_inflight();
    });
  }
}

bool Server::wait_idle(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (active_.load() != 0) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_) w->io_.stop();
  for (auto& w : workers_) {
    if (w->thread_.joinable()) w->thread_.join();
  }
  // The workers (io_contexts, handlers) live on until the destructor: whatever still holds one of
  // their executors (a Redis call completing on SharedState's thread) can post to it until then.
}

}  // namespace tollgate::http
