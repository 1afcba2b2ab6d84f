#include "providers/azure/azure_provider.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "tollgate/api/json_fields.hpp"
#include "providers/upstream_failure.hpp"
#include "tollgate/api/json_read.hpp"
#include "tollgate/http/retry_after.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

// Deployment names and api-versions are URL-safe in practice; anything else is escaped rather
// than allowed to change the request line.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

// Azure refuses a filtered prompt with 400 and {"error":{"code":"content_filter",...,
// "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{...}}}}.
bool is_content_filter_error(const json& parsed) {
  if (!parsed.is_object()) return false;
  const auto err = parsed.find("error");
  if (err == parsed.end() || !err->is_object()) return false;
  const auto code = err->find("code");
  if (code != err->end() && code->is_string() && *code == "content_filter") return true;
  const auto inner = err->find("innererror");
  if (inner == err->end() || !inner->is_object()) return false;
  const auto inner_code = inner->find("code");
  return inner_code != inner->end() && inner_code->is_string() && *inner_code == "ResponsibleAIPolicyViolation";
}

}  // namespace

std::string azure_target(std::string_view base_path, std::string_view deployment_name, api::Endpoint endpoint,
                         std::string_view api_version) {
  constexpr std::string_view kDeployments = "/openai/deployments/";
  constexpr std::string_view kV1 = "/openai/v1";
  constexpr std::string_view kOpenAi = "/openai";
  std::string target(base_path);
  // Azure's v1 API (`.../openai/v1`) is OpenAI's paths with the deployment in the body's model
  // and no api-version.
  if (base_path.ends_with(kV1)) {
    target.append(api::endpoint_path(endpoint));
    return target;
  }
  // An api_base that already names a deployment is used as given; otherwise the deployment is
  // the model after `azure/`. A base ending in `/openai` (a common way to write it) is not doubled.
  if (base_path.find(kDeployments) == std::string_view::npos) {
    if (base_path.ends_with(kOpenAi)) target.resize(target.size() - kOpenAi.size());
    target.append(kDeployments);
    append_escaped(target, deployment_name);
  }
  target.append(api::endpoint_path(endpoint));
  target.append("?api-version=");
  append_escaped(target, api_version.empty() ? kAzureDefaultApiVersion : api_version);
  return target;
}

api::ApiResult<http::UpstreamRequest> AzureProvider::build_request(const config::Deployment& deployment,
                                                                   const http::Url& base, api::Endpoint endpoint,
                                                                   const api::ParsedRequest& request,
                                                                   std::string_view upstream_model,
                                                                   bool want_stream_usage) const {
  auto out = openai_.build_request(deployment, base, endpoint, request, upstream_model, want_stream_usage);
  if (!out) return out;
  out->target = azure_target(base.path, upstream_model, endpoint, deployment.api_version);
  // Azure authenticates with `api-key`, or with an Entra ID token as Bearer; never both.
  auto& headers = out->headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(), [](const auto& h) { return h.first == "authorization"; }),
                headers.end());
  const auto token = deployment.litellm_params.find("azure_ad_token");
  if (token != deployment.litellm_params.end() && token->is_string() && !token->get_ref<const std::string&>().empty()) {
    headers.emplace_back("authorization", "Bearer " + token->get<std::string>());
  } else if (!deployment.api_key.empty()) {
    headers.emplace_back("api-key", deployment.api_key);
  }
  return out;
}

std::vector<std::string> AzureProvider::secrets(const config::Deployment& deployment) const {
  return {deployment.api_key, api::json_fields::string_field(deployment.litellm_params, "azure_ad_token")};
}

api::ApiResult<std::string> AzureProvider::translate_response(api::Endpoint endpoint, std::string body,
                                                              Usage& usage) const {
  return openai_.translate_response(endpoint, std::move(body), usage);
}

std::unique_ptr<StreamTranslator> AzureProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  // A stream Azure cut short with finish_reason "content_filter" is an OpenAI stream: relayed as is.
  return openai_.make_stream_translator(client_wants_usage, std::move(cost));
}

UpstreamFailure AzureProvider::classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                              std::int64_t now_unix_s) const {
  const json parsed = api::read_json_lenient(body);
  api::ApiError error = openai_error(status, parsed, body);
  // OpenAI's own name for the refusal, which clients (and gateways in front) know; the message
  // (Azure's, naming its content management policy) is kept.
  if (is_content_filter_error(parsed)) {
    error.code = "content_policy_violation";
    error.type = "invalid_request_error";
  }
  UpstreamFailure f = openai_compatible_failure(std::move(error), status, parsed, body, header, now_unix_s);
  // Azure sends its wait to the millisecond too (as the OpenAI SDKs read it); retry-after rounds it.
  if (auto ms = http::parse_retry_after_ms(header_value(header, "retry-after-ms"))) f.retry_after = ms;
  return f;
}

}  // namespace tollgate::providers
