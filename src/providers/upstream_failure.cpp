#include "providers/upstream_failure.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "tollgate/api/json_read.hpp"
#include "tollgate/http/retry_after.hpp"

namespace tollgate::providers {
namespace {

using config::ErrorClass;

constexpr std::array<std::string_view, 6> kOpenAiContextWindow{
    "context_length_exceeded", "maximum context length", "context window", "reduce the length of the messages",
    "context length", "exceeds the context"};
constexpr std::array<std::string_view, 8> kOpenAiContentPolicy{
    "content_policy_violation", "content_filter", "content management policy", "safety system",
    "responsibleaipolicyviolation", "violates our usage policy", "flagged by our content",
    "blocked by the content filter"};
constexpr std::array<std::string_view, 3> kOpenAiRateLimit{"rate_limit_exceeded", "rate limit", "too many requests"};

bool says(std::string_view reason, std::initializer_list<const Wording*> wordings,
          std::span<const std::string_view> Wording::*list) {
  for (const Wording* w : wordings) {
    for (std::string_view phrase : w->*list) {
      if (reason.find(phrase) != std::string_view::npos) return true;
    }
  }
  return false;
}

}  // namespace

const Wording kOpenAiWording{kOpenAiContextWindow, kOpenAiContentPolicy, kOpenAiRateLimit};

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

ErrorClass classify_reason(unsigned status, std::string_view reason, std::initializer_list<const Wording*> wordings) {
  if (says(reason, wordings, &Wording::context_window)) return ErrorClass::kContextWindow;
  if (says(reason, wordings, &Wording::content_policy)) return ErrorClass::kContentPolicy;
  if (status == 429 || says(reason, wordings, &Wording::rate_limit)) return ErrorClass::kRateLimit;
  if (status == 408 || status == 504) return ErrorClass::kTimeout;
  if (status == 401 || status == 403) return ErrorClass::kAuthentication;
  if (status == 404) return ErrorClass::kNotFound;
  if (status >= 500) return ErrorClass::kServerError;  // incl. Anthropic's 529 "overloaded"
  return ErrorClass::kBadRequest;
}

ErrorClass classify_openai_reason(unsigned status, std::string_view reason) {
  return classify_reason(status, reason, {&kOpenAiWording, &kAnthropicWording, &kGeminiWording, &kBedrockWording});
}

UpstreamFailure openai_compatible_failure(api::ApiError error, unsigned status, const nlohmann::json& parsed,
                                          std::string_view body, const HeaderLookup& header, std::int64_t now_unix_s) {
  UpstreamFailure f;
  f.error = std::move(error);
  f.cls = classify_openai_reason(status, reason_text(parsed, body));
  read_retry_after(f, header, now_unix_s);
  read_ratelimit_reset(f, header);
  return f;
}

api::ApiError openai_error(unsigned status, const nlohmann::json& parsed, std::string_view body) {
  // Statuses the OpenAI SDKs map to their own exception classes pass through; others fold into
  // the nearest class so clients never see a status they cannot interpret.
  unsigned mapped = status;
  switch (status) {
    case 400: case 401: case 403: case 404: case 408: case 409: case 413: case 422: case 429:
    case 500: case 502: case 503: case 504: break;
    default: mapped = status >= 500 ? 500 : 400;
  }
  api::ApiError e = api::make_error(Errc::kUpstreamStatus, "");
  e.status = mapped;
  e.code = std::to_string(mapped);
  e.type = mapped == 429 ? "rate_limit_error" : mapped >= 500 ? "api_error" : "invalid_request_error";
  if (parsed.is_object()) {
    auto err = parsed.find("error");
    if (err != parsed.end() && err->is_object()) {
      auto field = [&err](const char* key) -> const std::string* {
        auto it = err->find(key);
        return it != err->end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
      };
      if (const std::string* message = field("message")) e.message = *message;
      if (const std::string* type = field("type")) e.type = *type;
      if (const std::string* param = field("param")) e.param = *param;
    }
  }
  if (e.message.empty()) {
    constexpr std::size_t kSnippet = 200;
    e.message = "Upstream returned HTTP " + std::to_string(status) +
                (body.empty() ? std::string(".") : ": " + std::string(body.substr(0, kSnippet)));
  }
  return e;
}

std::string header_value(const HeaderLookup& header, std::string_view name) {
  return header ? header(name) : std::string();
}

void read_retry_after(UpstreamFailure& failure, const HeaderLookup& header, std::int64_t now_unix_s) {
  const auto wait = http::parse_retry_after(header_value(header, "retry-after"), now_unix_s);
  if (!wait) return;
  failure.error.retry_after = std::chrono::floor<std::chrono::seconds>(*wait);  // as the adapters relayed it before
  if (!failure.retry_after) failure.retry_after = wait;
}

void read_ratelimit_reset(UpstreamFailure& failure, const HeaderLookup& header) {
  if (failure.retry_after) return;
  std::string reset = header_value(header, "x-ratelimit-reset-requests");
  if (reset.empty()) reset = header_value(header, "x-ratelimit-reset-tokens");
  failure.retry_after = http::parse_reset_duration(reset);
}

UpstreamFailure Provider::classify_translated_error(api::ApiError error) const {
  UpstreamFailure out;
  if (error.errc == Errc::kUpstreamStatus) {
    // An adapter's own error in OpenAI's words (Gemini's blocked prompt: content_policy_violation).
    const std::string reason = lowercase(error.code + ' ' + error.type + ' ' + error.message);
    out.cls = classify_reason(error.status, reason, {&kOpenAiWording});
  }
  out.error = std::move(error);
  return out;
}

}  // namespace tollgate::providers
