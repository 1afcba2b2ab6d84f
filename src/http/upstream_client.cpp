#include "tollgate/http/upstream_client.hpp"

#include "http/buffered_parse.hpp"

#include <openssl/ssl.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace tollgate::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadBuffer = 8 * 1024;  // per open upstream response and connection: LLM answers are small

using PlainStream = tcp::socket;
using TlsStream = beast::ssl_stream<tcp::socket>;

std::string pool_key(const Url& url) {
  return std::string(url.tls ? "https://" : "http://") + url.host + ":" + std::to_string(url.port);
}

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

api::ApiError upstream_io_error(const beast::error_code& ec, bool timed_out, std::string_view phase,
                                const std::string& where) {
  if (timed_out) {
    return api::make_error(Errc::kUpstreamTimeout, "Upstream " + where + " timed out " + std::string(phase) + ".");
  }
  return api::make_error(Errc::kUpstreamConnect,
                         "Upstream " + where + " failed " + std::string(phase) + ": " + ec.message() + ".");
}

}  // namespace

struct Connection {
  Connection(asio::io_context& io, DeadlineSweeper& sweeper, std::string pool_key, std::string host_port)
      : stream(std::in_place_type<PlainStream>, io),
        deadline(sweeper, std::get<PlainStream>(stream)),
        key(std::move(pool_key)),
        where(std::move(host_port)) {}

  std::variant<PlainStream, TlsStream> stream;
  Deadline deadline;   // watches the TCP socket, wherever it lives in `stream`
  beast::flat_buffer buffer;
  std::string key;
  std::string where;   // host:port, for messages
  SteadyTime idle_since{};
};

namespace {

// Reads whatever arrives next into conn.buffer.
asio::awaitable<std::pair<beast::error_code, std::size_t>> read_raw(Connection& conn) {
  const auto space = conn.buffer.prepare(kReadBuffer);
  beast::error_code ec;
  std::size_t n = 0;
  if (auto* plain = std::get_if<PlainStream>(&conn.stream)) {
    std::tie(ec, n) = co_await plain->async_read_some(space, kTuple);
  } else {
    std::tie(ec, n) = co_await std::get<TlsStream>(conn.stream).async_read_some(space, kTuple);
  }
  conn.buffer.commit(n);
  co_return std::make_pair(ec, n);
}

// A call still in flight when the shutdown deadline passed (UpstreamClient::cut_all).
api::ApiError cut_error() {
  return api::make_error(Errc::kShuttingDown, "The gateway is shutting down: the upstream call was cut at the shutdown deadline.");
}

}  // namespace

struct UpstreamResponse::Parser {
  bhttp::response_parser<bhttp::buffer_body> parser;
  std::array<char, kReadBuffer> storage;  // deliberately not zero-filled: written before it is read
};

// ---- Url ---------------------------------------------------------------------------------------

std::optional<Url> Url::parse(std::string_view text) {
  Url url;
  if (text.starts_with("https://")) {
    url.tls = true;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  url.path = slash == std::string_view::npos ? std::string() : std::string(text.substr(slash));
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  url.host = std::string(host);
  url.port = url.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

// ---- UpstreamResponse --------------------------------------------------------------------------

UpstreamResponse::UpstreamResponse(UpstreamClient& client, std::unique_ptr<Connection> conn,
                                   std::unique_ptr<Parser> parser, std::chrono::milliseconds chunk_timeout)
    : client_(client), conn_(std::move(conn)), parser_(std::move(parser)), chunk_timeout_(chunk_timeout) {
  done_ = parser_->parser.is_done();
}

UpstreamResponse::~UpstreamResponse() {
  if (conn_ && done_ && reusable_ && parser_->parser.keep_alive()) client_.give_back(std::move(conn_));
}

unsigned UpstreamResponse::status() const { return parser_->parser.get().result_int(); }

std::string UpstreamResponse::header(std::string_view name) const {
  const auto& fields = parser_->parser.get();
  auto it = fields.find(name);
  return it == fields.end() ? std::string() : std::string(it->value());
}

bool UpstreamResponse::has_content_type(std::string_view type) const {
  return header("content-type").find(type) != std::string::npos;
}

asio::awaitable<api::ApiResult<std::string_view>> UpstreamResponse::read_some() {
  auto& parser = parser_->parser;
  while (!done_) {
    auto& body = parser.get().body();
    body.data = parser_->storage.data();
    body.size = parser_->storage.size();
    beast::error_code ec;
    std::size_t n = 0;
    bool read_socket = conn_->buffer.size() == 0;
    if (!read_socket) {
      // Bytes already received: parse them here, no asynchronous round trip.
      n = parser.put(conn_->buffer.data(), ec);
      conn_->buffer.consume(n);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == bhttp::error::need_more) {
        ec = {};
        read_socket = n == 0;  // only a fragment is buffered: it takes more bytes to progress
      }
    }
    if (read_socket) {
      conn_->deadline.expires_after(chunk_timeout_);
      if (auto* plain = std::get_if<PlainStream>(&conn_->stream)) {
        std::tie(ec, n) = co_await bhttp::async_read_some(*plain, conn_->buffer, parser, kTuple);
      } else {
        std::tie(ec, n) = co_await bhttp::async_read_some(std::get<TlsStream>(conn_->stream), conn_->buffer,
                                                           parser, kTuple);
      }
      if (ec == bhttp::error::need_buffer) ec = {};
    }
    if (ec) {
      reusable_ = false;
      done_ = true;
      if (conn_->deadline.cut()) co_return cut_error();
      if (conn_->deadline.expired()) {
        co_return api::make_error(Errc::kUpstreamTimeout, "Upstream " + conn_->where + " sent nothing for " +
                                                              std::to_string(chunk_timeout_.count()) + " ms.");
      }
      co_return api::make_error(Errc::kUpstreamProtocol,
                                "Upstream " + conn_->where + " connection broke mid-response: " + ec.message() + ".");
    }
    done_ = parser.is_done();
    const std::size_t got = parser_->storage.size() - body.size;
    if (got > 0) co_return std::string_view(parser_->storage.data(), got);
  }
  co_return std::string_view();
}

asio::awaitable<api::ApiResult<std::string>> UpstreamResponse::read_all(std::size_t limit) {
  std::string out;
  if (auto length = parser_->parser.content_length()) out.reserve(std::min<std::uint64_t>(*length, limit));
  for (;;) {
    auto piece = co_await read_some();
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return out;
    if (out.size() + piece->size() > limit) {
      reusable_ = false;
      co_return api::make_error(Errc::kUpstreamProtocol, "Upstream response exceeds " + std::to_string(limit) + " bytes.");
    }
    out.append(*piece);
  }
}

// ---- UpstreamClient ----------------------------------------------------------------------------

void UpstreamClient::cut_all() { sweeper_.cut_all(); }

UpstreamClient::UpstreamClient(asio::io_context& io, asio::ssl::context& tls, config::UpstreamSettings settings)
    : io_(io), tls_(tls), settings_(std::move(settings)), resolver_(io), sweeper_(io) {}

UpstreamClient::~UpstreamClient() = default;

std::unique_ptr<Connection> UpstreamClient::take_idle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!list.empty()) {
    std::unique_ptr<Connection> conn = std::move(list.back());
    list.pop_back();
    if (now - conn->idle_since < settings_.pool_idle_timeout) return conn;
  }
  return nullptr;
}

void UpstreamClient::give_back(std::unique_ptr<Connection> conn) {
  auto& list = idle_[conn->key];
  if (list.size() >= settings_.max_idle_per_host) return;
  conn->idle_since = std::chrono::steady_clock::now();
  conn->deadline.clear();
  list.push_back(std::move(conn));
}

asio::awaitable<api::ApiResult<std::unique_ptr<Connection>>> UpstreamClient::connect(const Url& url, SteadyTime deadline) {
  const std::string where = url.host + ":" + std::to_string(url.port);
  const std::string service = std::to_string(url.port);
  auto [rec, results] = co_await resolver_.async_resolve(url.host, service, kTuple);
  if (rec) co_return api::make_error(Errc::kUpstreamConnect, "Could not resolve upstream host " + url.host + ": " + rec.message() + ".");

  auto conn = std::make_unique<Connection>(io_, sweeper_, pool_key(url), where);
  const auto connect_deadline = std::min(deadline, std::chrono::steady_clock::now() + settings_.connect_timeout);
  {
    auto& socket = std::get<PlainStream>(conn->stream);
    conn->deadline.expires_at(connect_deadline);
    auto [cec, endpoint] = co_await asio::async_connect(socket, results, kTuple);
    if (cec) co_return upstream_io_error(cec, conn->deadline.expired(), "while connecting", where);
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
  }
  if (url.tls) {
    PlainStream plain = std::move(std::get<PlainStream>(conn->stream));
    conn->stream.emplace<TlsStream>(std::move(plain), tls_);
    auto& tls_stream = std::get<TlsStream>(conn->stream);
    conn->deadline.rebind(beast::get_lowest_layer(tls_stream));
    // SNI, and the name the certificate must carry (DNS name or IP address).
    if (!SSL_set_tlsext_host_name(tls_stream.native_handle(), url.host.c_str())) {
      co_return api::make_error(Errc::kUpstreamConnect, "Could not set TLS server name for " + where + ".");
    }
    if (tls_.native_handle() && SSL_CTX_get_verify_mode(tls_.native_handle()) != SSL_VERIFY_NONE) {
      tls_stream.set_verify_callback(ssl::host_name_verification(url.host));
    }
    conn->deadline.expires_at(connect_deadline);
    auto [hec] = co_await tls_stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
      if (conn->deadline.expired()) co_return upstream_io_error(hec, true, "during the TLS handshake", where);
      std::string detail = hec.message();
      const long verify = SSL_get_verify_result(tls_stream.native_handle());
      if (verify != X509_V_OK) detail += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
      co_return api::make_error(Errc::kUpstreamConnect, "TLS handshake with upstream " + where + " failed: " + detail + ".");
    }
  }
  co_return conn;
}

asio::awaitable<api::ApiResult<std::unique_ptr<UpstreamResponse>>> UpstreamClient::send(UpstreamRequest request) {
  const auto deadline = std::chrono::steady_clock::now() + request.first_byte_timeout;
  const std::string key = pool_key(request.url);

  // The request head is written by hand (Beast's serializer costs more than the rest of the
  // request path); the body follows it in the same write.
  std::string head;
  head.reserve(256);
  head.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\nHost: ");
  head.append(request.url.host);
  if (request.url.port != (request.url.tls ? 443 : 80)) head.append(":").append(std::to_string(request.url.port));
  head.append("\r\n");
  for (const auto& [name, value] : request.headers) head.append(name).append(": ").append(value).append("\r\n");
  head.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n\r\n");
  const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(request.body)};

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn = attempt == 0 ? take_idle(key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto connected = co_await connect(request.url, deadline);
      if (!connected) co_return connected.error();
      conn = std::move(*connected);
    }
    conn->deadline.expires_at(deadline);

    auto parser = std::make_unique<UpstreamResponse::Parser>();
    parser->parser.body_limit(boost::none);
    beast::error_code ec;
    std::size_t n = 0;
    if (auto* plain = std::get_if<PlainStream>(&conn->stream)) {
      std::tie(ec, n) = co_await asio::async_write(*plain, message, kTuple);
    } else {
      std::tie(ec, n) = co_await asio::async_write(std::get<TlsStream>(conn->stream), message, kTuple);
    }
    // The response header: parse what arrives, read again only when more is needed.
    bool received_any = false;
    if (!ec) {
      bool header_done = parse_buffered(parser->parser, conn->buffer, ParseGoal::kHeader, ec);
      while (!header_done && !ec) {
        auto [rec, got] = co_await read_raw(*conn);
        received_any |= got > 0;
        if (rec) {
          ec = rec;
          break;
        }
        header_done = parse_buffered(parser->parser, conn->buffer, ParseGoal::kHeader, ec);
      }
    }
    // Not eager: Beast's async_read_some would otherwise read past the bytes it parsed and, at an
    // upstream disconnect, report the error instead of the body it already has.
    if (ec && reused && !received_any && is_stale_connection_error(ec)) {
      // The upstream closed the idle connection: once more, on a new one.
      continue;
    }
    if (ec && conn->deadline.cut()) co_return cut_error();
    if (ec && conn->deadline.expired()) {
      co_return api::make_error(Errc::kUpstreamTimeout, "Upstream " + conn->where + " did not answer within " +
                                                            std::to_string(request.first_byte_timeout.count()) + " ms.");
    }
    if (ec) {
      const bool protocol = ec.category() == make_error_code(bhttp::error::bad_version).category() && ec != bhttp::error::end_of_stream;
      co_return api::make_error(protocol ? Errc::kUpstreamProtocol : Errc::kUpstreamConnect,
                                "Upstream " + conn->where + " failed before answering: " + ec.message() + ".");
    }
    co_return std::unique_ptr<UpstreamResponse>(
        new UpstreamResponse(*this, std::move(conn), std::move(parser), request.chunk_timeout));
  }
  co_return api::make_error(Errc::kUpstreamConnect, "Upstream connection failed twice.");
}

std::unique_ptr<asio::ssl::context> make_client_tls_context(const config::UpstreamSettings& settings) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (!settings.ssl_verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  ctx->set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (!settings.ca_file.empty()) {
    ctx->load_verify_file(settings.ca_file, ec);
    if (ec) throw std::runtime_error("cannot load CA bundle '" + settings.ca_file + "': " + ec.message());
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system CA store: " + ec.message());
  }
  return ctx;
}

}  // namespace tollgate::http
