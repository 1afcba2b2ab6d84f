#include "support/fake_controls.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace tollgate::testing {
namespace {

using nlohmann::json;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Path values carry no type: guess it the way a reader of the URL would.
json typed_value(const std::string& v) {
  if (v == "true") return true;
  if (v == "false") return false;
  long long n = 0;
  const char* end = v.data() + v.size();
  if (!v.empty()) {
    auto [ptr, ec] = std::from_chars(v.data(), end, n);
    if (ec == std::errc{} && ptr == end) return n;
  }
  return v;
}

std::optional<long long> as_int(const json& v) {
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_number_float()) return static_cast<long long>(v.get<double>());
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    long long n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && ptr == s.data() + s.size()) return n;
  }
  return std::nullopt;
}

bool as_bool(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (auto n = as_int(v)) return *n != 0;
  return v.is_string() && v.get_ref<const std::string&>() == "true";
}

std::optional<int> int_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (auto n = as_int(*it)) return static_cast<int>(*n);
  return std::nullopt;
}

std::optional<std::string> string_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

struct ErrorKind {
  const char* type;
  const char* code;  // nullptr -> JSON null
};

ErrorKind error_kind(unsigned status) {
  switch (status) {
    case 400: return {"invalid_request_error", nullptr};
    case 401: return {"authentication_error", "invalid_api_key"};
    case 403: return {"permission_error", "permission_denied"};
    case 404: return {"not_found_error", "model_not_found"};
    case 408: return {"timeout_error", "timeout"};
    case 409: return {"conflict_error", nullptr};
    case 413: return {"invalid_request_error", "request_too_large"};
    case 422: return {"invalid_request_error", nullptr};
    case 429: return {"requests", "rate_limit_exceeded"};
    case 503: return {"server_error", "overloaded"};
    default: break;
  }
  if (status >= 500) return {"server_error", nullptr};
  return {"invalid_request_error", nullptr};
}

}  // namespace

FakeTarget split_fake_target(std::string_view target) {
  FakeTarget out;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    out.query = std::string(target.substr(q + 1));
    target = target.substr(0, q);
  }
  std::size_t pos = 0;
  while (pos < target.size() && target[pos] == '/') {
    const std::size_t next = target.find('/', pos + 1);
    const std::string_view seg =
        target.substr(pos + 1, (next == std::string_view::npos ? target.size() : next) - pos - 1);
    const std::size_t eq = seg.find('=');
    if (eq == std::string_view::npos || eq == 0) break;
    out.controls[percent_decode(seg.substr(0, eq))] = typed_value(percent_decode(seg.substr(eq + 1)));
    if (next == std::string_view::npos) {
      pos = target.size();
      break;
    }
    pos = next;
  }
  out.path = std::string(target.substr(pos));
  return out;
}

FakeControls parse_fake_controls(const json& path_controls, const json& body) {
  json merged = path_controls.is_object() ? path_controls : json::object();
  if (body.is_object()) {
    if (auto it = body.find("fake"); it != body.end() && it->is_object()) {
      for (const auto& [key, value] : it->items()) merged[key] = value;
    }
  }

  FakeControls c;
  if (auto v = int_field(merged, "status"); v && *v >= 100 && *v <= 999) c.status = static_cast<unsigned>(*v);
  c.error_body = string_field(merged, "error_body");
  c.retry_after = int_field(merged, "retry_after");
  c.delay_headers_ms = int_field(merged, "delay_headers_ms").value_or(0);
  if (auto it = merged.find("hang"); it != merged.end()) c.hang = as_bool(*it);
  c.chunks = std::max(0, int_field(merged, "chunks").value_or(3));
  c.delay_chunk_ms = int_field(merged, "delay_chunk_ms").value_or(0);
  c.disconnect_after = int_field(merged, "disconnect_after");
  c.malformed_at = int_field(merged, "malformed_at");
  c.error_at = int_field(merged, "error_at");
  c.exception_at = int_field(merged, "exception_at");
  c.content = string_field(merged, "content");
  c.prompt_tokens = int_field(merged, "prompt_tokens");
  c.completion_tokens = int_field(merged, "completion_tokens");
  c.cached_tokens = int_field(merged, "cached_tokens").value_or(0);
  c.cache_creation_tokens = int_field(merged, "cache_creation_tokens").value_or(0);
  c.reasoning_tokens = int_field(merged, "reasoning_tokens").value_or(0);
  if (auto it = merged.find("garbage"); it != merged.end()) c.garbage = as_bool(*it);
  return c;
}

std::string openai_error_body(unsigned status, std::string_view message) {
  const ErrorKind kind = error_kind(status);
  return openai_error_body(status, message, kind.type,
                           kind.code ? std::optional<std::string_view>(kind.code) : std::nullopt);
}

std::string openai_error_body(unsigned /*status*/, std::string_view message, std::string_view type,
                              std::optional<std::string_view> code) {
  nlohmann::ordered_json err;
  err["message"] = message;
  err["type"] = type;
  err["param"] = nullptr;
  err["code"] = code ? nlohmann::ordered_json(*code) : nlohmann::ordered_json(nullptr);
  nlohmann::ordered_json body;
  body["error"] = std::move(err);
  return body.dump();
}

}  // namespace tollgate::testing
