#pragma once
// SSE encoding for responses sent to clients. Thread safety: pure functions.
#include <string>
#include <string_view>

namespace tollgate::api {

/// Appends `data: <payload>\n\n` to `out`; a payload with newlines becomes several data lines.
void append_sse_data(std::string& out, std::string_view payload);

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace tollgate::api
