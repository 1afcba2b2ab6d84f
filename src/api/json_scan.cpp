#include "tollgate/api/json_scan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_set>

namespace tollgate::api {
namespace {

constexpr int kMaxDepth = kMaxJsonDepth;  // deeper documents are rejected rather than risking the stack
// Objects with more members than this check duplicates through a hash set, not pairwise.
constexpr std::size_t kPairwiseKeys = 16;

unsigned hex4(const char* p) {
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];
    v = v * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the inside of a string the scanner has validated (escapes well formed, surrogates paired).
std::string decode_validated(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.push_back(raw[i]);
      continue;
    }
    const char e = raw[++i];
    switch (e) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        unsigned cp = hex4(raw.data() + i + 1);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // the scanner guaranteed a low surrogate follows
          const unsigned lo = hex4(raw.data() + i + 3);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
        append_utf8(out, cp);
        break;
      }
      default: out.push_back(e);  // '"', '\\', '/'
    }
  }
  return out;
}

class Scanner {
 public:
  Scanner(std::string_view text, ScanError& error, bool reject_duplicates)
      : p_(text.data()), begin_(text.data()), end_(text.data() + text.size()), error_(error),
        reject_duplicates_(reject_duplicates) {}

  bool document(ScannedObject* top, bool& is_object) {
    skip_ws();
    is_object = p_ < end_ && *p_ == '{';
    if (!(is_object && top ? object_top(*top) : value(0))) return false;
    skip_ws();
    if (p_ != end_) return fail("trailing characters after JSON value");
    return true;
  }

 private:
  bool fail(const char* what) {
    if (error_.what.empty()) {
      error_.offset = static_cast<std::size_t>(p_ - begin_);
      error_.what = what;
      error_.member = std::string(member_);
    }
    return false;
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("invalid literal");
    p_ += n;
    return true;
  }

  bool number() {
    const char* const start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_) return fail("unexpected end of input in number");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return fail("invalid number");
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    const bool exponent = p_ < end_ && (*p_ == 'e' || *p_ == 'E');
    if (exponent) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if ((exponent || p_ - start > kMaxDigitsInRange) && overflows_double(start, p_)) {
      return fail("number out of range");
    }
    return true;
  }

  // The DOM reader (nlohmann) refuses a number too large for a double, so the scanner does too;
  // one too small (1e-999) reads as zero in both. Without an exponent, 308 characters stay below 1e308.
  static constexpr std::ptrdiff_t kMaxDigitsInRange = 308;
  static bool overflows_double(const char* b, const char* e) {
    double v = 0;
    if (std::from_chars(b, e, v).ec != std::errc::result_out_of_range) return false;
    // Out of range one way or the other: the decimal magnitude of the first significant digit
    // tells which (out of range means beyond ~1e308 or below ~1e-308, far from zero magnitude).
    long magnitude = 0;
    bool point = false;
    bool significant = false;
    const char* p = b;
    for (; p < e && *p != 'e' && *p != 'E'; ++p) {
      if (*p == '.') {
        point = true;
      } else if (*p >= '0' && *p <= '9') {
        if (!significant && *p != '0') significant = true;
        if (significant && !point) ++magnitude;
        if (!significant && point) --magnitude;
      }
    }
    long exponent = 0;
    if (p < e) {
      ++p;
      const bool negative = p < e && *p == '-';
      if (p < e && (*p == '-' || *p == '+')) ++p;
      for (; p < e; ++p) exponent = std::min(exponent * 10 + (*p - '0'), 1'000'000L);
      if (negative) exponent = -exponent;
    }
    return magnitude + exponent > 0;
  }

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  // `u` points at the 'u' of a \u escape: four hex digits follow within the text.
  bool hex_escape(const char* u) const {
    return end_ - u >= 5 && u[0] == 'u' && is_hex(u[1]) && is_hex(u[2]) && is_hex(u[3]) && is_hex(u[4]);
  }

  // Validates one UTF-8 sequence starting at a byte >= 0x80 (RFC 3629: no overlongs, no
  // surrogates, nothing above U+10FFFF).
  bool utf8_sequence() {
    const auto* s = reinterpret_cast<const unsigned char*>(p_);
    const auto left = static_cast<std::size_t>(end_ - p_);
    const unsigned char c = s[0];
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return fail("invalid UTF-8 in string");
    }
    if (left < n || s[1] < lo || s[1] > hi) return fail("invalid UTF-8 in string");
    for (std::size_t i = 2; i < n; ++i) {
      if (s[i] < 0x80 || s[i] > 0xBF) return fail("invalid UTF-8 in string");
    }
    p_ += n;
    return true;
  }

  // True when none of the 8 bytes is '"', '\\', a control character or a non-ASCII byte
  // (SWAR: the classic "has a zero byte" test applied to v, v^'"' and v^'\\').
  static bool plain_ascii8(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    const std::uint64_t quote = v ^ (kOnes * '"');
    const std::uint64_t backslash = v ^ (kOnes * '\\');
    const std::uint64_t special = ((v - kOnes * 0x20) & ~v) | ((quote - kOnes) & ~quote) |
                                  ((backslash - kOnes) & ~backslash) | v;
    return (special & kHigh) == 0;
  }

  // p_ at the opening quote; leaves p_ past the closing quote.
  bool string() {
    ++p_;
    for (;;) {
      // Fast path: plain printable ASCII, which is nearly all of a prompt, eight bytes a step.
      while (end_ - p_ >= 8 && plain_ascii8(p_)) p_ += 8;
      while (p_ < end_) {
        const auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      if (p_ >= end_) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (++p_ >= end_) return fail("unterminated string");
        switch (*p_) {
          case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': ++p_; break;
          case 'u': {
            if (!hex_escape(p_)) return fail("invalid \\u escape");
            const unsigned unit = hex4(p_ + 1);
            if (unit >= 0xDC00 && unit <= 0xDFFF) return fail("lone surrogate in \\u escape");
            if (unit >= 0xD800 && unit <= 0xDBFF) {
              // A high surrogate must be followed by an escaped low one (RFC 8259 §7).
              const char* next = p_ + 5;
              if (end_ - next < 6 || next[0] != '\\' || !hex_escape(next + 1)) {
                return fail("lone surrogate in \\u escape");
              }
              const unsigned low = hex4(next + 2);
              if (low < 0xDC00 || low > 0xDFFF) return fail("lone surrogate in \\u escape");
              p_ += 6;
            }
            p_ += 5;
            break;
          }
          default: return fail("invalid escape in string");
        }
      } else if (c < 0x20) {
        return fail("control character in string");
      } else if (!utf8_sequence()) {
        return false;
      }
    }
  }

  bool value(int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    skip_ws();
    if (p_ >= end_) return fail("unexpected end of input");
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return string();
      case 't': return literal("true", 4);
      case 'f': return literal("false", 5);
      case 'n': return literal("null", 4);
      default: return number();
    }
  }

  bool array(int depth) {
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (!value(depth)) return false;
      skip_ws();
      if (p_ >= end_) return fail("unexpected end of input in array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  // The key between kb (opening quote) and ke (past the closing quote), escapes decoded when it
  // has any: `"max\u005ftokens"` is `max_tokens` to every upstream, so it is to us too.
  std::string_view key_text(const char* kb, const char* ke) {
    const std::string_view raw(kb + 1, static_cast<std::size_t>(ke - kb - 2));
    if (raw.find('\\') == std::string_view::npos) return raw;
    return decoded_keys_->emplace_back(decode_validated(raw));
  }

  // False (and the error) when `key` is already a member of the object whose keys start at
  // keys_[base]. Pairwise for small objects; a hash set once an object grows past kPairwiseKeys,
  // so a hostile 100,000-member object costs linear time.
  bool unique_key(std::string_view key, std::size_t base, std::optional<std::unordered_set<std::string_view>>& seen) {
    const std::size_t count = keys_.size() - base;
    bool duplicate = false;
    if (seen) {
      duplicate = !seen->insert(key).second;
    } else {
      for (std::size_t i = base; i < keys_.size() && !duplicate; ++i) duplicate = keys_[i] == key;
      if (!duplicate && count + 1 >= kPairwiseKeys) {
        seen.emplace(keys_.begin() + static_cast<std::ptrdiff_t>(base), keys_.end());
        seen->insert(key);
      }
    }
    if (duplicate) {
      error_.duplicate = std::string(key);
      return fail("duplicate member name");
    }
    keys_.push_back(key);
    return true;
  }

  // Shared by nested objects and the recorded top level (depth 1).
  template <class OnMember>
  bool members(int depth, OnMember&& on_member) {
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    const std::size_t base = keys_.size();
    std::optional<std::unordered_set<std::string_view>> seen;
    for (;;) {
      skip_ws();
      if (p_ >= end_ || *p_ != '"') return fail("expected a string key");
      const char* key_begin = p_;
      if (!string()) return false;
      const char* key_end = p_;
      const std::string_view key = key_text(key_begin, key_end);
      if (depth == 1) member_ = key;
      if (reject_duplicates_ && !unique_key(key, base, seen)) return false;
      skip_ws();
      if (p_ >= end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      const char* value_begin = p_;
      if (!value(depth)) return false;
      on_member(key, key_begin, value_begin, p_);
      skip_ws();
      if (p_ >= end_) return fail("unexpected end of input in object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        keys_.resize(base);
        if (depth == 1) member_ = {};
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool object(int depth) {
    return members(depth, [](std::string_view, const char*, const char*, const char*) {});
  }

  bool object_top(ScannedObject& top) {
    decoded_keys_ = &top.decoded_keys;
    return members(1, [&](std::string_view key, const char* kb, const char* vb, const char* ve) {
      JsonMember m;
      m.key = key;
      m.value = std::string_view(vb, static_cast<std::size_t>(ve - vb));
      m.begin = static_cast<std::size_t>(kb - begin_);
      m.end = static_cast<std::size_t>(ve - begin_);
      top.members.push_back(m);
    });
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  ScanError& error_;
  bool reject_duplicates_;
  std::string_view member_;                 // the top-level member being scanned, for errors
  std::vector<std::string_view> keys_;      // keys of the open objects, innermost last
  std::deque<std::string> local_keys_;      // decoded escaped keys when no ScannedObject keeps them
  std::deque<std::string>* decoded_keys_ = &local_keys_;
};

}  // namespace

const JsonMember* ScannedObject::find(std::string_view key) const {
  for (const auto& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

bool scan_json(std::string_view text, ScannedObject& out, bool& is_object, ScanError& error, ScanOptions options) {
  out.members.clear();
  out.decoded_keys.clear();
  Scanner scanner(text, error, options.reject_duplicates);
  return scanner.document(&out, is_object);
}

bool is_valid_json(std::string_view text, ScanOptions options) {
  ScanError error;
  bool is_object = false;
  Scanner scanner(text, error, options.reject_duplicates);
  return scanner.document(nullptr, is_object);
}

}  // namespace tollgate::api
