#include "tollgate/router/error_class.hpp"
#include "tollgate/api/json_read.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

namespace tollgate::router {
namespace {

using std::chrono::milliseconds;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool contains_any(const std::string& haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return haystack.find(n) != std::string::npos; });
}

// Phrases providers use when the prompt does not fit (OpenAI, Azure, Anthropic, Gemini, vLLM,
// Mistral, Bedrock), lowercased.
bool says_context_window(const std::string& text) {
  return contains_any(text, {"context_length_exceeded", "maximum context length", "context window",
                             "prompt is too long", "input is too long", "too many input tokens",
                             "exceeds the context", "reduce the length of the messages", "context length",
                             "input token count", "exceeds the maximum number of tokens"});
}

bool says_content_policy(const std::string& text) {
  return contains_any(text, {"content_policy_violation", "content_filter", "content management policy",
                             "safety system", "responsibleaipolicyviolation", "violates our usage policy",
                             "flagged by our content", "blocked by the content filter",
                             "content filtering policy"});  // Anthropic: "Output blocked by content filtering policy"
}

// "error.code", "error.type" and "error.message" (also top-level "message"/"type"), lowercased and
// joined: the fields providers put the reason in.
std::string error_text(std::string_view body) {
  auto parsed = api::read_json_lenient(body);
  std::string text;
  auto take = [&text](const nlohmann::json& obj) {
    for (const char* key : {"code", "type", "message", "status"}) {
      auto it = obj.find(key);
      if (it != obj.end() && it->is_string()) text += lower(it->get_ref<const std::string&>()) + ' ';
    }
  };
  if (parsed.is_object()) {
    take(parsed);
    auto err = parsed.find("error");
    if (err != parsed.end() && err->is_object()) take(*err);
    if (err != parsed.end() && err->is_string()) text += lower(err->get_ref<const std::string&>());
  } else {
    text = lower(body.substr(0, 4096));
  }
  return text;
}

std::optional<std::int64_t> parse_http_date(std::string_view value) {
  // IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form every provider sends.
  std::tm tm{};
  std::string copy(value);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  double seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && ptr == value.data() + value.size()) {
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 86'400) return std::nullopt;
    return milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
  }
  auto when = parse_http_date(value);
  if (!when || *when <= now_unix_s) return std::nullopt;
  return milliseconds((*when - now_unix_s) * 1000);
}

std::optional<milliseconds> parse_reset_duration(std::string_view value) {
  if (value.empty()) return std::nullopt;
  double total_ms = 0;
  const char* p = value.data();
  const char* end = p + value.size();
  bool any = false;
  while (p < end) {
    double number = 0;
    auto [next, ec] = std::from_chars(p, end, number);
    if (ec != std::errc() || !std::isfinite(number) || number < 0) return std::nullopt;
    p = next;
    std::string_view unit(p, static_cast<std::size_t>(end - p));
    double scale = 1000;  // bare number: seconds
    std::size_t len = 0;
    if (unit.starts_with("ms")) {
      scale = 1, len = 2;
    } else if (unit.starts_with("h")) {
      scale = 3'600'000, len = 1;
    } else if (unit.starts_with("m")) {
      scale = 60'000, len = 1;
    } else if (unit.starts_with("s")) {
      scale = 1000, len = 1;
    } else if (!unit.empty()) {
      return std::nullopt;
    }
    p += len;
    total_ms += number * scale;
    any = true;
  }
  if (!any || !std::isfinite(total_ms) || total_ms > 86'400'000.0) return std::nullopt;
  return milliseconds(static_cast<std::int64_t>(total_ms));
}

Classified classify_response(unsigned status, std::string_view body, std::string_view retry_after,
                             std::string_view ratelimit_reset, std::int64_t now_unix_s) {
  Classified out;
  out.retry_after = parse_retry_after(retry_after, now_unix_s);
  if (!out.retry_after) out.retry_after = parse_reset_duration(ratelimit_reset);
  const std::string text = error_text(body);
  // The body's reason wins over the status: providers send context-window and content-policy
  // refusals as 400, 403, 413 or 422 alike.
  if (says_context_window(text)) {
    out.cls = ErrorClass::kContextWindow;
  } else if (says_content_policy(text)) {
    out.cls = ErrorClass::kContentPolicy;
  } else if (status == 429 || contains_any(text, {"rate_limit_exceeded", "rate limit", "resource_exhausted",
                                                  "throttlingexception", "too many requests"})) {
    out.cls = ErrorClass::kRateLimit;
  } else if (status == 408 || status == 504) {
    out.cls = ErrorClass::kTimeout;
  } else if (status == 401 || status == 403) {
    out.cls = ErrorClass::kAuthentication;
  } else if (status == 404) {
    out.cls = ErrorClass::kNotFound;
  } else if (status >= 500) {
    out.cls = ErrorClass::kServerError;  // incl. Anthropic's 529 "overloaded"
  } else {
    out.cls = ErrorClass::kBadRequest;
  }
  return out;
}

ErrorClass classify_errc(Errc errc) {
  switch (errc) {
    case Errc::kUpstreamTimeout: return ErrorClass::kTimeout;
    case Errc::kUpstreamConnect: return ErrorClass::kConnection;
    default: return ErrorClass::kServerError;
  }
}

std::string_view exception_class_name(ErrorClass cls) {
  switch (cls) {
    case ErrorClass::kBadRequest: return "BadRequestError";
    case ErrorClass::kAuthentication: return "AuthenticationError";
    case ErrorClass::kTimeout: return "Timeout";
    case ErrorClass::kRateLimit: return "RateLimitError";
    case ErrorClass::kContentPolicy: return "ContentPolicyViolationError";
    case ErrorClass::kServerError: return "InternalServerError";
    case ErrorClass::kContextWindow: return "ContextWindowExceededError";
    case ErrorClass::kNotFound: return "NotFoundError";
    case ErrorClass::kConnection: return "APIConnectionError";
  }
  return "InternalServerError";
}

bool is_client_fault(ErrorClass cls) {
  return cls == ErrorClass::kBadRequest || cls == ErrorClass::kContextWindow || cls == ErrorClass::kContentPolicy;
}

}  // namespace tollgate::router
