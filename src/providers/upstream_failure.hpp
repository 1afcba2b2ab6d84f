#pragma once
// What every adapter's Provider::classify_error is made of: the words vendors name a failure class
// with, the text those words are looked for in, the status rules, OpenAI's error mapping (which
// the vendors with OpenAI-like errors build on) and the retry headers most vendors share.
//
// Wordings: each vendor's phrases live beside its adapter (kAnthropicWording in
// anthropic_provider.cpp, ...); OpenAI's here, since the OpenAI-shaped adapters (OpenAI, Azure,
// Ollama and every OpenAI-compatible prefix) share them and the other vendors use them too.
//
// Thread safety: pure functions and immutable tables.
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

/// Phrases, lowercase, that name a failure class in a vendor's error code, type or message.
struct Wording {
  std::span<const std::string_view> context_window;
  std::span<const std::string_view> content_policy;
  std::span<const std::string_view> rate_limit;
};

/// OpenAI's and Azure OpenAI's words, which vLLM, Mistral and the other OpenAI-compatible servers
/// use too.
extern const Wording kOpenAiWording;
/// Anthropic's (also Claude's on Bedrock); defined in anthropic_provider.cpp.
extern const Wording kAnthropicWording;
/// Google's (Gemini on AI Studio and Vertex AI); defined in gemini_response.cpp.
extern const Wording kGeminiWording;
/// Bedrock's own; defined in bedrock_response.cpp.
extern const Wording kBedrockWording;

/// `text`, ASCII-lowercased.
std::string lowercase(std::string_view text);

/// The fields vendors put the reason in — "code", "type", "message" and "status", at the top and
/// under "error" (or "error" itself when it is a string) — lowercased and joined; the first 4 KiB
/// of `body`, lowercased, when it is not a JSON object. `parsed` is `body` read as JSON.
template <class Json>
std::string reason_text(const Json& parsed, std::string_view body) {
  if (!parsed.is_object()) return lowercase(body.substr(0, 4096));
  std::string text;
  auto take = [&text](const Json& obj) {
    for (const char* key : {"code", "type", "message", "status"}) {
      auto it = obj.find(key);
      if (it != obj.end() && it->is_string()) text += lowercase(it->template get_ref<const std::string&>()) + ' ';
    }
  };
  take(parsed);
  auto err = parsed.find("error");
  if (err != parsed.end() && err->is_object()) take(*err);
  if (err != parsed.end() && err->is_string()) text += lowercase(err->template get_ref<const std::string&>());
  return text;
}

/// The class of an upstream error from its `reason` (reason_text) in the given wordings, then its
/// status. The words win: vendors send context-window and content-policy refusals as 400, 403,
/// 413 or 422 alike, and rate limits now and then as 400.
config::ErrorClass classify_reason(unsigned status, std::string_view reason,
                                   std::initializer_list<const Wording*> wordings);

/// classify_reason for the OpenAI-shaped adapters (OpenAI, Azure, Ollama, every OpenAI-compatible
/// prefix): OpenAI's words and every vendor's, since OpenAI-compatible servers relay what the model
/// behind them said (OpenRouter, LiteLLM, another gateway in front of Anthropic, Gemini or Bedrock).
config::ErrorClass classify_openai_reason(unsigned status, std::string_view reason);

/// The failure an OpenAI-shaped adapter reads: `error` (the client's, mapped from `parsed`, the
/// body read as JSON), the class in every vendor's words (classify_openai_reason), the wait from
/// retry-after, else x-ratelimit-reset-*.
UpstreamFailure openai_compatible_failure(api::ApiError error, unsigned status, const nlohmann::json& parsed,
                                          std::string_view body, const HeaderLookup& header, std::int64_t now_unix_s);

/// OpenAI's mapping of an upstream error: statuses OpenAI's SDKs know pass, others fold to 400 or
/// 500; the type follows the status unless `parsed` (the body as JSON) names one under "error",
/// with its message and param; without a message, the status and the start of `body`.
api::ApiError openai_error(unsigned status, const nlohmann::json& parsed, std::string_view body);

/// `header(name)`, or "" when `header` is empty.
std::string header_value(const HeaderLookup& header, std::string_view name);

/// `retry-after` (seconds or an HTTP date) as the client's retry-after (whole seconds) and, when
/// `failure` has no wait yet, the router's.
void read_retry_after(UpstreamFailure& failure, const HeaderLookup& header, std::int64_t now_unix_s);

/// OpenAI's `x-ratelimit-reset-requests` (else `-tokens`) as the router's wait, when `failure`
/// has none yet.
void read_ratelimit_reset(UpstreamFailure& failure, const HeaderLookup& header);

}  // namespace tollgate::providers
