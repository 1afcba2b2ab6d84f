#pragma once
// The client side: sends a request to a provider over a pooled keep-alive connection (HTTP or
// HTTPS with certificate and hostname verification, SNI) and lets the caller read the response
// body incrementally, so streams are relayed chunk by chunk.
//
// Deadlines: `first_byte_timeout` bounds connect + TLS + send + response headers;
// `chunk_timeout` bounds each wait for more body. A pooled connection the upstream closed while
// idle is detected on use and the request is retried once on a fresh connection, transparently,
// only when no byte of a response was received.
//
// Thread safety: one UpstreamClient per worker thread; it and its responses are used only there.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/deadline.hpp"
#include "tollgate/http/server.hpp"

namespace tollgate::http {

/// A parsed http(s) URL.
struct Url {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string path;  // without trailing '/', may be empty
  /// Accepts http:// and https:// URLs with a host; nullopt otherwise.
  static std::optional<Url> parse(std::string_view text);
};

struct UpstreamRequest {
  std::string method = "POST";
  Url url;                    // scheme, host, port
  std::string target;         // path and query sent on the request line
  HeaderList headers;
  std::string body;
  std::chrono::milliseconds first_byte_timeout{600'000};
  std::chrono::milliseconds chunk_timeout{120'000};
};

struct Connection;  // defined in upstream_client.cpp

class UpstreamClient;

/// The response of one upstream request, holding its connection until the body is read.
class UpstreamResponse {
 public:
  ~UpstreamResponse();
  UpstreamResponse(const UpstreamResponse&) = delete;
  UpstreamResponse& operator=(const UpstreamResponse&) = delete;

  unsigned status() const;
  std::string header(std::string_view name) const;
  /// The content-type header names `type` (parameters such as charset aside).
  bool has_content_type(std::string_view type) const;

  /// The next piece of the body; an empty view means the body is complete. The view is valid
  /// until the next call.
  asio::awaitable<api::ApiResult<std::string_view>> read_some();
  /// The rest of the body, failing when it exceeds `limit` bytes.
  asio::awaitable<api::ApiResult<std::string>> read_all(std::size_t limit);
  /// Do not return the connection to the pool (e.g. the client left mid-stream).
  void abandon() { reusable_ = false; }

 private:
  friend class UpstreamClient;
  struct Parser;
  UpstreamResponse(UpstreamClient& client, std::unique_ptr<Connection> conn, std::unique_ptr<Parser> parser,
                   std::chrono::milliseconds chunk_timeout);

  UpstreamClient& client_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Parser> parser_;
  std::chrono::milliseconds chunk_timeout_;
  bool reusable_ = true;
  bool done_ = false;
};

class UpstreamClient {
 public:
  /// `tls` must outlive the client (shared by all workers; SSL_CTX is thread-safe once configured).
  UpstreamClient(asio::io_context& io, asio::ssl::context& tls, config::UpstreamSettings settings);
  ~UpstreamClient();

  asio::awaitable<api::ApiResult<std::unique_ptr<UpstreamResponse>>> send(UpstreamRequest request);
  /// Cancels every call in flight now; each fails with Errc::kShuttingDown. For the shutdown
  /// deadline: answers and streams end with an error the client can read, and settle.
  void cut_all();

 private:
  friend class UpstreamResponse;
  asio::awaitable<api::ApiResult<std::unique_ptr<Connection>>> connect(const Url& url, SteadyTime deadline);
  std::unique_ptr<Connection> take_idle(const std::string& key);
  void give_back(std::unique_ptr<Connection> conn);

  asio::io_context& io_;
  asio::ssl::context& tls_;
  config::UpstreamSettings settings_;
  asio::ip::tcp::resolver resolver_;
  DeadlineSweeper sweeper_;  // before idle_: pooled connections unregister from it when destroyed
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

/// Builds the TLS client context from the settings (verification on unless ssl_verify is false;
/// CA bundle from ca_file, else the system store). Throws std::runtime_error on a bad CA file.
std::unique_ptr<asio::ssl::context> make_client_tls_context(const config::UpstreamSettings& settings);

}  // namespace tollgate::http
