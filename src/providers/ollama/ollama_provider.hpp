#pragma once
// Ollama's native chat API (`ollama_chat/` and `ollama/` deployments): OpenAI chat requests out,
// Ollama chat responses and NDJSON streams back in OpenAI's chat.completion(.chunk) shape. Only
// /chat/completions is served; /completions and /embeddings are 400s.
//
// Request (OpenAI → POST {api_base}/api/chat, `Authorization: Bearer` only when an api_key is set):
//   system/developer/user/assistant messages → role system/system/user/assistant, content a string
//   text parts        → joined into `content`;  image_url data: URLs → the message's `images` (base64)
//   assistant tool_calls → tool_calls [{function: {name, arguments: <object>}}]
//   tool messages     → role tool, content, tool_name (the name of the call it answers, when known)
//   temperature, top_p, top_k, seed, stop, frequency_penalty, presence_penalty → options.*
//   max_tokens | max_completion_tokens → options.num_predict
//   response_format json_object → format "json"; json_schema → format = the schema
//   tools (function tools) → tools as is;  keep_alive → keep_alive;  stream → stream (always set)
// Everything else is dropped. http(s) image URLs, other part types and roles are 400s.
//
// Response: message.content → content, message.thinking → reasoning_content, message.tool_calls →
// tool_calls (ids call_<n>, arguments as JSON text); finish_reason tool_calls when there are tool
// calls, else done_reason length → length, anything else → stop. prompt_tokens =
// prompt_eval_count, completion_tokens = eval_count.
//
// Thread safety: OllamaProvider is immutable; a stream translator belongs to one stream. The pure
// functions keep no references past the call.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

class OllamaProvider final : public Provider {
 public:
  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const override;
  std::string_view stream_content_type() const override { return "application/x-ndjson"; }
  std::unique_ptr<http::StreamDecoder> make_stream_decoder() const override;
  UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                 std::int64_t now_unix_s) const override;
};

/// What Ollama does not send but OpenAI's shape has: the completion's id and `created` stamp.
struct OllamaStamp {
  std::string id;            // "chatcmpl-..."
  std::int64_t created = 0;  // unix seconds
};

/// The /api/chat body for an OpenAI chat request, naming `model`. Errors are 400s.
api::ApiResult<std::string> ollama_request_body(const api::ParsedRequest& request, std::string_view model);

/// An /api/chat response (stream false) as an OpenAI chat.completion; fills `usage`.
api::ApiResult<std::string> ollama_response_to_openai(std::string_view body, const OllamaStamp& stamp, Usage& usage);

/// The stream translator (one NDJSON line per event) with a fixed stamp (tests; the provider
/// makes a fresh one per stream).
std::unique_ptr<StreamTranslator> make_ollama_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                OllamaStamp stamp);

/// Ollama's `{"error":"..."}` (or any body) with its status as the client's error.
api::ApiError ollama_error(unsigned status, std::string_view body);

}  // namespace tollgate::providers
