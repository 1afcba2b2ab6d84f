// The AWS event stream decoder: CRCs, lengths, header types, any split of the bytes.
#include "providers/bedrock/eventstream.hpp"

#include <gtest/gtest.h>

namespace tollgate::providers::bedrock {
namespace {

std::vector<http::SseEvent> decode_all(std::string_view bytes, EventStreamDecoder& d) {
  std::vector<http::SseEvent> out;
  d.feed(bytes, out);
  return out;
}

TEST(EventStreamTest, Crc32IsIeee) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the CRC-32 check value
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("56789", crc32("1234")), 0xCBF43926u);  // continues across pieces
}

TEST(EventStreamTest, EmptyMessageMatchesTheSpecsLayout) {
  // A message with no headers and no payload: 16 bytes, total length 16, headers length 0.
  const std::string m = encode_event_message({}, "");
  ASSERT_EQ(m.size(), 16u);
  EXPECT_EQ(m.substr(0, 8), std::string("\x00\x00\x00\x10\x00\x00\x00\x00", 8));
  // The prelude CRC (bytes 8..11) of those 8 bytes: 0x05C248EB, as in AWS's encoder test vectors.
  EXPECT_EQ(m.substr(8, 4), std::string("\x05\xC2\x48\xEB", 4));
  EXPECT_EQ(m.substr(12, 4), std::string("\x7D\x98\xC8\xFF", 4));
  EventStreamDecoder d;
  auto events = decode_all(m, d);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "");
}

TEST(EventStreamTest, EventsAndExceptionsAreNamed) {
  EventStreamDecoder d;
  auto events = decode_all(encode_event("contentBlockDelta", R"({"delta":{"text":"hi"}})") +
                               encode_exception("throttlingException", R"({"message":"slow down"})"),
                           d);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "contentBlockDelta");
  EXPECT_EQ(events[0].data, R"({"delta":{"text":"hi"}})");
  EXPECT_EQ(events[1].event, "exception:throttlingException");
  EXPECT_EQ(events[1].data, R"({"message":"slow down"})");
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST(EventStreamTest, SplitAnywhereYieldsTheSameEvents) {
  const std::string stream = encode_event("messageStart", R"({"role":"assistant"})") +
                             encode_event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hello"}})") +
                             encode_event("metadata", R"({"usage":{"inputTokens":1,"outputTokens":2}})");
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); b += 7) {
      EventStreamDecoder d;
      std::vector<http::SseEvent> events;
      d.feed(std::string_view(stream).substr(0, a), events);
      d.feed(std::string_view(stream).substr(a, b - a), events);
      d.feed(std::string_view(stream).substr(b), events);
      ASSERT_EQ(events.size(), 3u) << "split at " << a << "," << b;
      EXPECT_EQ(events[1].data, R"({"contentBlockIndex":0,"delta":{"text":"Hello"}})");
      EXPECT_EQ(events[2].event, "metadata");
      EXPECT_EQ(d.pending_bytes(), 0u);
    }
  }
}

TEST(EventStreamTest, PartialMessageIsPending) {
  const std::string m = encode_event("messageStop", R"({"stopReason":"end_turn"})");
  EventStreamDecoder d;
  EXPECT_TRUE(decode_all(std::string_view(m).substr(0, m.size() - 1), d).empty());
  EXPECT_EQ(d.pending_bytes(), m.size() - 1);
  EXPECT_FALSE(d.failed());
}

TEST(EventStreamTest, CorruptPayloadFailsTheMessageCrc) {
  std::string m = encode_event("contentBlockDelta", R"({"delta":{"text":"hi"}})");
  m[m.size() - 8] ^= 0x01;  // a payload byte
  EventStreamDecoder d;
  EXPECT_TRUE(decode_all(m, d).empty());
  EXPECT_TRUE(d.failed());
  EXPECT_NE(d.failure().find("message CRC"), std::string::npos);
  // Nothing more is decoded once failed.
  EXPECT_TRUE(decode_all(encode_event("metadata", "{}"), d).empty());
}

TEST(EventStreamTest, CorruptPreludeFailsBeforeTrustingTheLength) {
  std::string m = encode_event("contentBlockDelta", "{}");
  m[2] ^= 0x40;  // total length now claims megabytes
  EventStreamDecoder d;
  EXPECT_TRUE(decode_all(m, d).empty());
  EXPECT_TRUE(d.failed());
  EXPECT_NE(d.failure().find("prelude CRC"), std::string::npos);
}

TEST(EventStreamTest, OversizedMessageIsRefused) {
  // A valid prelude announcing more than AWS's 16 MB limit.
  std::string prelude("\x01\x00\x00\x10\x00\x00\x00\x00", 8);
  const std::uint32_t crc = crc32(prelude);
  for (int shift = 24; shift >= 0; shift -= 8) prelude.push_back(static_cast<char>((crc >> shift) & 0xff));
  EventStreamDecoder d;
  EXPECT_TRUE(decode_all(prelude, d).empty());
  EXPECT_TRUE(d.failed());
}

TEST(EventStreamTest, HeadersOfEveryTypeAreSkipped) {
  // Hand-built headers: bool true, bool false, byte, short, int, long, bytes, timestamp, uuid,
  // then the string :event-type.
  std::string h;
  auto name = [&h](std::string_view n, char type) {
    h.push_back(static_cast<char>(n.size()));
    h.append(n);
    h.push_back(type);
  };
  name("t", 0);
  name("f", 1);
  name("b", 2), h.append(1, '\x7f');
  name("s", 3), h.append(2, '\x01');
  name("i", 4), h.append(4, '\x02');
  name("l", 5), h.append(8, '\x03');
  name("y", 6), h.append(std::string("\x00\x03xyz", 5));
  name("d", 8), h.append(8, '\x04');
  name("u", 9), h.append(16, '\x05');
  name(":event-type", 7), h.append(std::string("\x00\x08metadata", 10));
  std::string m;
  const std::uint32_t total = static_cast<std::uint32_t>(16 + h.size() + 2);
  for (std::uint32_t v : {total, static_cast<std::uint32_t>(h.size())}) {
    for (int shift = 24; shift >= 0; shift -= 8) m.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  std::uint32_t crc = crc32(m);
  for (int shift = 24; shift >= 0; shift -= 8) m.push_back(static_cast<char>((crc >> shift) & 0xff));
  m.append(h).append("{}");
  crc = crc32(m);
  for (int shift = 24; shift >= 0; shift -= 8) m.push_back(static_cast<char>((crc >> shift) & 0xff));
  EventStreamDecoder d;
  auto events = decode_all(m, d);
  ASSERT_EQ(events.size(), 1u) << d.failure();
  EXPECT_EQ(events[0].event, "metadata");
  EXPECT_EQ(events[0].data, "{}");
}

TEST(EventStreamTest, UnknownHeaderTypeFails) {
  EventStreamDecoder d;
  std::string m = encode_event_message({{":event-type", "x"}}, "{}");
  m[12 + 1 + 11] = 42;  // the type byte of the first header
  // Re-seal the message CRC so only the header type is wrong.
  m.resize(m.size() - 4);
  const std::uint32_t crc = crc32(m);
  for (int shift = 24; shift >= 0; shift -= 8) m.push_back(static_cast<char>((crc >> shift) & 0xff));
  EXPECT_TRUE(decode_all(m, d).empty());
  EXPECT_TRUE(d.failed());
}

}  // namespace
}  // namespace tollgate::providers::bedrock
