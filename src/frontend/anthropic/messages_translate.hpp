#pragma once
// The Anthropic front end's translators (POST /v1/messages; AnthropicFrontEnd uses them): clients that speak Anthropic's Messages API
// (the Anthropic SDK, Claude Code) call any model group. Their request becomes the OpenAI chat
// request the gateway routes, and the OpenAI answer — whole, streamed or an error — goes back in
// Anthropic's shape. To an Anthropic deployment the body passes through instead
// (AnthropicFrontEnd::native_request); these translators are for every other deployment.
// Mapping tables: docs/providers.md#anthropic-front-end-v1messages.
//
// Request (Messages → OpenAI chat):
//   system (string or text blocks)       → a system message (text parts when a block has cache_control)
//   user text / image blocks             → text / image_url parts (base64 → data: URL, url → URL)
//   user tool_result blocks              → `tool` messages, before the turn's other content
//   assistant text / tool_use blocks     → content / tool_calls (input as JSON text); thinking dropped
//   max_tokens, temperature, top_p, stream, stop_sequences → max_tokens, temperature, top_p, stream
//   (+ stream_options.include_usage), stop;  metadata.user_id → user
//   tools → function tools (input_schema → parameters);  tool_choice auto/any/tool/none →
//   auto/required/{function}/none;  disable_parallel_tool_use → parallel_tool_calls: false
//   top_k, thinking, service_tier, container, mcp_servers: dropped.  LiteLLM's own request fields
//   (fallbacks, num_retries, timeout, tags, mock_response, ...) are kept for the gateway.
// Response (chat.completion → message): reasoning_content → a thinking block, content → a text
// block, tool_calls → tool_use blocks; finish_reason stop/length/tool_calls/content_filter →
// stop_reason end_turn/max_tokens/tool_use/refusal; usage: input_tokens excludes cache reads and
// writes, as Anthropic counts.
//
// Thread safety: pure functions; a MessagesStreamWriter belongs to one stream.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/http/sse_decoder.hpp"

namespace tollgate::frontend {

/// An Anthropic Messages request as an OpenAI chat request body. Errors are 400s.
api::ApiResult<std::string> messages_request_to_chat(std::string_view body);

/// An OpenAI chat.completion as an Anthropic message.
api::ApiResult<std::string> chat_response_to_message(std::string_view body);

/// POST /v1/messages/count_tokens: the request's model and an estimate of its input tokens
/// (about four bytes of JSON per token, the estimate the gateway's limits use).
struct TokenCount {
  std::string model;
  std::int64_t input_tokens = 0;
};
api::ApiResult<TokenCount> count_message_tokens(std::string_view body);

/// An error as Anthropic's `{"type":"error","error":{"type","message"}}`.
std::string anthropic_error_json(const api::ApiError& error);

/// Turns the OpenAI chat.completion.chunk SSE the gateway produces into Anthropic's stream events
/// (message_start, content_block_start/delta/stop, message_delta, message_stop, error).
class MessagesStreamWriter {
 public:
  /// Consumes OpenAI SSE bytes (any split) and appends Anthropic SSE bytes to `out`.
  void translate(std::string_view openai_sse, std::string& out);

 private:
  void on_chunk(const nlohmann::ordered_json& chunk, std::string& out);
  void open_block(const nlohmann::ordered_json& block, std::string& out);
  void close_block(std::string& out);
  void finish(std::string& out);

  http::SseDecoder decoder_;
  bool started_ = false;
  bool finished_ = false;
  int block_index_ = -1;         // of the open block; -1 when none is open
  std::string block_type_;       // "text", "thinking" or "tool_use"
  std::int64_t tool_index_ = -1;  // the OpenAI tool_calls index the open tool_use block belongs to
  std::string stop_reason_ = "end_turn";
  std::int64_t input_tokens_ = 0;
  std::int64_t output_tokens_ = 0;
  std::int64_t cache_read_ = 0;
  std::int64_t cache_write_ = 0;
};

}  // namespace tollgate::frontend
