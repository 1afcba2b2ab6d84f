#pragma once
// Fault-injection controls of the fake provider, and where they come from (sans-IO).
//
// A test steers the fake per request in two ways; the body wins over the path:
//   - path segments `/key=value` placed before `/v1` in the target, so a deployment's
//     api_base can be `http://127.0.0.1:P/status=500/delay_headers_ms=20/v1`;
//   - a JSON object field `"fake": {"key": value, ...}` in the request body.
// Path values are percent-decoded and typed by their look: digits -> int, true/false -> bool.
//
// Thread safety: pure functions and plain values.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tollgate::testing {

struct FakeControls {
  std::optional<unsigned> status;         // answer with this status and an OpenAI error body
  std::optional<std::string> error_body;  // raw error body instead of the OpenAI one
  std::optional<int> retry_after;         // seconds, sent as `retry-after`
  int delay_headers_ms = 0;               // async sleep before the response headers
  bool hang = false;                      // never answer (until the client closes)
  int chunks = 3;                         // content chunks in a stream
  int delay_chunk_ms = 0;                 // async sleep between stream events
  std::optional<int> disconnect_after;    // stream: N content chunks then an abrupt close
  std::optional<int> malformed_at;        // stream: event N (1-based, see fake_openai.hpp) is not JSON
  std::optional<int> error_at;            // stream: event N is the vendor's in-stream error, the last (Ollama: {"error": ...}; OpenAI: `data: <error_body>`)
  std::optional<int> exception_at;        // Bedrock stream: event N (1-based, after messageStart) is a throttlingException
  std::optional<std::string> content;     // the answer text
  std::optional<int> prompt_tokens;       // usage.prompt_tokens override
  std::optional<int> completion_tokens;   // usage.completion_tokens override
  int cached_tokens = 0;                  // usage.prompt_tokens_details.cached_tokens (Anthropic: cache_read_input_tokens)
  int cache_creation_tokens = 0;          // Anthropic: usage.cache_creation_input_tokens
  int reasoning_tokens = 0;               // usage.completion_tokens_details.reasoning_tokens
  bool garbage = false;                   // 200 with an HTML body
};

// A request target split into its control prefix and the OpenAI path behind it.
struct FakeTarget {
  nlohmann::json controls = nlohmann::json::object();  // from the `/key=value` segments
  std::string path;                                    // from the first non-`key=value` segment, no query
  std::string query;                                   // after '?', without it
};

// Splits `/k=v/k2=v2/v1/chat/completions?x=1` into controls {k, k2}, path `/v1/chat/completions`
// and query `x=1`. Segments before the first one without '=' are controls.
FakeTarget split_fake_target(std::string_view target);

// Merges the path controls with the body's `"fake"` object (body wins) and reads the known keys.
// Numbers given as strings are accepted; keys of the wrong type are ignored.
FakeControls parse_fake_controls(const nlohmann::json& path_controls, const nlohmann::json& body);

// `{"error":{"message","type","param","code"}}` with OpenAI's type and code for `status`.
std::string openai_error_body(unsigned status, std::string_view message);
// The same with an explicit type and code (nullopt -> `"code": null`).
std::string openai_error_body(unsigned status, std::string_view message, std::string_view type,
                              std::optional<std::string_view> code);

}  // namespace tollgate::testing
