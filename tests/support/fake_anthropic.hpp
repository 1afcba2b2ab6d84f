#pragma once
// The fake provider's Anthropic Messages API (`POST /v1/messages`), decided without any I/O.
//
// It checks what Anthropic checks and a translator gets wrong first: `x-api-key` (when the fake
// requires a key), `anthropic-version`, `model`, an integer `max_tokens`, a non-empty `messages`
// list that starts with `user` and alternates roles, no `system` role inside it, known content
// block types. Violations get Anthropic's 400 `invalid_request_error` body, so an adapter bug fails
// the test that sent it.
//
// Answers: a `message` with one text block (the `content` control or the default text), or — when
// the request offers `tools` and its last message is not a tool result — one `tool_use` block
// calling the first tool with {"location":"Paris"}. Usage follows the controls: `prompt_tokens`
// (total input, cache included), `completion_tokens`, `cached_tokens` (cache_read_input_tokens),
// `cache_creation_tokens` (cache_creation_input_tokens); input_tokens is the rest, as Anthropic
// reports it. `stream: true` gives Anthropic's SSE events (message_start, content_block_start,
// ping, `chunks` deltas, content_block_stop, message_delta, message_stop), one write each. The
// `status` control answers with Anthropic's error body for that status (529 overloaded_error).
//
// Thread safety: pure function.
#include <string_view>

#include <nlohmann/json.hpp>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

FakeReply plan_anthropic(const FakeRequest& request, const FakeControls& controls, const nlohmann::json& body,
                         bool body_ok, std::string_view required_api_key);

/// Anthropic's error body: {"type":"error","error":{"type":<type for status>,"message":...}}.
std::string anthropic_error_body(unsigned status, std::string_view message);

}  // namespace tollgate::testing
