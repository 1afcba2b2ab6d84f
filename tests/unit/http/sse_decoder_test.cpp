#include "tollgate/http/sse_decoder.hpp"

#include <gtest/gtest.h>

namespace tollgate::http {
namespace {

std::vector<SseEvent> feed_all(SseDecoder& d, std::initializer_list<std::string_view> pieces) {
  std::vector<SseEvent> out;
  for (auto p : pieces) d.feed(p, out);
  return out;
}

TEST(SseDecoderTest, DecodesOneEventPerBlankLine) {
  SseDecoder d;
  auto events = feed_all(d, {"data: {\"a\":1}\n\ndata: [DONE]\n\n"});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[1].data, "[DONE]");
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST(SseDecoderTest, EventSplitAcrossReadsAtEveryByte) {
  const std::string stream = "event: message_start\ndata: {\"x\":\"y\"}\n\n";
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    SseDecoder d;
    auto events = feed_all(d, {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)});
    ASSERT_EQ(events.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(events[0].event, "message_start");
    EXPECT_EQ(events[0].data, "{\"x\":\"y\"}");
  }
}

TEST(SseDecoderTest, CrLfAndBareCrLineEndings) {
  SseDecoder d;
  auto events = feed_all(d, {"data: a\r\n\r\ndata: b\r\rdata: c\n\n"});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].data, "b");
  EXPECT_EQ(events[2].data, "c");
}

TEST(SseDecoderTest, CrAtEndOfOneReadAndLfAtStartOfNextIsOneLineEnd) {
  SseDecoder d;
  auto events = feed_all(d, {"data: a\r", "\n\r", "\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a");
}

TEST(SseDecoderTest, CommentsAreIgnored) {
  SseDecoder d;
  auto events = feed_all(d, {": keep-alive\n\n: ping\ndata: x\n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
}

TEST(SseDecoderTest, MultiLineDataIsJoinedWithNewlines) {
  SseDecoder d;
  auto events = feed_all(d, {"data: line1\ndata:line2\ndata: \n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "line1\nline2\n");
}

TEST(SseDecoderTest, EventWithoutDataIsNotDispatched) {
  SseDecoder d;
  auto events = feed_all(d, {"event: ping\n\nid: 7\ndata: z\n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "z");
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[0].event, "") << "fields do not leak from the undispatched event";
}

TEST(SseDecoderTest, IncompleteEventIsReportedAsPending) {
  SseDecoder d;
  auto events = feed_all(d, {"data: partial"});
  EXPECT_TRUE(events.empty());
  EXPECT_GT(d.pending_bytes(), 0u);
}

TEST(SseDecoderTest, OverlongLineFailsInsteadOfGrowingForever) {
  SseDecoder d;
  d.set_max_line(16);
  std::vector<SseEvent> out;
  d.feed("data: 0123456789abcdefXYZ", out);
  EXPECT_TRUE(d.failed());
}

// Found by tests/fuzz/sse_decoder_fuzz (a Gemini transcript, limit 64): a line longer than the
// limit passed when it arrived whole in one read, so the limit depended on how the network cut
// the stream.
TEST(SseDecoderTest, OverlongLineFailsAlsoWhenItArrivesInOneRead) {
  SseDecoder d;
  d.set_max_line(16);
  std::vector<SseEvent> out;
  d.feed("data: 0123456789abcdefXYZ\n\ndata: after\n\n", out);
  EXPECT_TRUE(d.failed());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.pending_bytes(), 0u);
}

// An upstream sending data lines without ever a blank line made one event grow without bound.
TEST(SseDecoderTest, DataLinesWithoutABlankLineCannotGrowAnEventPastTheLimit) {
  SseDecoder d;
  d.set_max_line(64);
  std::vector<SseEvent> out;
  for (int i = 0; i < 100 && !d.failed(); ++i) {
    d.feed("data: 0123456789\n", out);
    EXPECT_LE(d.pending_bytes(), 64u);
  }
  EXPECT_TRUE(d.failed());
  EXPECT_TRUE(out.empty());
}

TEST(SseDecoderTest, DataUpToTheLimitStillDecodes) {
  SseDecoder d;
  d.set_max_line(16);
  std::vector<SseEvent> out;
  d.feed("data: 0123456789\ndata: abcde\n\n", out);  // 10 + '\n' + 5 = 16 bytes of data
  EXPECT_FALSE(d.failed());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "0123456789\nabcde");
}

}  // namespace
}  // namespace tollgate::http
