#include "tollgate/api/request.hpp"

#include "tollgate/api/json_read.hpp"

#include <array>
#include <utility>

namespace tollgate::api {
namespace {

using nlohmann::json;

// LiteLLM request extras (and client-side credential overrides we refuse to forward).
constexpr std::array<std::string_view, 17> kGatewayOnly = {
    "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "num_retries", "timeout",
    "metadata", "litellm_metadata", "tags", "mock_response", "mock_testing_fallbacks",
    "mock_testing_rate_limit_error", "mock_timeout", "api_key", "api_base", "base_url", "caching",
    "cache"};

ApiError bad(std::string message, std::string param) {
  return make_error(Errc::kInvalidRequest, std::move(message), std::move(param));
}

json parse_value(std::string_view raw) {
  // The scanner already validated the text (depth, UTF-8, surrogates, no repeated names), so this
  // cannot fail.
  return read_json(raw, nullptr, JsonReadOptions{.reject_duplicates = false});
}



// Fast paths for the values every request carries, avoiding a DOM: a string without escapes is
// its raw text between the quotes.
std::optional<std::string> plain_string(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"' || raw.find('\\') != std::string_view::npos) return std::nullopt;
  return std::string(raw.substr(1, raw.size() - 2));
}

/// The value as a string if it is one (escapes decoded); nullopt for any other type.
std::optional<std::string> string_value(std::string_view raw) {
  if (raw.empty() || raw.front() != '"') return std::nullopt;
  if (auto plain = plain_string(raw)) return plain;
  return parse_value(raw).get<std::string>();
}

}  // namespace

std::string_view endpoint_path(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kChatCompletions: return "/chat/completions";
    case Endpoint::kCompletions: return "/completions";
    case Endpoint::kEmbeddings: return "/embeddings";
  }
  return "/chat/completions";
}

bool is_gateway_only_field(std::string_view key) {
  for (auto k : kGatewayOnly) {
    if (k == key) return true;
  }
  return false;
}

ApiResult<ParsedRequest> parse_request(std::string_view body, Endpoint endpoint) {
  ParsedRequest out;
  out.body = body;
  bool is_object = false;
  ScanError scan_error;
  if (body.empty()) return make_error(Errc::kInvalidJson, "Request body is empty; expected a JSON object.");
  if (!scan_json(body, out.top, is_object, scan_error)) return invalid_body_error(scan_error);
  if (!is_object) return make_error(Errc::kInvalidJson, "Request body must be a JSON object.");

  RequestFields& f = out.fields;
  const JsonMember* model = out.top.find("model");
  if (!model) return bad("Missing required parameter: 'model'.", "model");
  std::optional<std::string> model_name = string_value(model->value);
  if (!model_name || model_name->empty()) return bad("'model' must be a non-empty string.", "model");
  f.model = std::move(*model_name);

  const char* prompt_field = endpoint == Endpoint::kChatCompletions ? "messages"
                             : endpoint == Endpoint::kCompletions   ? "prompt"
                                                                    : "input";
  const JsonMember* prompt = out.top.find(prompt_field);
  if (!prompt) return bad(std::string("Missing required parameter: '") + prompt_field + "'.", prompt_field);
  if (endpoint == Endpoint::kChatCompletions && prompt->value.front() != '[') {
    return bad("'messages' must be an array.", "messages");
  }
  f.prompt_bytes = prompt->value.size();

  if (const JsonMember* s = out.top.find("stream")) {
    if (s->value == "true") {
      f.stream = true;
    } else if (s->value != "false" && s->value != "null") {
      return bad("'stream' must be a boolean.", "stream");
    }
  }
  if (const JsonMember* so = out.top.find("stream_options")) {
    json v = parse_value(so->value);
    if (!v.is_null() && !v.is_object()) return bad("'stream_options' must be an object.", "stream_options");
    if (v.is_object() && v.contains("include_usage")) {
      if (!v["include_usage"].is_boolean()) return bad("'stream_options.include_usage' must be a boolean.", "stream_options");
      f.client_wants_usage = v["include_usage"].get<bool>();
    }
  }
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    const JsonMember* mt = out.top.find(name);
    if (!mt || f.max_tokens) continue;
    json v = parse_value(mt->value);
    if (v.is_number_integer() && v.get<std::int64_t>() > 0) {
      f.max_tokens = v.get<std::int64_t>();
    } else if (!v.is_null()) {
      return bad(std::string("'") + name + "' must be a positive integer.", name);
    }
  }
  if (const JsonMember* u = out.top.find("user")) {
    if (auto user = string_value(u->value)) f.user = std::move(*user);
  }
  if (const JsonMember* mr = out.top.find("mock_response")) {
    json v = parse_value(mr->value);
    if (v.is_string()) {
      f.mock_response = v.get<std::string>();
    } else if (!v.is_null()) {
      return bad("'mock_response' must be a string.", "mock_response");
    }
  }
  if (const JsonMember* t = out.top.find("timeout")) {
    json v = parse_value(t->value);
    if (v.is_number() && v.get<double>() > 0 && v.get<double>() <= kMaxRequestTimeoutSeconds) {
      f.timeout_seconds = v.get<double>();
    } else if (!v.is_null()) {
      return bad("'timeout' must be a number of seconds above 0 and at most " +
                     std::to_string(static_cast<int>(kMaxRequestTimeoutSeconds)) + ".",
                 "timeout");
    }
  }
  if (const JsonMember* r = out.top.find("num_retries")) {
    json v = parse_value(r->value);
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= kMaxRequestRetries) {
      f.num_retries = v.get<int>();
    } else if (!v.is_null()) {
      return bad("'num_retries' must be an integer from 0 to " + std::to_string(kMaxRequestRetries) + ".",
                 "num_retries");
    }
  }
  if (const JsonMember* fb = out.top.find("fallbacks")) {
    // A list of model groups; LiteLLM also accepts [{"model": "..."}] entries.
    json v = parse_value(fb->value);
    if (!v.is_null()) {
      if (!v.is_array()) return bad("'fallbacks' must be a list of model names.", "fallbacks");
      std::vector<std::string> groups;
      for (const auto& item : v) {
        if (item.is_string()) {
          groups.push_back(item.get<std::string>());
        } else if (item.is_object() && item.contains("model") && item["model"].is_string()) {
          groups.push_back(item["model"].get<std::string>());
        } else {
          return bad("'fallbacks' must be a list of model names.", "fallbacks");
        }
      }
      f.fallbacks = std::move(groups);
    }
  }
  const std::pair<const char*, bool*> flags[] = {{"mock_testing_fallbacks", &f.mock_testing_fallbacks},
                                                  {"mock_testing_rate_limit_error", &f.mock_testing_rate_limit_error}};
  for (const auto& [name, flag] : flags) {
    const JsonMember* m = out.top.find(name);
    if (!m) continue;
    json v = parse_value(m->value);
    if (!v.is_boolean() && !v.is_null()) return bad(std::string("'") + name + "' must be a boolean.", name);
    *flag = v.is_boolean() && v.get<bool>();
  }
  auto add_tags = [&](const json& v) {
    if (!v.is_array()) return;
    for (const auto& t : v) {
      if (t.is_string()) f.tags.push_back(t.get<std::string>());
    }
  };
  if (const JsonMember* md = out.top.find("metadata")) {
    f.metadata = parse_value(md->value);
    if (f.metadata.is_object() && f.metadata.contains("tags")) add_tags(f.metadata["tags"]);
  }
  if (const JsonMember* tg = out.top.find("tags")) add_tags(parse_value(tg->value));
  return out;
}

std::string build_upstream_body(const ParsedRequest& request, const UpstreamBodyOptions& options) {
  std::string out;
  out.reserve(request.body.size() + options.model.size() + 48);
  out.push_back('{');
  bool first = true;
  bool saw_stream_options = false;
  auto separator = [&] {
    if (!first) out.push_back(',');
    first = false;
  };
  for (const JsonMember& m : request.top.members) {
    if (is_gateway_only_field(m.key)) continue;
    if (m.key == "model") {
      separator();
      out.append("\"model\":");
      out.append(json(options.model).dump());
      continue;
    }
    if (m.key == "stream_options" && options.force_include_usage) {
      saw_stream_options = true;
      json v = parse_value(m.value);
      if (!v.is_object()) v = json::object();
      v["include_usage"] = true;
      separator();
      out.append("\"stream_options\":");
      out.append(v.dump());
      continue;
    }
    separator();
    out.append(request.body.substr(m.begin, m.end - m.begin));
  }
  if (options.force_include_usage && !saw_stream_options) {
    separator();
    out.append("\"stream_options\":{\"include_usage\":true}");
  }
  out.push_back('}');
  return out;
}

}  // namespace tollgate::api
