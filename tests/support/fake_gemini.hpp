#pragma once
// The fake provider's Gemini API (`POST /v1beta/models/<model>:generateContent` and
// `:streamGenerateContent?alt=sse`), decided without any I/O.
//
// It checks what Google checks and a translator gets wrong first: the key in `x-goog-api-key`
// (when the fake requires a key: missing → 403 PERMISSION_DENIED, wrong → 400 "API key not
// valid", as AI Studio answers), `alt=sse` on stream calls, no unknown top-level or
// generationConfig member (Google refuses them: "Invalid JSON payload received. Unknown name"),
// a non-empty `contents` list of user/model turns, each part holding exactly one known member,
// functionCall args and functionResponse response as objects, no `stream` in the body.
// Violations get Google's 400 INVALID_ARGUMENT body, so an adapter bug fails the test that sent it.
//
// Answers: one candidate with the `content` control's text (or the default text), or — when the
// request declares functions and its last turn is not a functionResponse — a functionCall of the
// first function with {"location":"Paris"}. A last user text containing "BLOCK_ME" gets a
// promptFeedback.blockReason SAFETY answer without candidates. usageMetadata follows the controls:
// promptTokenCount = `prompt_tokens`, candidatesTokenCount = `completion_tokens` minus
// `reasoning_tokens` (thoughtsTokenCount), cachedContentTokenCount = `cached_tokens`. Streams send
// `chunks` text events (one write each, CRLF-framed as Google does), the last with finishReason and
// usage, and no [DONE]; `malformed_at` and `disconnect_after` count those events from 1. The `status`
// control answers with Google's error body for that status (429 RESOURCE_EXHAUSTED with a RetryInfo
// delay of 11s, 503 UNAVAILABLE, ...).
//
// Thread safety: pure functions.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

/// True for the Google paths plan_gemini serves (`.../models/<model>:<method>`).
bool is_gemini_path(std::string_view path);

/// `bearer_ok`: the caller checked the credentials (Vertex bearer tokens); otherwise the API key is.
FakeReply plan_gemini(const FakeRequest& request, const FakeControls& controls, const nlohmann::json& body, bool body_ok,
                      std::string_view path, std::string_view query, std::string_view required_api_key, bool bearer_ok = false);

/// Google's error body: {"error":{"code":<status>,"message":...,"status":<canonical name>}}.
std::string gemini_error_body(unsigned status, std::string_view message);

}  // namespace tollgate::testing
