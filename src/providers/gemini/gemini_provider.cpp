#include "providers/gemini/gemini_provider.hpp"

#include <chrono>

namespace tollgate::providers {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

api::ApiResult<http::UpstreamRequest> GeminiProvider::build_request(const config::Deployment& deployment,
                                                                    const http::Url& base, api::Endpoint endpoint,
                                                                    const api::ParsedRequest& request,
                                                                    std::string_view upstream_model,
                                                                    bool /*want_stream_usage: always reported*/) const {
  if (endpoint != api::Endpoint::kChatCompletions) {
    return api::make_error(Errc::kInvalidRequest, std::string(api::endpoint_path(endpoint)) +
                                                      " is not supported by gemini deployments; use /chat/completions.",
                           "model");
  }
  auto body = gemini_request_body(request);
  if (!body) return body.error();
  http::UpstreamRequest out;
  out.url = base;
  out.target = gemini_target(base.path, upstream_model, request.fields.stream);
  out.headers.reserve(3);
  out.headers.emplace_back("content-type", "application/json");
  // The key as a header, not `?key=`: request lines end up in proxies' logs.
  if (!deployment.api_key.empty()) out.headers.emplace_back("x-goog-api-key", deployment.api_key);
  if (request.fields.stream) out.headers.emplace_back("accept", "text/event-stream");
  out.body = std::move(*body);
  return out;
}

api::ApiResult<std::string> GeminiProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  return gemini_response_to_openai(body, unix_now(), usage);
}

std::unique_ptr<StreamTranslator> GeminiProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return make_gemini_stream_translator(client_wants_usage, std::move(cost), unix_now());
}

api::ApiError GeminiProvider::map_error(unsigned status, std::string_view body, std::string_view retry_after) const {
  return gemini_error(status, body, retry_after);
}

}  // namespace tollgate::providers
