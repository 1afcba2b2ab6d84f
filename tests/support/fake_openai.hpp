#pragma once
// What the fake provider answers to one request, decided without any I/O.
//
// `plan_exchange` reads a request (method, target, body, Authorization) and returns the reply in
// OpenAI's exact wire format — JSON bodies with OpenAI's field order, or the SSE events of a stream —
// plus the controls the transport acts on (delays, hang, chunk pacing). See fake_controls.hpp for the
// control keys.
//
// Stream events: `events` holds one entry per write. Chat streams start with a role chunk (the
// "lead" event), then `chunks` content chunks, a finish chunk, a usage chunk when
// `stream_options.include_usage` is true, and `data: [DONE]`. Text-completion streams have no lead
// event. `malformed_at` and `disconnect_after` count events from 1 after the lead event, so N <= chunks
// names content chunk N. With `n` > 1 each event bundles one `data:` line per choice.
//
// Thread safety: pure function and plain values.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// `required_api_key` non-empty: anything but `Authorization: Bearer <it>` (or Azure's `api-key: <it>`) gets a 401.
FakeExchange plan_exchange(const FakeRequest& request, std::string_view required_api_key);

// Default answer text when the request has no `content` control.
inline constexpr std::string_view kFakeDefaultContent = "Hello from the fake provider.";

}  // namespace tollgate::testing
