#include "support/fake_provider.hpp"

#include <optional>
#include <utility>

#include "support/fake_google_auth.hpp"
#include "support/fake_openai.hpp"

namespace tollgate::testing {
namespace {

FakeServerOptions server_options(const FakeProviderOptions& o) {
  return FakeServerOptions{.host = o.host,
                           .port = o.port,
                           .tls_cert_file = o.tls_cert_file,
                           .tls_key_file = o.tls_key_file,
                           .record_requests = o.record_requests};
}

}  // namespace

FakeProvider::FakeProvider(FakeProviderOptions options)
    : FakeHttpServer(server_options(options), [this](const FakeRequest& request) { return plan(request); }),
      require_api_key_(std::move(options.require_api_key)) {
  if (!options.google_public_key_pem.empty()) google_ = std::make_unique<FakeGoogleAuth>(options.google_public_key_pem);
}

FakeProvider::~FakeProvider() { stop(); }

FakeExchange FakeProvider::plan(const FakeRequest& request) {
  // Google's token endpoint and Vertex paths first (when enabled), then everything else.
  if (google_) {
    if (std::optional<FakeExchange> planned = google_->plan(request)) return std::move(*planned);
  }
  return plan_exchange(request, require_api_key_);
}

std::string FakeProvider::base_url() const { return root_url() + "/v1"; }

std::size_t FakeProvider::google_tokens_issued() const { return google_ ? google_->tokens_issued() : 0; }

}  // namespace tollgate::testing
