#pragma once
// The fake provider's Ollama chat API (`POST /api/chat`), decided without any I/O.
//
// It checks what Ollama checks and a translator gets wrong first: `Authorization: Bearer <key>`
// (when the fake requires a key), a JSON object body, `model`, a `messages` list of
// {role: system|user|assistant|tool, content: string, images: [base64 strings],
// tool_calls: [{function: {name, arguments: <object>}}]}, `options` as an object (num_predict an
// integer, stop a list of strings), `format` "json" or a schema object, `stream` a boolean. Unlike
// Ollama, which ignores unknown members, it refuses any top-level member outside
// model/messages/stream/tools/format/options/keep_alive/think, so an OpenAI field leaking through
// the adapter fails the test that sent it. Violations get Ollama's 400 `{"error": "..."}`.
//
// As Ollama does, a request without `stream` streams. Answers: the `content` control (or the
// default text) or — when the request offers `tools` and its last message is not a tool result — a
// call of the first tool with {"location":"Paris"}. Counts: `prompt_tokens` → prompt_eval_count,
// `completion_tokens` → eval_count. Streams are NDJSON (`application/x-ndjson`): `chunks` content
// lines (or one tool_calls line), then the done line with done_reason and the counts, one write
// each. Faults: `status` answers with Ollama's error body for that status (404: model not found),
// `error_at` N makes line N an `{"error": ...}` line and ends the stream there, `malformed_at` N
// makes line N not JSON, `disconnect_after` N cuts after N lines.
//
// Thread safety: pure function.
#include <string_view>

#include <nlohmann/json.hpp>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

FakeReply plan_ollama(const FakeRequest& request, const FakeControls& controls, const nlohmann::json& body,
                      bool body_ok, std::string_view required_api_key);

}  // namespace tollgate::testing
