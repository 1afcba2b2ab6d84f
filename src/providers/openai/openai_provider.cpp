#include "providers/openai/openai_provider.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tollgate/api/json_scan.hpp"
#include "tollgate/api/sse.hpp"
#include "tollgate/api/json_read.hpp"
#include "providers/openai/param_support.hpp"
#include "providers/upstream_failure.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

// Upstream answers are only read: a repeated member is the upstream's business, not a refusal.
constexpr api::ScanOptions kUpstream{.reject_duplicates = false};

// True for `[]` with any whitespace inside (the raw text is already validated JSON).
bool is_empty_array(std::string_view raw) {
  const auto inner = raw.find_first_not_of(" \t\r\n", 1);
  return raw.front() == '[' && inner != std::string_view::npos && raw[inner] == ']';
}

class OpenAiStreamTranslator final : public StreamTranslator {
 public:
  OpenAiStreamTranslator(bool client_wants_usage, Provider::CostFn cost)
      : client_wants_usage_(client_wants_usage), cost_(std::move(cost)) {}

  std::optional<api::ApiError> on_event(const http::SseEvent& event, std::string& out) override {
    if (event.data == "[DONE]") {
      finished_ = true;
      out.append(api::kSseDone);
      return std::nullopt;
    }
    api::ScannedObject chunk;
    api::ScanError error;
    bool is_object = false;
    if (!api::scan_json(event.data, chunk, is_object, error, kUpstream) || !is_object) {
      return api::make_error(Errc::kUpstreamProtocol, "Upstream sent a malformed stream chunk: " +
                                                          (error.what.empty() ? std::string("not an object") : error.what) + ".");
    }
    bool usage_only = false;
    const api::JsonMember* u = chunk.find("usage");
    if (u && u->value != "null") {
      parse_openai_usage(u->value, usage_);
      const api::JsonMember* choices = chunk.find("choices");
      usage_only = !choices || is_empty_array(choices->value);
    }
    // The usage-only chunk we asked for on the client's behalf is not the client's to see.
    if (usage_only && !client_wants_usage_) return std::nullopt;
    if (usage_only && cost_ && u->value.starts_with('{')) {
      // The usage object gains the call's cost as its first member.
      const std::size_t at = static_cast<std::size_t>(u->value.data() - event.data.data()) + 1;
      const bool empty = u->value.find_first_not_of(" \t\r\n", 1) == u->value.size() - 1;
      std::string data = event.data;
      data.insert(at, fmt::format("\"cost\":{}{}", cost_(usage_), empty ? "" : ","));
      api::append_sse_data(out, data);
      return std::nullopt;
    }
    api::append_sse_data(out, event.data);
    return std::nullopt;
  }

  bool finished() const override { return finished_; }
  const Usage& usage() const override { return usage_; }

 private:
  bool client_wants_usage_;
  Provider::CostFn cost_;
  bool finished_ = false;
  Usage usage_;
};

// The members to remove from the upstream body: what the vendor rejects (an UnsupportedParamsError
// unless drop_params is on) and the deployment's additional_drop_params. Empty for most requests.
// The config loader leaves both in litellm_params in one shape (a bool, a list of strings).
api::ApiResult<std::vector<std::string_view>> params_to_drop(const config::Deployment& deployment,
                                                             std::string_view model, const api::ScannedObject& top) {
  std::vector<std::string_view> drop = rejected_params(deployment.provider, model, top);
  const json& params = deployment.litellm_params;
  if (!drop.empty()) {
    const auto allowed = params.find("drop_params");
    if (allowed == params.end() || !allowed->is_boolean() || !allowed->get<bool>()) {
      return unsupported_params_error(deployment.provider, model, drop);
    }
  }
  if (const auto extra = params.find("additional_drop_params"); extra != params.end() && extra->is_array()) {
    for (const json& name : *extra) {
      if (!name.is_string()) continue;
      if (const api::JsonMember* m = top.find(name.get_ref<const std::string&>())) drop.push_back(m->key);
    }
  }
  return drop;
}

}  // namespace

bool parse_openai_usage(std::string_view raw, Usage& usage) {
  // Read with the scanner (no DOM: this runs once per response on the hot path).
  api::ScannedObject u;
  api::ScanError error;
  bool is_object = false;
  if (!api::scan_json(raw, u, is_object, error, kUpstream) || !is_object) return false;
  auto integer = [](const api::ScannedObject& obj, std::string_view key) -> std::optional<std::int64_t> {
    const api::JsonMember* m = obj.find(key);
    std::int64_t value = 0;
    if (!m || std::from_chars(m->value.data(), m->value.data() + m->value.size(), value).ec != std::errc()) {
      return std::nullopt;
    }
    return value;
  };
  auto details_of = [&](std::string_view key, api::ScannedObject& details) {
    const api::JsonMember* m = u.find(key);
    bool details_is_object = false;
    return m && api::scan_json(m->value, details, details_is_object, error, kUpstream) && details_is_object;
  };
  usage.present = true;
  usage.prompt_tokens = integer(u, "prompt_tokens").value_or(0);
  usage.completion_tokens = integer(u, "completion_tokens").value_or(0);
  usage.total_tokens = integer(u, "total_tokens").value_or(0);
  if (usage.total_tokens == 0) usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  // Cache reads and writes: OpenAI's prompt_tokens_details, or the top-level names LiteLLM (and
  // the Anthropic-style servers behind it) also emit. The details win when they carry the count.
  std::optional<std::int64_t> cached;
  std::optional<std::int64_t> written;
  api::ScannedObject prompt_details;
  if (details_of("prompt_tokens_details", prompt_details)) {
    cached = integer(prompt_details, "cached_tokens");
    written = integer(prompt_details, "cache_creation_tokens");
  }
  usage.cached_prompt_tokens = cached ? *cached : integer(u, "cache_read_input_tokens").value_or(0);
  usage.cache_write_tokens = written ? *written : integer(u, "cache_creation_input_tokens").value_or(0);
  api::ScannedObject completion_details;
  usage.reasoning_tokens =
      details_of("completion_tokens_details", completion_details) ? integer(completion_details, "reasoning_tokens").value_or(0) : 0;
  return true;
}

api::ApiResult<http::UpstreamRequest> OpenAiProvider::build_request(const config::Deployment& deployment,
                                                                    const http::Url& base, api::Endpoint endpoint,
                                                                    const api::ParsedRequest& request,
                                                                    std::string_view upstream_model,
                                                                    bool want_stream_usage) const {
  http::UpstreamRequest out;
  out.url = base;
  out.target = base.path;
  out.target.append(api::endpoint_path(endpoint));
  out.headers.reserve(4);
  out.headers.emplace_back("content-type", "application/json");
  if (!deployment.api_key.empty()) out.headers.emplace_back("authorization", "Bearer " + deployment.api_key);
  if (!deployment.organization.empty()) out.headers.emplace_back("openai-organization", deployment.organization);
  if (request.fields.stream) out.headers.emplace_back("accept", "text/event-stream");
  const api::UpstreamBodyOptions options{
      .model = upstream_model,
      .force_include_usage = request.fields.stream && want_stream_usage && !request.fields.client_wants_usage};
  auto drop = params_to_drop(deployment, upstream_model, request.top);
  if (!drop) return drop.error();
  if (drop->empty()) {
    // The hot path: the client's bytes go out as they are, no re-serialization.
    out.body = api::build_upstream_body(request, options);
    return out;
  }
  api::ParsedRequest trimmed{.body = request.body, .top = request.top, .fields = {}};
  std::erase_if(trimmed.top.members, [&](const api::JsonMember& m) {
    return std::find(drop->begin(), drop->end(), m.key) != drop->end();
  });
  out.body = api::build_upstream_body(trimmed, options);
  return out;
}

api::ApiResult<std::string> OpenAiProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  api::ScannedObject top;
  api::ScanError error;
  bool is_object = false;
  if (!api::scan_json(body, top, is_object, error, kUpstream) || !is_object) {
    return api::make_error(Errc::kUpstreamProtocol, "Upstream returned a body that is not a JSON object.");
  }
  if (const api::JsonMember* u = top.find("usage"); u && u->value != "null") parse_openai_usage(u->value, usage);
  return body;
}

std::unique_ptr<StreamTranslator> OpenAiProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return std::make_unique<OpenAiStreamTranslator>(client_wants_usage, std::move(cost));
}

UpstreamFailure OpenAiProvider::classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                               std::int64_t now_unix_s) const {
  const json parsed = api::read_json_lenient(body);
  return openai_compatible_failure(openai_error(status, parsed, body), status, parsed, body, header, now_unix_s);
}

}  // namespace tollgate::providers
