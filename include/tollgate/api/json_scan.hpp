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
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::api {

/// Deepest nesting (objects and arrays) accepted anywhere: this scanner and read_json alike.
inline constexpr int kMaxJsonDepth = 512;

/// One member of the top-level object, as spans of the original text.
struct JsonMember {
  std::string_view key;     // the key, escapes decoded (`"max\u005ftokens"` is max_tokens)
  std::string_view value;   // raw value text, e.g. `"gpt-4o"`, `true`, `{...}`
  std::size_t begin = 0;    // offset of the key's opening quote
  std::size_t end = 0;      // offset just past the value
};

struct ScanError {
  std::size_t offset = 0;   // byte offset of the problem
  std::string what;         // e.g. "invalid UTF-8 in string", "duplicate member name"
  std::string member;       // the top-level member being scanned ("" outside any)
  std::string duplicate;    // the repeated name, when `what` is a duplicate member
};

struct ScanOptions {
  // Refuse any object, at any depth, that repeats a member name (escapes decoded before comparing).
  // On for client bodies: the gateway and the upstream must read the same value. Off for upstream
  // answers we only read.
  bool reject_duplicates = true;
};

struct ScannedObject {
  std::vector<JsonMember> members;     // in document order
  std::deque<std::string> decoded_keys;  // storage for keys that had escapes (members view it)
  const JsonMember* find(std::string_view key) const;  // the member named `key`
};

/// Validates `text` as one JSON value: grammar, UTF-8, paired surrogate escapes, nesting up to
/// kMaxJsonDepth and, by default, no repeated member names. On success, if it is an object,
/// `out.members` lists its members; `is_object` tells whether the top level was an object. Returns
/// false and fills `error` otherwise. `out` must not be copied while its members are used (keys
/// may view `out.decoded_keys`); moving is fine.
bool scan_json(std::string_view text, ScannedObject& out, bool& is_object, ScanError& error,
               ScanOptions options = {});

/// Validates `text` as one JSON value without recording anything.
bool is_valid_json(std::string_view text, ScanOptions options = {});

}  // namespace tollgate::api
