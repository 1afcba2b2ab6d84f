#include "providers/bedrock/bedrock_provider.hpp"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <random>

#include "providers/bedrock/eventstream.hpp"
#include "providers/build_request.hpp"
#include "tollgate/api/json_fields.hpp"

namespace tollgate::providers {
namespace {

constexpr std::string_view kService = "bedrock";
constexpr std::string_view kDefaultRegion = "us-east-1";  // signing region when only api_base is given

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Converse answers carry no id: make one as OpenAI's look.
std::string completion_id() {
  static std::atomic<std::uint64_t> counter{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "chatcmpl-%016llx",
                static_cast<unsigned long long>(counter.fetch_add(0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull));
  return buf;
}

std::string param(const config::Deployment& d, const char* key) {
  return api::json_fields::string_field(d.litellm_params, key);
}

// The region named by a `bedrock-runtime.<region>.amazonaws.com` host, else empty.
std::string region_of_host(std::string_view host) {
  constexpr std::string_view kPrefix = "bedrock-runtime.";
  if (!host.starts_with(kPrefix)) return {};
  host.remove_prefix(kPrefix.size());
  return std::string(host.substr(0, host.find('.')));
}

std::string host_header(const http::Url& url) {
  std::string host = url.host;
  if (url.port != (url.tls ? 443 : 80)) host += ":" + std::to_string(url.port);
  return host;
}

}  // namespace

BedrockProvider::BedrockProvider(Clock clock) : clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

std::string bedrock_target(std::string_view base_path, std::string_view model_id, bool stream) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(base_path);
  out.append("/model/");
  for (unsigned char c : model_id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(stream ? "/converse-stream" : "/converse");
  return out;
}

void sign_bedrock_request(http::UpstreamRequest& request, const bedrock::AwsCredentials& credentials,
                          std::string_view region, std::chrono::system_clock::time_point now) {
  const std::string date = bedrock::amz_date(now);
  const std::string payload_hash = bedrock::sha256_hex(request.body);
  request.headers.emplace_back("x-amz-date", date);
  request.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty()) request.headers.emplace_back("x-amz-security-token", credentials.session_token);
  bedrock::SigV4Input input;
  input.method = request.method;
  input.path = request.target;
  input.headers.emplace_back("host", host_header(request.url));
  for (const auto& [name, value] : request.headers) input.headers.emplace_back(name, value);
  input.payload = request.body;
  input.region = region;
  input.service = kService;
  input.amz_date = date;
  request.headers.emplace_back("authorization", bedrock::sigv4_sign(input, credentials).authorization);
}

api::ApiResult<http::UpstreamRequest> BedrockProvider::build_request(const config::Deployment& deployment,
                                                                     const http::Url& base, api::Endpoint endpoint,
                                                                     const api::ParsedRequest& request,
                                                                     std::string_view upstream_model,
                                                                     bool /*want_stream_usage: always reported*/) const {
  if (auto refused = chat_only(endpoint, "bedrock")) return *refused;
  auto body = bedrock_request_body(request);
  if (!body) return body.error();
  // LiteLLM's `bedrock/converse/<model>` names the API explicitly; Converse is the only one here.
  std::string_view model = upstream_model;
  if (model.starts_with("converse/")) model.remove_prefix(9);
  http::UpstreamRequest out = json_post(base, bedrock_target(base.path, model, request.fields.stream), std::move(*body), 7);
  out.headers.emplace_back("accept", request.fields.stream ? "application/vnd.amazon.eventstream" : "application/json");
  bedrock::AwsCredentials credentials{param(deployment, "aws_access_key_id"), param(deployment, "aws_secret_access_key"),
                                      param(deployment, "aws_session_token")};
  std::string region = param(deployment, "aws_region_name");
  if (region.empty()) region = region_of_host(base.host);
  if (region.empty()) region = kDefaultRegion;
  sign_bedrock_request(out, credentials, region, clock_());
  return out;
}

api::ApiResult<std::string> BedrockProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  return bedrock_response_to_openai(body, completion_id(), unix_seconds(clock_()), "", usage);
}

std::unique_ptr<StreamTranslator> BedrockProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return make_bedrock_stream_translator(client_wants_usage, std::move(cost), completion_id(), unix_seconds(clock_()));
}

std::vector<std::string> BedrockProvider::secrets(const config::Deployment& deployment) const {
  return {deployment.api_key, param(deployment, "aws_access_key_id"), param(deployment, "aws_secret_access_key"),
          param(deployment, "aws_session_token")};
}

std::unique_ptr<http::StreamDecoder> BedrockProvider::make_stream_decoder() const {
  return std::make_unique<bedrock::EventStreamDecoder>();
}

UpstreamFailure BedrockProvider::classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                                std::int64_t now_unix_s) const {
  return bedrock_failure(status, body, header, now_unix_s);
}

}  // namespace tollgate::providers
