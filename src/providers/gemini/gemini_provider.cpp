#include "providers/gemini/gemini_provider.hpp"

#include <chrono>

#include "providers/build_request.hpp"

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
  if (auto refused = chat_only(endpoint, "gemini")) return *refused;
  auto body = gemini_request_body(request);
  if (!body) return body.error();
  http::UpstreamRequest out = json_post(base, gemini_target(base.path, upstream_model, request.fields.stream),
                                        std::move(*body), 3);
  // The key as a header, not `?key=`: request lines end up in proxies' logs.
  if (!deployment.api_key.empty()) out.headers.emplace_back("x-goog-api-key", deployment.api_key);
  if (request.fields.stream) out.headers.emplace_back("accept", "text/event-stream");
  return out;
}

api::ApiResult<std::string> GeminiProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  return gemini_response_to_openai(body, unix_now(), usage);
}

std::unique_ptr<StreamTranslator> GeminiProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return make_gemini_stream_translator(client_wants_usage, std::move(cost), unix_now());
}

UpstreamFailure GeminiProvider::classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                               std::int64_t now_unix_s) const {
  return gemini_failure(status, body, header, now_unix_s);
}

}  // namespace tollgate::providers
