#include "providers/anthropic/anthropic_provider.hpp"

#include <array>
#include <chrono>

#include <nlohmann/json.hpp>

#include "providers/build_request.hpp"
#include "tollgate/api/json_fields.hpp"
#include "providers/upstream_failure.hpp"
#include "tollgate/api/json_read.hpp"
#include "tollgate/http/retry_after.hpp"

namespace tollgate::providers {
namespace {

constexpr std::string_view kAnthropicVersion = "2023-06-01";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// litellm_params.extra_headers["anthropic-beta"], as LiteLLM forwards it (beta features such as
// extended output or new tool types).
std::string beta_header(const config::Deployment& deployment) {
  return api::json_fields::string_field(api::json_fields::member(deployment.litellm_params, "extra_headers"), "anthropic-beta");
}

std::string_view header_of(const http::HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

// Anthropic nests its error as OpenAI does ({"error":{"type","message"}}) and its type names
// (invalid_request_error, authentication_error, permission_error, not_found_error,
// rate_limit_error, api_error) are OpenAI's, so OpenAI's mapping reads it. "prompt is too long" is
// kept verbatim: a gateway in front reads it as a context-window error, as we do.
api::ApiError anthropic_error_of(unsigned status, const nlohmann::json& parsed, std::string_view body) {
  api::ApiError e = openai_error(status, parsed, body);
  // Anthropic refuses filtered output as a plain invalid_request_error; OpenAI's type for it lets
  // clients (and gateways in front) tell it from a malformed request.
  if (e.message.find("content filtering policy") != std::string::npos) e.type = "content_policy_violation";
  // 529 overloaded: a 503 to the client, the status SDKs retry and the router reads as
  // service-unavailable (retry elsewhere, cool the deployment down).
  if (status == 529 || e.type == "overloaded_error") {
    e.status = 503;
    e.code = "503";
  }
  return e;
}

// Anthropic's own limit headers, anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
// {remaining,reset}, each reset an RFC 3339 instant. A 429 does not say which limit it hit: the
// wait lasts until the latest reset of those with nothing remaining.
std::optional<std::chrono::milliseconds> ratelimit_reset(const HeaderLookup& header, std::int64_t now_unix_s) {
  std::optional<std::chrono::milliseconds> wait;
  for (std::string_view limit : {"requests", "tokens", "input-tokens", "output-tokens"}) {
    const std::string prefix = "anthropic-ratelimit-" + std::string(limit);
    if (header_value(header, prefix + "-remaining") != "0") continue;
    const auto reset = http::parse_reset_instant(header_value(header, prefix + "-reset"), now_unix_s);
    if (reset && (!wait || *reset > *wait)) wait = reset;
  }
  return wait;
}

constexpr std::array<std::string_view, 1> kContextWindow{"prompt is too long"};
constexpr std::array<std::string_view, 1> kContentPolicy{"content filtering policy"};  // "Output blocked by ..."

}  // namespace

const Wording kAnthropicWording{kContextWindow, kContentPolicy, {}};

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
  std::string user_id = api::json_fields::string_field(api::json_fields::member(request, "metadata"), "user_id");
  for (auto it = request.begin(); it != request.end();) {
    it = api::is_gateway_only_field(it.key()) ? request.erase(it) : std::next(it);
  }
  if (!user_id.empty()) request["metadata"] = {{"user_id", std::move(user_id)}};
  const bool stream = request.contains("stream") && request["stream"].is_boolean() && request["stream"].get<bool>();
  http::UpstreamRequest out = json_post(base, base.path + "/messages",
                                        request.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), 5);
  if (!deployment.api_key.empty()) out.headers.emplace_back("x-api-key", deployment.api_key);
  std::string_view version = header_of(client_headers, "anthropic-version");
  out.headers.emplace_back("anthropic-version", std::string(version.empty() ? kAnthropicVersion : version));
  std::string beta(header_of(client_headers, "anthropic-beta"));
  if (beta.empty()) beta = beta_header(deployment);
  if (!beta.empty()) out.headers.emplace_back("anthropic-beta", std::move(beta));
  if (stream) out.headers.emplace_back("accept", "text/event-stream");
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
  if (auto refused = chat_only(endpoint, "anthropic")) return *refused;
  auto body = anthropic_request_body(request, upstream_model);
  if (!body) return body.error();
  http::UpstreamRequest out = json_post(base, base.path + "/messages", std::move(*body), 5);
  if (!deployment.api_key.empty()) out.headers.emplace_back("x-api-key", deployment.api_key);
  out.headers.emplace_back("anthropic-version", std::string(kAnthropicVersion));
  if (std::string beta = beta_header(deployment); !beta.empty()) out.headers.emplace_back("anthropic-beta", std::move(beta));
  if (request.fields.stream) out.headers.emplace_back("accept", "text/event-stream");
  return out;
}

api::ApiResult<std::string> AnthropicProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  return anthropic_response_to_openai(body, unix_now(), usage);
}

std::unique_ptr<StreamTranslator> AnthropicProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return make_anthropic_stream_translator(client_wants_usage, std::move(cost), unix_now());
}

UpstreamFailure AnthropicProvider::classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                                  std::int64_t now_unix_s) const {
  const nlohmann::json parsed = api::read_json_lenient(body);
  UpstreamFailure f;
  f.error = anthropic_error_of(status, parsed, body);
  f.cls = classify_reason(status, reason_text(parsed, body), {&kOpenAiWording, &kAnthropicWording});
  read_retry_after(f, header, now_unix_s);
  if (!f.retry_after) f.retry_after = ratelimit_reset(header, now_unix_s);
  return f;
}

api::ApiError anthropic_error(unsigned status, std::string_view body) {
  return anthropic_error_of(status, api::read_json_lenient(body), body);
}

}  // namespace tollgate::providers
