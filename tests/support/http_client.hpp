#pragma once
// A small synchronous HTTP/1.1 client for integration tests, talking to 127.0.0.1:<port>.
//
// Every operation has a deadline. Beast's synchronous calls ignore tcp_stream's expires_after, so each
// call runs the asynchronous operation on the object's private io_context until it completes or its
// deadline closes the socket: the API blocks, but can never hang.
//
// Requests get `Host`, `User-Agent` and, with a body, `Content-Type: application/json` unless the
// caller's headers set them. Failures to connect, send or read, and timeouts, throw
// boost::system::system_error (a timeout carries beast::error::timeout).
//
// Thread safety: distinct objects may be used from distinct threads; one object is not thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tollgate::testing {

using Headers = std::map<std::string, std::string>;

struct HttpResponse {
  unsigned status = 0;
  Headers headers;  // lower-case names; repeated headers joined by ", "
  std::string body;

  // The header's value, or "" when absent; `name` in any case.
  std::string header(const std::string& name) const;
  // The body parsed as JSON; a discarded value (is_discarded()) when it is not JSON.
  nlohmann::json json() const;
};

// `s` with every byte but ASCII letters, digits and "-_.~" as %XX: for query values and the fake
// provider's `/key=value` controls.
std::string percent_encode(std::string_view s);

// One request on a fresh connection, closed afterwards.
HttpResponse http_request(std::uint16_t port, std::string method, std::string target, std::string body = {},
                          Headers headers = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// One keep-alive connection; requests go over it in turn.
class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Throws std::logic_error when the connection is no longer open.
  HttpResponse request(std::string method, std::string target, std::string body = {}, Headers headers = {});
  // False once the server asked to close, or after an I/O failure.
  bool is_open() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Sends one request and reads the response body piece by piece as it arrives (chunked transfer
// decoded), for SSE streams and client-disconnect tests.
class StreamReader {
 public:
  // Connects, sends, and reads the response headers within `timeout`.
  StreamReader(std::uint16_t port, std::string method, std::string target, std::string body = {}, Headers headers = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  unsigned status() const;
  std::string header(const std::string& name) const;  // "" when absent
  const Headers& headers() const;

  // The next piece of body; nullopt at the end of the body or when the connection closed.
  // Throws on timeout.
  std::optional<std::string> read_some(std::chrono::milliseconds timeout);
  // The rest of the body (until the end or a close). Throws on timeout.
  std::string read_all(std::chrono::milliseconds timeout);
  // True once the body ended as framed (last chunk or full content-length); false if it was cut.
  bool complete() const;
  // Abrupt disconnect, as a client going away.
  void close();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tollgate::testing
