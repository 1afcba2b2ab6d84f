#pragma once
// OpenAI and every OpenAI-compatible API (vLLM, Groq, Mistral, DeepSeek, Together, OpenRouter...):
// the body goes through untouched but for `model`, gateway-only fields and, on streams,
// `stream_options.include_usage`; responses pass through with usage read from them.
#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

class OpenAiProvider final : public Provider {
 public:
  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const override;
  UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                 std::int64_t now_unix_s) const override;
};

/// Reads an OpenAI `usage` object (raw JSON text). Returns false when it is not an object.
bool parse_openai_usage(std::string_view raw, Usage& usage);

}  // namespace tollgate::providers
