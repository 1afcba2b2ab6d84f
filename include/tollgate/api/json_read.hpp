#pragma once
// The one way the gateway turns JSON text into a DOM: client bodies, upstream answers, stored
// records, config and credential files all come through here.
//
// nlohmann's own parser is iterative, but everything done with its result afterwards — dump(),
// translators walking content blocks or schemas — recurses once per level. A hostile client could
// send a 100,000-deep array and kill the process with a stack overflow long after parsing
// succeeded. This reader builds the DOM through nlohmann's SAX interface and stops at
// `kMaxJsonDepth` levels, so every DOM in the process is bounded and any walk over it is too.
//
// It also refuses duplicate member names (by default): the gateway and the upstream must read the
// same value. nlohmann keeps the last copy, many parsers the first; a body with
// `"max_tokens":1, ..., "max_tokens":5000` must not be billed on one and answered on the other.
//
// Thread safety: pure functions.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/json_scan.hpp"

namespace tollgate::api {

struct JsonReadOptions {
  int max_depth = kMaxJsonDepth;
  bool reject_duplicates = true;  // false for sources we only read (upstream answers), never for clients
};

/// Where and why reading stopped (the scanner's error type: offset, what, member, duplicate).
using JsonReadError = ScanError;

/// A client's unreadable body as the 400 it gets: a repeated name is an invalid request naming
/// the member; anything else is invalid JSON, with the top-level member it was in as `param`.
ApiError invalid_body_error(const JsonReadError& error);

/// Parses `text`. On any failure returns a discarded value (`is_discarded()`), as
/// `json::parse(text, nullptr, false)` does, and fills `error` when given.
nlohmann::json read_json(std::string_view text, JsonReadError* error = nullptr, JsonReadOptions options = {});

/// The same, keeping members in document order.
nlohmann::ordered_json read_ordered_json(std::string_view text, JsonReadError* error = nullptr,
                                         JsonReadOptions options = {});

/// read_json for text we do not control but only read (upstream answers, stored rows):
/// depth-bounded, duplicates allowed (the last copy wins, as the upstream's own client would see).
inline nlohmann::json read_json_lenient(std::string_view text) {
  return read_json(text, nullptr, JsonReadOptions{.reject_duplicates = false});
}
inline nlohmann::ordered_json read_ordered_json_lenient(std::string_view text) {
  return read_ordered_json(text, nullptr, JsonReadOptions{.reject_duplicates = false});
}

}  // namespace tollgate::api
