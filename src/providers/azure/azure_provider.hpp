#pragma once
// Azure OpenAI (`azure/<deployment>`): OpenAI's wire format behind Azure's URL scheme and auth.
// Bodies, responses and streams are OpenAI's (the OpenAI adapter does them); what differs is
//   - the target: {api_base}/openai/deployments/{deployment}/{endpoint}?api-version={v};
//   - the key goes in `api-key` (or an Entra ID token, litellm_params.azure_ad_token, as Bearer);
//   - content-filter refusals become OpenAI's `content_policy_violation` error;
//   - the wait after a 429 may come as `retry-after-ms` (read before `retry-after`).
// See docs/providers.md for api_base forms that already name a deployment or Azure's v1 API.
//
// Thread safety: immutable, shared by all workers (as every Provider).
#include <string>
#include <string_view>

#include "providers/openai/openai_provider.hpp"

namespace tollgate::providers {

/// The api-version sent when neither litellm_params.api_version nor AZURE_API_VERSION is set:
/// the latest GA version of Azure OpenAI's data-plane inference API.
inline constexpr std::string_view kAzureDefaultApiVersion = "2024-10-21";

class AzureProvider final : public Provider {
 public:
  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const override;
  UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                 std::int64_t now_unix_s) const override;
  /// The api-key and an Entra ID token (litellm_params.azure_ad_token).
  std::vector<std::string> secrets(const config::Deployment& deployment) const override;

 private:
  OpenAiProvider openai_;  // bodies, responses and streams
};

/// The request target (path and query) for `endpoint` on the deployment named `deployment_name`
/// under `base_path` (the api_base's path, no trailing '/'); `api_version` empty = the default.
std::string azure_target(std::string_view base_path, std::string_view deployment_name, api::Endpoint endpoint,
                         std::string_view api_version);

}  // namespace tollgate::providers
