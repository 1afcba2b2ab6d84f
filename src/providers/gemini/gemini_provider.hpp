#pragma once
// Google's generateContent API: `gemini/` deployments (Google AI Studio, API key). OpenAI chat
// requests out, GenerateContentResponse bodies and SSE streams back in OpenAI's chat.completion /
// chat.completion.chunk shape. Only /chat/completions is served; the other endpoints are 400s.
//
// Request (OpenAI → POST {api_base}/models/{model}:generateContent, or
// :streamGenerateContent?alt=sse for streams; the key in `x-goog-api-key`):
//   system/developer messages → systemInstruction.parts (text)
//   user / assistant / tool    → contents[] with role user / model / user; same-role turns merged
//   text / image_url parts     → {text} / {inlineData} (data: URLs) or {fileData} (gs:// and https URLs)
//   assistant tool_calls       → {functionCall:{name,args}} (arguments parsed; invalid JSON is a 400)
//   tool messages              → {functionResponse:{name,response}}, the name from the earlier call's id
//   tools (function)           → tools[{functionDeclarations:[{name,description,parameters}]}]
//   tool_choice auto/required/none/{function} → toolConfig.functionCallingConfig AUTO/ANY/NONE/ANY+allowedFunctionNames
//   temperature, top_p, top_k, max_tokens|max_completion_tokens, stop, n, seed, presence_penalty,
//   frequency_penalty, response_format json_object/json_schema → generationConfig
// Everything else is dropped.
//
// Response: candidates → choices; text parts → content, `thought: true` parts → reasoning_content,
// functionCall parts → tool_calls (id = functionCall.id or call_<n>); finishReason STOP → stop,
// MAX_TOKENS → length, SAFETY/RECITATION/BLOCKLIST/PROHIBITED_CONTENT/SPII/IMAGE_SAFETY →
// content_filter, any function call → tool_calls. usageMetadata: prompt_tokens = promptTokenCount,
// completion_tokens = candidatesTokenCount + thoughtsTokenCount, cached = cachedContentTokenCount.
// A prompt blocked by safety (promptFeedback.blockReason, no candidates) is a 400
// content_policy_violation, so content_policy_fallbacks apply.
//
// Streams: each SSE event is a whole GenerateContentResponse and Gemini sends no [DONE]: the
// translator ends the client's stream (finish chunk, usage chunk, [DONE]) at the first finishReason.
//
// Thread safety: GeminiProvider is immutable; a stream translator belongs to one stream. The pure
// functions keep no references past the call.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

class GeminiProvider : public Provider {
 public:
  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const override;
  UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                 std::int64_t now_unix_s) const override;
};

/// The generateContent body for an OpenAI chat request. Errors are 400s.
api::ApiResult<std::string> gemini_request_body(const api::ParsedRequest& request);

/// `{base_path}/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse` when `stream`.
std::string gemini_target(std::string_view base_path, std::string_view model, bool stream);

/// A GenerateContentResponse as an OpenAI chat.completion for `model`, stamped `created`; fills `usage`.
api::ApiResult<std::string> gemini_response_to_openai(std::string_view body, std::int64_t created, Usage& usage);

/// The stream translator with a fixed `created` stamp (tests; the provider uses the clock).
std::unique_ptr<StreamTranslator> make_gemini_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                std::int64_t created);

/// A Google error (`{"error":{"code","message","status","details"}}`) as the client's error, with
/// RetryInfo's retryDelay as its retry-after.
api::ApiError gemini_error(unsigned status, std::string_view body);

/// GeminiProvider::classify_error (Vertex AI's too): the error above, its class in Google's words,
/// and the wait from retry-after or x-ratelimit-reset-* (which also win over retryDelay for the client).
UpstreamFailure gemini_failure(unsigned status, std::string_view body, const HeaderLookup& header,
                               std::int64_t now_unix_s);

}  // namespace tollgate::providers
