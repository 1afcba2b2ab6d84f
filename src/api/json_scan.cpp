#include "tollgate/api/json_scan.hpp"

#include <cstdint>
#include <cstring>

namespace tollgate::api {
namespace {

constexpr int kMaxDepth = 512;  // deeper documents are rejected rather than risking the stack

class Scanner {
 public:
  Scanner(std::string_view text, ScanError& error) : p_(text.data()), begin_(text.data()), end_(text.data() + text.size()), error_(error) {}

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
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    return true;
  }

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

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
          case 'u':
            if (end_ - p_ < 5 || !is_hex(p_[1]) || !is_hex(p_[2]) || !is_hex(p_[3]) || !is_hex(p_[4])) {
              return fail("invalid \\u escape");
            }
            p_ += 5;
            break;
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

  // Shared by nested objects and the recorded top level.
  template <class OnMember>
  bool members(int depth, OnMember&& on_member) {
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (p_ >= end_ || *p_ != '"') return fail("expected a string key");
      const char* key_begin = p_;
      if (!string()) return false;
      const char* key_end = p_;
      skip_ws();
      if (p_ >= end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      const char* value_begin = p_;
      if (!value(depth)) return false;
      on_member(key_begin, key_end, value_begin, p_);
      skip_ws();
      if (p_ >= end_) return fail("unexpected end of input in object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool object(int depth) {
    return members(depth, [](const char*, const char*, const char*, const char*) {});
  }

  bool object_top(ScannedObject& top) {
    return members(1, [&](const char* kb, const char* ke, const char* vb, const char* ve) {
      JsonMember m;
      m.key = std::string_view(kb + 1, static_cast<std::size_t>(ke - kb - 2));
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
};

}  // namespace

const JsonMember* ScannedObject::find(std::string_view key) const {
  for (const auto& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

bool scan_json(std::string_view text, ScannedObject& out, bool& is_object, ScanError& error) {
  out.members.clear();
  Scanner scanner(text, error);
  return scanner.document(&out, is_object);
}

bool is_valid_json(std::string_view text) {
  ScanError error;
  bool is_object = false;
  Scanner scanner(text, error);
  return scanner.document(nullptr, is_object);
}

}  // namespace tollgate::api
