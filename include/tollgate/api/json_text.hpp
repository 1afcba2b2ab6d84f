#pragma once
// Writing JSON text by hand where building a DOM would cost more than the data (one spend event
// per request): string escaping per RFC 8259.
//
// Thread safety: pure functions.
#include <string>
#include <string_view>

namespace tollgate::api {

/// Appends `s` as a JSON string, quotes included: `"` and `\` escaped, control characters as
/// \u00XX; other bytes as they are (the caller passes UTF-8). Used by the access log and the
/// spend journal.
void append_json_string(std::string& out, std::string_view s);

}  // namespace tollgate::api
