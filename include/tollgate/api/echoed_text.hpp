#pragma once
// Client-chosen names (models, tags, end users) are echoed in errors, headers and logs: these
// keep them short and, for headers, printable.
//
// Thread safety: pure functions.
#include <cstddef>
#include <string>
#include <string_view>

namespace tollgate::api {

inline constexpr std::size_t kMaxEchoedName = 256;

/// At most kMaxEchoedName bytes, never cut inside a UTF-8 sequence.
inline std::string capped_name(std::string_view name) {
  if (name.size() <= kMaxEchoedName) return std::string(name);
  std::size_t cut = kMaxEchoedName;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return std::string(name.substr(0, cut));
}

/// Header values are bytes, not checked UTF-8: as ids for logs, limits and the spend logs they
/// keep printable ASCII only (anything else becomes '?'), capped like capped_name.
inline std::string header_text(std::string_view value) {
  std::string out = capped_name(value);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace tollgate::api
