#pragma once
// A loopback OpenAI-compatible upstream for integration tests, end-to-end tests and benchmarks.
//
// FakeProvider serves HTTP/1.1 (or HTTPS with a cert/key pair) on its own io_context and thread,
// port 0 by default. It speaks OpenAI's wire format (chat completions, completions, embeddings,
// models; JSON and SSE streams; also under Azure OpenAI's `/openai/deployments/<name>/...?api-version=`)
// and injects faults per request: error statuses, latency, hangs,
// mid-stream disconnects, malformed chunks — see fake_controls.hpp for the control keys and
// fake_openai.hpp for the replies. Every request is recorded after it is read in full.
//
// Thread safety: all public members may be called from any thread. start() and stop() must not race
// each other. The destructor stops the server.
// Lifetime: keeps copies of the options; holds no references to the caller's objects.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tollgate::testing {

struct FakeProviderOptions {
  std::string host = "127.0.0.1";  // address to bind
  std::uint16_t port = 0;          // 0: any free port, see FakeProvider::port()
  std::string tls_cert_file;       // PEM chain; with tls_key_file set: serve HTTPS
  std::string tls_key_file;        // PEM private key
  std::string require_api_key;     // non-empty: 401 unless `Authorization: Bearer <it>` (or `api-key: <it>`)
  bool record_requests = true;     // keep every request for requests(); off for long benchmarks
  std::string google_public_key_pem;  // non-empty: serve Google's token endpoint and Vertex AI (fake_google_auth.hpp)
};

struct RecordedRequest {
  std::string method;                          // "POST"
  std::string target;                          // as received, including any `/key=value` prefix
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined by ", "
  std::string body;                            // raw body
};

class FakeProvider {
 public:
  explicit FakeProvider(FakeProviderOptions options = {});
  ~FakeProvider();  // stops
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  // Binds and starts serving; the port is known when this returns. Throws on bind or TLS setup errors.
  void start();
  // Closes the listener and every connection (in-flight requests are dropped) and joins the thread.
  void stop();

  std::uint16_t port() const;
  std::string base_url() const;  // "http(s)://127.0.0.1:PORT/v1"

  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  void clear();  // forgets recorded requests (counters are kept)

  std::size_t connections_accepted() const;  // to assert keep-alive reuse
  // Requests whose client went away before the reply ended: seen when a stream write fails, or when
  // the peer closes during a delay, a hang or between stream chunks.
  std::size_t requests_cancelled() const;
  std::size_t google_tokens_issued() const;  // access tokens the Google token endpoint handed out

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::testing
