#pragma once
// A loopback HTTP/1.1 server for tests: the transport every fake upstream and receiver shares.
//
// FakeHttpServer serves HTTP (or HTTPS with a cert/key pair) on its own io_context and thread, port
// 0 by default. It reads each request in full, records it, asks its planner what to answer (a
// FakeExchange, decided without I/O: fake_exchange.hpp) and carries out the transport's side of the
// fault controls: a delay before the headers, a hang until the client leaves, pauses between stream
// events, a cut after half a body or before a stream's last chunk. A fake is a planner on top: the
// vendor upstreams (FakeProvider) and the webhook receiver (FakeWebhook) supply their wire format
// only.
//
// Thread safety: all public members may be called from any thread; the planner runs on the server's
// thread, one request at a time. start() and stop() must not race each other. The destructor stops
// the server; a derived class whose planner reads its own members stops in its own destructor.
// Lifetime: keeps copies of the options and the planner; holds no references to the caller's objects.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

struct FakeServerOptions {
  std::string host = "127.0.0.1";  // address to bind
  std::uint16_t port = 0;          // 0: any free port, see port()
  std::string tls_cert_file;       // PEM chain; with tls_key_file set: serve HTTPS
  std::string tls_key_file;        // PEM private key
  bool record_requests = true;     // keep every request for requests(); off for long benchmarks
};

struct RecordedRequest {
  std::string method;                          // "POST"
  std::string target;                          // as received, including any `/key=value` prefix
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined by ", "
  std::string body;                            // raw body
};

class FakeHttpServer {
 public:
  // What to answer a request; `seq` in it counts requests from 1.
  using Planner = std::function<FakeExchange(const FakeRequest&)>;

  FakeHttpServer(FakeServerOptions options, Planner planner);
  ~FakeHttpServer();  // stops
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // Binds and starts serving; the port is known when this returns. Throws on bind or TLS setup errors.
  void start();
  // Closes the listener and every connection (in-flight requests are dropped) and joins the thread.
  void stop();

  std::uint16_t port() const;
  std::string root_url() const;  // "http(s)://127.0.0.1:PORT" (a wildcard host reads as 127.0.0.1)

  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  void clear();  // forgets recorded requests (counters are kept)

  std::size_t connections_accepted() const;  // to assert keep-alive reuse
  // Requests whose client went away before the reply ended: seen when a stream write fails, or when
  // the peer closes during a delay, a hang or between stream chunks.
  std::size_t requests_cancelled() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::testing
