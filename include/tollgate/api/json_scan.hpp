#pragma once
// A validating, non-allocating JSON scanner for request bodies.
//
// The gateway needs a handful of top-level fields from bodies that may be hundreds of KB (long
// prompts). Building a DOM for those costs milliseconds; this scanner validates the whole document
// (grammar and UTF-8) in one pass and records where each top-level member sits, so the few values
// we need are parsed on their own and the rest is copied as raw bytes.
//
// Thread safety: pure functions. The returned views point into the scanned text.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::api {

/// One member of the top-level object, as spans of the original text.
struct JsonMember {
  std::string_view key;     // raw key between the quotes (escapes not decoded)
  std::string_view value;   // raw value text, e.g. `"gpt-4o"`, `true`, `{...}`
  std::size_t begin = 0;    // offset of the key's opening quote
  std::size_t end = 0;      // offset just past the value
};

struct ScanError {
  std::size_t offset = 0;   // byte offset of the problem
  std::string what;         // e.g. "invalid UTF-8 in string", "unexpected end of input"
};

struct ScannedObject {
  std::vector<JsonMember> members;  // in document order
  const JsonMember* find(std::string_view key) const;  // first member whose raw key equals `key`
};

/// Validates `text` as one JSON value. On success, if it is an object, `out.members` lists its
/// members; `is_object` tells whether the top level was an object. Returns false and fills `error`
/// when the text is not valid JSON (or has invalid UTF-8 in a string).
bool scan_json(std::string_view text, ScannedObject& out, bool& is_object, ScanError& error);

/// Validates `text` as one JSON value without recording anything.
bool is_valid_json(std::string_view text);

}  // namespace tollgate::api
