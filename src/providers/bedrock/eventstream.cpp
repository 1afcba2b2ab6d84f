#include "providers/bedrock/eventstream.hpp"

#include <array>

namespace tollgate::providers::bedrock {
namespace {

constexpr std::size_t kPreludeBytes = 12;  // total length, headers length, prelude CRC
constexpr std::size_t kMinMessageBytes = kPreludeBytes + 4;

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

std::uint32_t read_u32(std::string_view s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

std::uint16_t read_u16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) | static_cast<unsigned char>(s[at + 1]));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Size of a header value of `type` starting at `at` in `h` (after the type byte); 0 when invalid.
std::size_t value_size(std::string_view h, std::size_t at, unsigned type) {
  switch (type) {
    case 0: case 1: return 0;
    case 2: return 1;
    case 3: return 2;
    case 4: return 4;
    case 5: case 8: return 8;
    case 9: return 16;
    case 6: case 7: return at + 2 <= h.size() ? 2u + read_u16(h, at) : h.size() + 1;
    default: return h.size() + 1;  // unknown type: make the caller fail
  }
}

}  // namespace

std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
  crc = ~crc;
  for (unsigned char c : data) crc = kCrcTable[(crc ^ c) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string encode_event_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view payload) {
  std::string h;
  for (const auto& [name, value] : headers) {
    h.push_back(static_cast<char>(name.size()));
    h.append(name);
    h.push_back(7);
    h.push_back(static_cast<char>((value.size() >> 8) & 0xff));
    h.push_back(static_cast<char>(value.size() & 0xff));
    h.append(value);
  }
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(kMinMessageBytes + h.size() + payload.size()));
  put_u32(out, static_cast<std::uint32_t>(h.size()));
  put_u32(out, crc32(out));
  out.append(h).append(payload);
  put_u32(out, crc32(out));
  return out;
}

std::string encode_event(std::string_view event_type, std::string_view payload) {
  return encode_event_message(
      {{":event-type", std::string(event_type)}, {":content-type", "application/json"}, {":message-type", "event"}},
      payload);
}

std::string encode_exception(std::string_view exception_type, std::string_view payload) {
  return encode_event_message({{":exception-type", std::string(exception_type)},
                               {":content-type", "application/json"},
                               {":message-type", "exception"}},
                              payload);
}

void EventStreamDecoder::fail(std::string why) {
  failed_ = true;
  failure_ = std::move(why);
  buffer_.clear();
}

void EventStreamDecoder::feed(std::string_view bytes, std::vector<http::SseEvent>& out) {
  if (failed_) return;
  buffer_.append(bytes);
  while (decode_one(out)) {
  }
}

bool EventStreamDecoder::decode_one(std::vector<http::SseEvent>& out) {
  if (buffer_.size() < kPreludeBytes) return false;
  const std::string_view buf(buffer_);
  const std::uint32_t total = read_u32(buf, 0);
  const std::uint32_t headers_len = read_u32(buf, 4);
  if (crc32(buf.substr(0, 8)) != read_u32(buf, 8)) {
    fail("event stream prelude CRC mismatch");
    return false;
  }
  if (total < kMinMessageBytes || total > kMaxMessageBytes || headers_len > kMaxHeaderBytes ||
      headers_len > total - kMinMessageBytes) {
    fail("event stream message with impossible lengths");
    return false;
  }
  if (buf.size() < total) return false;
  if (crc32(buf.substr(0, total - 4)) != read_u32(buf, total - 4)) {
    fail("event stream message CRC mismatch");
    return false;
  }
  const std::string_view headers = buf.substr(kPreludeBytes, headers_len);
  const std::string_view payload = buf.substr(kPreludeBytes + headers_len, total - kMinMessageBytes - headers_len);
  std::string message_type, event_type, exception_type, error_code;
  for (std::size_t at = 0; at < headers.size();) {
    const std::size_t name_len = static_cast<unsigned char>(headers[at]);
    if (name_len == 0 || at + 1 + name_len + 1 > headers.size()) {
      fail("event stream header is malformed");
      return false;
    }
    const std::string_view name = headers.substr(at + 1, name_len);
    at += 1 + name_len;
    const unsigned type = static_cast<unsigned char>(headers[at++]);
    const std::size_t size = value_size(headers, at, type);
    if (at + size > headers.size()) {
      fail("event stream header value is malformed");
      return false;
    }
    if (type == 7) {
      const std::string_view value = headers.substr(at + 2, size - 2);
      if (name == ":message-type") message_type = value;
      if (name == ":event-type") event_type = value;
      if (name == ":exception-type") exception_type = value;
      if (name == ":error-code") error_code = value;
    }
    at += size;
  }
  http::SseEvent event;
  if (message_type == "exception") {
    event.event = "exception:" + exception_type;
  } else if (message_type == "error") {
    event.event = "error:" + error_code;
  } else {
    event.event = std::move(event_type);
  }
  event.data = payload;
  out.push_back(std::move(event));
  buffer_.erase(0, total);
  return true;
}

}  // namespace tollgate::providers::bedrock
