#pragma once
// Answers for `mock_response` (on a deployment, or in the request body as LiteLLM allows):
// OpenAI-shaped responses and streams produced without calling a provider. Usage is an estimate
// (about four bytes a token) so downstream accounting sees plausible numbers; cost is zero.
//
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/api/request.hpp"
#include "tollgate/api/usage.hpp"

namespace tollgate::proxy {

api::Usage estimate_mock_usage(std::size_t prompt_bytes, std::string_view answer);

/// A `chat.completion` or `text_completion` object.
std::string mock_completion_body(api::Endpoint endpoint, std::string_view model, std::string_view answer,
                                 const api::Usage& usage, std::string_view id, std::int64_t created);

/// The full SSE stream of the same answer, ending in `data: [DONE]`; the usage chunk only when
/// `include_usage`.
std::string mock_stream_body(api::Endpoint endpoint, std::string_view model, std::string_view answer,
                             const api::Usage& usage, bool include_usage, std::string_view id,
                             std::int64_t created);

}  // namespace tollgate::proxy
