#pragma once
// Vertex AI's generateContent (`vertex_ai/` deployments): Gemini's request and response format
// (gemini_provider.hpp) at
//   https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent
// (`:streamGenerateContent?alt=sse` for streams), authorised by an OAuth2 access token of a service
// account: `Authorization: Bearer <token>`.
//
// litellm_params: vertex_project (else the service account's project_id), vertex_location
// (us-central1), vertex_credentials (a path to a service-account JSON file, or the JSON text),
// api_base (replaces the scheme, host and port; its path is kept as a prefix).
//
// Tokens: token_request() signs a JWT with the account's key and asks its token_uri for a token;
// accept_token() keeps it until 60 s before it expires. The cache is keyed by the
// vertex_credentials value, so the key file is read and parsed once per distinct value.
//
// Thread safety: the token cache is shared by all workers behind a mutex, never held across I/O.
// Two attempts that find no valid token at once both fetch one; the later answer wins.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "providers/gemini/gemini_provider.hpp"
#include "providers/gemini/google_auth.hpp"

namespace tollgate::providers {

class VertexProvider final : public GeminiProvider {
 public:
  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::optional<http::UpstreamRequest>> token_request(const config::Deployment& deployment,
                                                                     std::int64_t now_s) const override;
  std::optional<api::ApiError> accept_token(const config::Deployment& deployment, unsigned status, std::string_view body,
                                            std::int64_t now_s) const override;
  /// The access token in use and the service account's private key (and an api_key, when set).
  std::vector<std::string> secrets(const config::Deployment& deployment) const override;

 private:
  struct Credentials {
    std::optional<google::ServiceAccount> account;  // empty: unusable, see `problem`
    std::optional<api::ApiError> problem;
    google::AccessToken token;                      // empty until accept_token
  };
  // The cache entry for the deployment's vertex_credentials, loaded on first use; nullptr when the
  // deployment has none. Call with mutex_ held.
  Credentials* credentials_locked(const config::Deployment& deployment) const;

  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Credentials> cache_;  // by vertex_credentials value; guarded by mutex_
};

/// `{base_path}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:<method>`.
std::string vertex_target(std::string_view base_path, std::string_view project, std::string_view location,
                          std::string_view model, bool stream);

/// The API root for `location`: `https://{location}-aiplatform.googleapis.com` (`global`: no prefix).
std::string vertex_default_base(std::string_view location);

}  // namespace tollgate::providers
