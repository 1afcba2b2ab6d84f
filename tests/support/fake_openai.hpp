#pragma once
// What the fake provider answers to one request, decided without any I/O (types in fake_exchange.hpp).
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

#include <string_view>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

// `required_api_key` non-empty: anything but `Authorization: Bearer <it>` (or Azure's `api-key: <it>`) gets a 401.
FakeExchange plan_exchange(const FakeRequest& request, std::string_view required_api_key);

}  // namespace tollgate::testing
