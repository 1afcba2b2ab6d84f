#pragma once
// What a fake server answers one request with, decided without any I/O, and the pieces every
// vendor's planner (fake_openai, fake_anthropic, fake_gemini, fake_ollama, fake_bedrock,
// fake_google_auth) shares: the request as a planner sees it, the reply the transport sends, the
// defaults every vendor reports, and the stream faults they all inject the same way. The vendor
// files only supply their wire format: paths, checks, bodies, events and error shapes.
//
// Thread safety: plain values and pure functions.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fake_controls.hpp"

namespace tollgate::testing {

struct FakeRequest {
  std::string_view method;         // "POST", "GET", ...
  std::string_view target;         // as received, with any `/key=value` prefix
  std::string_view body;           // raw body
  std::string_view authorization;  // the Authorization header, or empty
  std::string_view x_api_key;      // Anthropic's key header, or empty
  std::string_view anthropic_version;  // the anthropic-version header, or empty
  std::string_view api_key;        // Azure OpenAI's key header, or empty
  std::string_view x_goog_api_key;  // Gemini's key header, or empty
  std::uint64_t seq = 1;           // request number, used in ids ("chatcmpl-fake-<seq>")
  std::function<std::string(std::string_view)> header;  // any request header by lower-case name (Bedrock's SigV4 check)
};

struct FakeReply {
  unsigned status = 200;                                     // HTTP status
  std::string content_type = "application/json";             // content-type header
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (retry-after, x-request-id)
  std::string body;                                          // the whole body, unless `stream`
  bool stream = false;                                       // chunked text/event-stream of `events`
  std::vector<std::string> events;                           // one write each: `data: ...\n\n` lines
  bool cut = false;  // close abruptly: after `events` (no last chunk), or after half of `body`
};

struct FakeExchange {
  FakeControls controls;  // for the transport: delay_headers_ms, hang, delay_chunk_ms
  FakeReply reply;        // what to send
};

// Default answer text when the request has no `content` control.
inline constexpr std::string_view kFakeDefaultContent = "Hello from the fake provider.";
// Usage every vendor reports when the request has no `prompt_tokens` / `completion_tokens` control.
inline constexpr int kFakeDefaultPromptTokens = 11;
inline constexpr int kFakeDefaultCompletionTokens = 7;
// The arguments of every tool call a fake makes.
inline constexpr std::string_view kFakeToolArguments = R"({"location":"Paris"})";

// A request as the planners read it.
struct FakeCall {
  FakeTarget target;      // controls, path and query
  nlohmann::json body;    // parsed; null when empty or not JSON
  bool body_ok = true;    // the body was empty or JSON
  FakeControls controls;  // of the path and (unless told not to) the body's "fake" object
};

// `body_controls` false: the body is not read for controls (a form, as a token endpoint gets).
FakeCall read_fake_call(const FakeRequest& request, bool body_controls = true);

// A reply of `status` with `body` (JSON) as it is.
FakeReply fake_error(unsigned status, std::string body);

// The `status` control's reply: that status, with the `error_body` control when given, else `vendor_body`.
FakeReply status_reply(const FakeControls& controls, std::string vendor_body);

// `text` in pieces of ceil(size / chunks) bytes (`chunks` below 1 counts as 1): `chunks` pieces or
// fewer, none for empty text. Not UTF-8 aware, as the vendors' own chunking is not.
std::vector<std::string> split_even(std::string_view text, int chunks);

// Stream faults. `at` and `n` count events from 1 after the `lead` events that open the stream; a
// fault past the end, or a count below 1 (`at`) or 0 (`n`), changes nothing.
// `malformed_at`: event `at` becomes `with`.
void spoil_event(FakeReply& reply, std::optional<int> at, std::size_t lead, std::string_view with);
// `error_at`: event `at` becomes `event`, and the stream ends after it.
void end_with_event(FakeReply& reply, std::optional<int> at, std::size_t lead, std::string event);
// `disconnect_after`: `n` events are sent, then the connection is cut.
void cut_after(FakeReply& reply, std::optional<int> n, std::size_t lead);

// The headers every reply carries: `x-request-id: req_fake_<seq>`, and `retry-after` when the control asks.
void add_fake_headers(FakeReply& reply, const FakeRequest& request, const FakeControls& controls);

}  // namespace tollgate::testing
