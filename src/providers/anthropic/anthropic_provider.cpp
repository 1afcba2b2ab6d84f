#include "providers/anthropic/anthropic_provider.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "providers/json_fields.hpp"
#include "providers/openai/openai_provider.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

constexpr std::string_view kAnthropicVersion = "2023-06-01";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// litellm_params.extra_headers["anthropic-beta"], as LiteLLM forwards it (beta features such as
// extended output or new tool types).
std::string beta_header(const config::Deployment& deployment) {
  return json_fields::string_field(json_fields::member(deployment.litellm_params, "extra_headers"), "anthropic-beta");
}

std::string_view header_of(const http::HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

std::optional<api::ApiResult<http::UpstreamRequest>> AnthropicProvider::build_messages_passthrough(
    const config::Deployment& deployment, const http::Url& base, std::string_view body, std::string_view upstream_model,
    const http::HeaderList& client_headers) const {
  // Ordered: the client's tool schemas and inputs keep their member order.
  nlohmann::ordered_json request = api::read_ordered_json(body);
  if (!request.is_object()) {
    return api::ApiResult<http::UpstreamRequest>(api::make_error(Errc::kInvalidJson, "The request body is not valid JSON."));
  }
  request["model"] = upstream_model;
  // Anthropic rejects members it does not know: LiteLLM's request fields stay with the gateway,
  // except metadata.user_id, which is Anthropic's own.
  std::string user_id = json_fields::string_field(json_fields::member(request, "metadata"), "user_id");
  for (auto it = request.begin(); it != request.end();) {
    it = api::is_gateway_only_field(it.key()) ? request.erase(it) : std::next(it);
  }
  if (!user_id.empty()) request["metadata"] = {{"user_id", std::move(user_id)}};
  const bool stream = request.contains("stream") && request["stream"].is_boolean() && request["stream"].get<bool>();
  http::UpstreamRequest out;
  out.url = base;
  out.target = base.path + "/messages";
  out.headers.reserve(5);
  out.headers.emplace_back("content-type", "application/json");
  if (!deployment.api_key.empty()) out.headers.emplace_back("x-api-key", deployment.api_key);
  std::string_view version = header_of(client_headers, "anthropic-version");
  out.headers.emplace_back("anthropic-version", std::string(version.empty() ? kAnthropicVersion : version));
  std::string beta(header_of(client_headers, "anthropic-beta"));
  if (beta.empty()) beta = beta_header(deployment);
  if (!beta.empty()) out.headers.emplace_back("anthropic-beta", std::move(beta));
  if (stream) out.headers.emplace_back("accept", "text/event-stream");
  out.body = request.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return api::ApiResult<http::UpstreamRequest>(std::move(out));
}

Usage AnthropicProvider::messages_usage(std::string_view body) const {
  Usage usage;
  (void)anthropic_response_to_openai(body, 0, usage);  // only the counts are wanted
  return usage;
}

api::ApiResult<http::UpstreamRequest> AnthropicProvider::build_request(const config::Deployment& deployment,
                                                                       const http::Url& base, api::Endpoint endpoint,
                                                                       const api::ParsedRequest& request,
                                                                       std::string_view upstream_model,
                                                                       bool /*want_stream_usage: always reported*/) const {
  if (endpoint != api::Endpoint::kChatCompletions) {
    return api::make_error(Errc::kInvalidRequest, std::string(api::endpoint_path(endpoint)) +
                                                      " is not supported by anthropic deployments; use /chat/completions.",
                           "model");
  }
  auto body = anthropic_request_body(request, upstream_model);
  if (!body) return body.error();
  http::UpstreamRequest out;
  out.url = base;
  out.target = base.path + "/messages";
  out.headers.reserve(5);
  out.headers.emplace_back("content-type", "application/json");
  if (!deployment.api_key.empty()) out.headers.emplace_back("x-api-key", deployment.api_key);
  out.headers.emplace_back("anthropic-version", std::string(kAnthropicVersion));
  if (std::string beta = beta_header(deployment); !beta.empty()) out.headers.emplace_back("anthropic-beta", std::move(beta));
  if (request.fields.stream) out.headers.emplace_back("accept", "text/event-stream");
  out.body = std::move(*body);
  return out;
}

api::ApiResult<std::string> AnthropicProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  return anthropic_response_to_openai(body, unix_now(), usage);
}

std::unique_ptr<StreamTranslator> AnthropicProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return make_anthropic_stream_translator(client_wants_usage, std::move(cost), unix_now());
}

api::ApiError AnthropicProvider::map_error(unsigned status, std::string_view body, std::string_view retry_after) const {
  return anthropic_error(status, body, retry_after);
}

api::ApiError anthropic_error(unsigned status, std::string_view body, std::string_view retry_after) {
  // Anthropic nests its error as OpenAI does ({"error":{"type","message"}}) and its type names
  // (invalid_request_error, authentication_error, permission_error, not_found_error,
  // rate_limit_error, api_error) are OpenAI's, so the OpenAI mapping reads it. "prompt is too
  // long" is kept verbatim: error_class.cpp recognises it as a context-window error.
  api::ApiError e = OpenAiProvider().map_error(status, body, retry_after);
  // Anthropic refuses filtered output as a plain invalid_request_error; OpenAI's type for it lets
  // clients (and error_class.cpp, reading our error) tell it from a malformed request.
  if (e.message.find("content filtering policy") != std::string::npos) e.type = "content_policy_violation";
  // 529 overloaded: a 503 to the client, the status SDKs retry and the router reads as
  // service-unavailable (retry elsewhere, cool the deployment down).
  if (status == 529 || e.type == "overloaded_error") {
    e.status = 503;
    e.code = "503";
  }
  return e;
}

}  // namespace tollgate::providers
