#include "providers/gemini/vertex_provider.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

#include "tollgate/api/json_fields.hpp"

namespace tollgate::providers {
namespace {

constexpr std::string_view kDefaultLocation = "us-central1";
constexpr std::chrono::milliseconds kTokenTimeout{15'000};
constexpr std::int64_t kRefreshMarginS = 60;  // a token this close to expiry is renewed first

std::string param(const config::Deployment& d, const char* key) {
  return api::json_fields::string_field(d.litellm_params, key);
}

// vertex_credentials: JSON text (a string starting with '{', or a YAML map), else a file path.
std::string credentials_key(const config::Deployment& d) {
  const auto& value = api::json_fields::member(d.litellm_params, "vertex_credentials");
  if (value.is_object()) return value.dump();
  return value.is_string() ? value.get<std::string>() : std::string();
}

std::string escaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string vertex_target(std::string_view base_path, std::string_view project, std::string_view location,
                          std::string_view model, bool stream) {
  std::string target(base_path);
  target += "/v1/projects/" + escaped(project) + "/locations/" + escaped(location) + "/publishers/google";
  // gemini_target appends /models/{model}:method, escaped the same way.
  return gemini_target(target, model, stream);
}

std::string vertex_default_base(std::string_view location) {
  if (location == "global") return "https://aiplatform.googleapis.com";
  return "https://" + escaped(location) + "-aiplatform.googleapis.com";
}

VertexProvider::Credentials* VertexProvider::credentials_locked(const config::Deployment& deployment) const {
  const std::string key = credentials_key(deployment);
  if (key.empty()) return nullptr;
  auto [it, inserted] = cache_.try_emplace(key);
  if (!inserted) return &it->second;
  std::string text = key;
  if (!key.starts_with("{")) {
    // A path, read once: this runs on an io thread, but only the first time a value is seen.
    std::ifstream file(key, std::ios::binary);
    std::ostringstream content;
    content << file.rdbuf();
    if (!file) {
      it->second.problem = api::make_error(Errc::kUnauthorized, "Vertex AI credentials: cannot read the vertex_credentials file.");
      return &it->second;
    }
    text = content.str();
  }
  auto account = google::parse_service_account(text);
  if (account) {
    it->second.account = std::move(*account);
  } else {
    it->second.problem = account.error();
  }
  return &it->second;
}

api::ApiResult<std::optional<http::UpstreamRequest>> VertexProvider::token_request(const config::Deployment& deployment,
                                                                                   std::int64_t now_s) const {
  using Out = api::ApiResult<std::optional<http::UpstreamRequest>>;
  google::ServiceAccount account;
  {
    const std::lock_guard lock(mutex_);
    Credentials* c = credentials_locked(deployment);
    if (c == nullptr) return Out(boost::system::in_place_value, std::nullopt);  // no credentials: none sent
    if (c->problem) return *c->problem;
    if (!c->token.token.empty() && now_s < c->token.expires_at - kRefreshMarginS) {
      return Out(boost::system::in_place_value, std::nullopt);
    }
    account = *c->account;
  }
  auto jwt = google::service_account_jwt(account, now_s);
  if (!jwt) return jwt.error();
  auto url = http::Url::parse(account.token_uri);
  if (!url) return api::make_error(Errc::kUnauthorized, "Vertex AI credentials: token_uri is not an http(s) URL.");
  http::UpstreamRequest req;
  req.url = *url;
  req.target = url->path.empty() ? "/" : url->path;
  req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  req.body = google::token_request_body(*jwt);
  req.first_byte_timeout = kTokenTimeout;
  req.chunk_timeout = kTokenTimeout;
  return Out(boost::system::in_place_value, std::move(req));
}

std::optional<api::ApiError> VertexProvider::accept_token(const config::Deployment& deployment, unsigned status,
                                                          std::string_view body, std::int64_t now_s) const {
  auto token = google::parse_token_response(status, body, now_s);
  if (!token) return token.error();
  const std::lock_guard lock(mutex_);
  if (Credentials* c = credentials_locked(deployment)) c->token = std::move(*token);
  return std::nullopt;
}

std::vector<std::string> VertexProvider::secrets(const config::Deployment& deployment) const {
  std::vector<std::string> out{deployment.api_key};
  const std::lock_guard lock(mutex_);
  if (Credentials* c = credentials_locked(deployment)) {
    out.push_back(c->token.token);
    if (c->account) out.push_back(c->account->private_key);
  }
  return out;
}

api::ApiResult<http::UpstreamRequest> VertexProvider::build_request(const config::Deployment& deployment,
                                                                    const http::Url& base, api::Endpoint endpoint,
                                                                    const api::ParsedRequest& request,
                                                                    std::string_view upstream_model,
                                                                    bool want_stream_usage) const {
  auto out = GeminiProvider::build_request(deployment, base, endpoint, request, upstream_model, want_stream_usage);
  if (!out) return out;
  std::string location = param(deployment, "vertex_location");
  if (location.empty()) location = std::string(kDefaultLocation);
  std::string project = param(deployment, "vertex_project");
  std::string token;
  {
    const std::lock_guard lock(mutex_);
    if (Credentials* c = credentials_locked(deployment)) {
      if (project.empty() && c->account) project = c->account->project_id;
      token = c->token.token;
    }
  }
  if (project.empty()) {
    return api::make_error(Errc::kInvalidRequest,
                           "vertex_ai deployments need litellm_params.vertex_project (or a service account with a project_id).",
                           "model");
  }
  // api_base replaces the host; without one the host follows the location.
  if (!api::json_fields::member(deployment.litellm_params, "api_base").is_string()) {
    auto regional = http::Url::parse(vertex_default_base(location));
    if (!regional) return api::make_error(Errc::kInvalidRequest, "vertex_location is not a valid location.", "model");
    out->url = *regional;
  }
  out->target = vertex_target(out->url.path, project, location, upstream_model, request.fields.stream);
  // Vertex takes no API key header: the bearer token stands in for it.
  std::erase_if(out->headers, [](const auto& h) { return h.first == "x-goog-api-key"; });
  if (!token.empty()) out->headers.emplace_back("authorization", "Bearer " + token);
  return out;
}

}  // namespace tollgate::providers
