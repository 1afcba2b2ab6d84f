#pragma once
// A loopback upstream for integration tests, end-to-end tests and benchmarks that speaks every
// vendor's wire format.
//
// FakeProvider is a FakeHttpServer (fake_http_server.hpp: listener, request capture, the
// transport's side of the faults) whose planner speaks OpenAI's wire format (chat completions,
// completions, embeddings, models; JSON and SSE streams; also under Azure OpenAI's
// `/openai/deployments/<name>/...?api-version=`) and, by path, Anthropic's, Gemini's, Ollama's,
// Bedrock's, and Google's token endpoint with Vertex AI — see fake_openai.hpp for the dispatch,
// fake_controls.hpp for the per-request fault controls (error statuses, latency, hangs, mid-stream
// disconnects, malformed chunks) and the vendor headers for their replies.
//
// Thread safety: as FakeHttpServer.
// Lifetime: keeps copies of the options; holds no references to the caller's objects.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "support/fake_http_server.hpp"

namespace tollgate::testing {

class FakeGoogleAuth;

struct FakeProviderOptions {
  std::string host = "127.0.0.1";  // address to bind
  std::uint16_t port = 0;          // 0: any free port, see FakeProvider::port()
  std::string tls_cert_file;       // PEM chain; with tls_key_file set: serve HTTPS
  std::string tls_key_file;        // PEM private key
  std::string require_api_key;     // non-empty: 401 unless `Authorization: Bearer <it>` (or `api-key: <it>`)
  bool record_requests = true;     // keep every request for requests(); off for long benchmarks
  std::string google_public_key_pem;  // non-empty: serve Google's token endpoint and Vertex AI (fake_google_auth.hpp)
};

class FakeProvider : public FakeHttpServer {
 public:
  explicit FakeProvider(FakeProviderOptions options = {});
  ~FakeProvider();  // stops before the planner's state goes

  std::string base_url() const;  // "http(s)://127.0.0.1:PORT/v1"
  std::size_t google_tokens_issued() const;  // access tokens the Google token endpoint handed out

 private:
  FakeExchange plan(const FakeRequest& request);

  std::string require_api_key_;
  std::unique_ptr<FakeGoogleAuth> google_;  // set when the options give a Google public key
};

}  // namespace tollgate::testing
