#pragma once
// A URL fit for logs, metric labels, headers and spend logs: its userinfo and query may hold
// credentials (user:pass@host, ?api-key=...), so only scheme, host, port and path are kept.
//
// Thread safety: pure function.
#include <string>
#include <string_view>

namespace tollgate {

std::string redacted_url(std::string_view url);

}  // namespace tollgate
