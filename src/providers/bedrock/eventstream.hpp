#pragma once
// AWS event stream framing (`application/vnd.amazon.eventstream`), the body of Bedrock's
// ConverseStream. Each message: total length (u32 BE), headers length (u32 BE), CRC-32 of those
// 8 bytes, the headers, the payload, and a CRC-32 of everything before it. A header is a name
// (u8 length + bytes), a type byte and a typed value (0/1 bool, 2 byte, 3 short, 4 int, 5 long,
// 6 bytes and 7 string with a u16 BE length, 8 timestamp, 9 uuid).
//
// EventStreamDecoder is sans-IO: fed bytes in any split, it checks both CRCs and the size bounds
// and yields one SseEvent per message: `event` is the `:event-type` header (the
// `:exception-type` header, prefixed "exception:", for `:message-type` exception; "error:" and
// the `:error-code` for `:message-type` error), `data` the payload.
//
// Thread safety: none; one decoder per stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tollgate/http/sse_decoder.hpp"

namespace tollgate::providers::bedrock {

/// CRC-32 (IEEE 802.3, as zlib's crc32), continuing from `crc`.
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

/// One event stream message with string headers only (tests and the fake provider build streams with it).
std::string encode_event_message(const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view payload);

/// An `event` message as Bedrock sends it: `:event-type`, `:content-type` application/json,
/// `:message-type` event.
std::string encode_event(std::string_view event_type, std::string_view payload);
/// An `exception` message: `:exception-type`, `:content-type`, `:message-type` exception.
std::string encode_exception(std::string_view exception_type, std::string_view payload);

class EventStreamDecoder final : public http::StreamDecoder {
 public:
  static constexpr std::size_t kMaxMessageBytes = 16u << 20;  // AWS's limit for one message
  static constexpr std::size_t kMaxHeaderBytes = 128u << 10;

  void feed(std::string_view bytes, std::vector<http::SseEvent>& out) override;
  bool failed() const override { return failed_; }
  std::size_t pending_bytes() const override { return buffer_.size(); }
  /// Why the stream failed; empty while it has not.
  const std::string& failure() const { return failure_; }

 private:
  bool decode_one(std::vector<http::SseEvent>& out);  // false: need more bytes, or failed
  void fail(std::string why);

  std::string buffer_;
  bool failed_ = false;
  std::string failure_;
};

}  // namespace tollgate::providers::bedrock
