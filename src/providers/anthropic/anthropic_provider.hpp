#pragma once
// Anthropic's Messages API (`anthropic/` deployments): OpenAI chat requests out, Messages
// responses and SSE streams back in OpenAI's chat.completion / chat.completion.chunk shape.
// Only /chat/completions is served; /completions and /embeddings are 400s.
//
// Request (OpenAI → POST {api_base}/messages, headers x-api-key, anthropic-version 2023-06-01,
// and anthropic-beta when litellm_params.extra_headers names it):
//   system/developer messages  → top-level `system` (a string; text blocks when a part has cache_control)
//   user/assistant messages    → content blocks; consecutive same-role turns merged into one
//   text / image_url parts     → text blocks (cache_control kept) / image blocks (base64 or url source)
//   assistant tool_calls       → tool_use blocks (arguments parsed; invalid JSON is a 400)
//   tool messages              → tool_result blocks in a user turn
//   max_tokens | max_completion_tokens → max_tokens (4096 when absent)
//   temperature, top_p, top_k, stream, thinking → as is;  stop → stop_sequences;  user → metadata.user_id
//   tools (function) → {name, description, input_schema};  tool_choice auto/required/none/{function}
//   → {auto}/{any}/{none}/{tool,name};  parallel_tool_calls=false → disable_parallel_tool_use
//   reasoning_effort (without thinking) → thinking {enabled, budget 1024/2048/4096 for low/medium/high}
//   response_format json_object/json_schema → a forced `json_tool_call` tool with that schema, whose
//   input comes back as message.content (finish_reason stop)
// Everything else is dropped (Anthropic rejects unknown fields): n, logprobs, top_logprobs,
// frequency_penalty, presence_penalty, logit_bias, seed, stream_options, service_tier, store,
// modalities, audio, prediction, functions, function_call, and any gateway-only or unknown member.
//
// Response: text blocks → message.content (null when none), tool_use → message.tool_calls,
// thinking → message.reasoning_content; stop_reason → finish_reason (end_turn/stop_sequence/
// pause_turn → stop, max_tokens → length, tool_use → tool_calls, refusal → content_filter).
// prompt_tokens = input_tokens + cache reads + cache writes (Anthropic's input_tokens excludes both).
//
// Thread safety: AnthropicProvider is immutable; a stream translator belongs to one stream.
// The pure functions keep no references past the call.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

/// The forced tool that carries a response_format answer (LiteLLM's name for it): its input is the
/// JSON the client asked for, returned as the message content.
inline constexpr std::string_view kAnthropicJsonTool = "json_tool_call";

class AnthropicProvider final : public Provider {
 public:
  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const override;
  /// Retry headers: retry-after, else the anthropic-ratelimit-*-reset of an exhausted limit.
  UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                 std::int64_t now_unix_s) const override;
  std::optional<api::ApiResult<http::UpstreamRequest>> build_messages_passthrough(
      const config::Deployment& deployment, const http::Url& base, std::string_view body,
      std::string_view upstream_model, const http::HeaderList& client_headers) const override;
  Usage messages_usage(std::string_view body) const override;
};

/// The Messages API body for an OpenAI chat request, naming `model`. Errors are 400s.
api::ApiResult<std::string> anthropic_request_body(const api::ParsedRequest& request, std::string_view model);

/// A Messages API response as an OpenAI chat.completion stamped `created`; fills `usage`.
api::ApiResult<std::string> anthropic_response_to_openai(std::string_view body, std::int64_t created, Usage& usage);

/// The stream translator with a fixed `created` stamp (tests; the provider uses the clock).
std::unique_ptr<StreamTranslator> make_anthropic_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                   std::int64_t created);

/// An Anthropic error (`{"type":"error","error":{"type","message"}}`) as the client's error.
api::ApiError anthropic_error(unsigned status, std::string_view body);

}  // namespace tollgate::providers
