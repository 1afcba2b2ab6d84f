#include "support/http_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

namespace tollgate::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::uint64_t kMaxResponseBody = 256ull << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string find_header(const Headers& headers, const std::string& name) {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string{} : it->second;
}

// Runs the asynchronous operation `initiate(handler)` starts on `io` until its handler has run.
// The stream's deadline guarantees that it does.
template <class Initiate>
error_code run(asio::io_context& io, Initiate&& initiate) {
  error_code result;
  bool done = false;
  std::forward<Initiate>(initiate)([&](error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  while (!done && io.run_one() > 0) {
  }
  return result;
}

[[noreturn]] void fail(error_code ec, const std::string& what) { throw boost::system::system_error(ec, what); }

void connect(asio::io_context& io, beast::tcp_stream& stream, std::uint16_t port, std::chrono::milliseconds timeout) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  stream.expires_after(timeout);
  if (error_code ec = run(io, [&](auto handler) { stream.async_connect(endpoint, std::move(handler)); }))
    fail(ec, "connect to 127.0.0.1:" + std::to_string(port));
  stream.socket().set_option(tcp::no_delay(true));
}

http::request<http::string_body> make_request(std::uint16_t port, const std::string& method, const std::string& target,
                                              std::string body, const Headers& headers) {
  http::request<http::string_body> req;
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::user_agent, "tollgate-test-client");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

template <class Fields>
Headers collect_headers(const Fields& fields) {
  Headers out;
  for (const auto& field : fields) {
    auto [it, inserted] = out.emplace(lower(field.name_string()), std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  return out;
}

// Writes `req` and reads the whole response from an open stream.
HttpResponse exchange(asio::io_context& io, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                      http::request<http::string_body>& req, std::chrono::milliseconds timeout, bool& keep_alive) {
  stream.expires_after(timeout);
  if (error_code ec = run(io, [&](auto handler) { http::async_write(stream, req, std::move(handler)); }))
    fail(ec, "send request");
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  if (req.method() == http::verb::head) parser.skip(true);
  stream.expires_after(timeout);
  if (error_code ec = run(io, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); }))
    fail(ec, "read response");
  auto res = parser.release();
  keep_alive = res.keep_alive();
  return HttpResponse{res.result_int(), collect_headers(res), std::move(res.body())};
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const { return find_header(headers, name); }

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body, nullptr, false); }

HttpResponse http_request(std::uint16_t port, std::string method, std::string target, std::string body, Headers headers,
                          std::chrono::milliseconds timeout) {
  asio::io_context io(1);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  connect(io, stream, port, timeout);
  auto req = make_request(port, method, target, std::move(body), headers);
  req.keep_alive(false);
  bool keep_alive = false;
  HttpResponse res = exchange(io, stream, buffer, req, timeout, keep_alive);
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  return res;
}

// ---- HttpConnection ----------------------------------------------------------------------------

struct HttpConnection::State {
  asio::io_context io{1};
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  std::uint16_t port = 0;
  std::chrono::milliseconds timeout{};
  bool open = false;
};

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : state_(std::make_unique<State>()) {
  state_->port = port;
  state_->timeout = timeout;
  connect(state_->io, state_->stream, port, timeout);
  state_->open = true;
}

HttpConnection::~HttpConnection() = default;

HttpResponse HttpConnection::request(std::string method, std::string target, std::string body, Headers headers) {
  State& s = *state_;
  if (!s.open) throw std::logic_error("HttpConnection: connection is closed");
  auto req = make_request(s.port, method, target, std::move(body), headers);
  bool keep_alive = false;
  try {
    HttpResponse res = exchange(s.io, s.stream, s.buffer, req, s.timeout, keep_alive);
    if (!keep_alive) {
      s.open = false;
      s.stream.close();
    }
    return res;
  } catch (...) {
    s.open = false;
    s.stream.close();
    throw;
  }
}

bool HttpConnection::is_open() const { return state_->open; }

// ---- StreamReader ------------------------------------------------------------------------------

struct StreamReader::State {
  asio::io_context io{1};
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  Headers headers;
  bool done = false;      // no more body will be returned
  bool complete = false;  // the body ended as framed
};

StreamReader::StreamReader(std::uint16_t port, std::string method, std::string target, std::string body,
                           Headers headers, std::chrono::milliseconds timeout)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  connect(s.io, s.stream, port, timeout);
  auto req = make_request(port, method, target, std::move(body), headers);
  s.stream.expires_after(timeout);
  if (error_code ec = run(s.io, [&](auto handler) { http::async_write(s.stream, req, std::move(handler)); }))
    fail(ec, "send request");
  s.parser.body_limit(boost::none);
  s.stream.expires_after(timeout);
  if (error_code ec =
          run(s.io, [&](auto handler) { http::async_read_header(s.stream, s.buffer, s.parser, std::move(handler)); }))
    fail(ec, "read response header");
  s.headers = collect_headers(s.parser.get().base());
}

StreamReader::~StreamReader() = default;

unsigned StreamReader::status() const { return state_->parser.get().result_int(); }

std::string StreamReader::header(const std::string& name) const { return find_header(state_->headers, name); }

const Headers& StreamReader::headers() const { return state_->headers; }

std::optional<std::string> StreamReader::read_some(std::chrono::milliseconds timeout) {
  State& s = *state_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 16384> chunk{};
  while (!s.done) {
    if (s.parser.is_done()) {
      s.done = true;
      s.complete = true;
      break;
    }
    auto& body = s.parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    s.stream.expires_at(deadline);
    error_code ec =
        run(s.io, [&](auto handler) { http::async_read_some(s.stream, s.buffer, s.parser, std::move(handler)); });
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t n = chunk.size() - s.parser.get().body().size;
    s.parser.get().body().data = nullptr;
    if (ec == beast::error::timeout) {
      s.done = true;
      fail(ec, "StreamReader::read_some");
    }
    if (ec) {  // closed, reset, or cut mid-body
      s.done = true;
      s.stream.close();
    }
    if (n > 0) return std::string(chunk.data(), n);
  }
  return std::nullopt;
}

std::string StreamReader::read_all(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto piece = read_some(std::max(left, std::chrono::milliseconds(1)));
    if (!piece) return out;
    out += *piece;
  }
}

bool StreamReader::complete() const { return state_->complete; }

void StreamReader::close() {
  state_->done = true;
  error_code ignored;
  state_->stream.socket().close(ignored);
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace tollgate::testing
