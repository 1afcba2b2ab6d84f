// The retry headers' value forms: delay-seconds, HTTP dates, milliseconds, OpenAI's durations and
// RFC 3339 instants.
#include "tollgate/http/retry_after.hpp"

#include <gtest/gtest.h>

namespace tollgate::http {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kNow = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT

TEST(RetryAfterTest, SecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("7", kNow), 7000ms);
  EXPECT_EQ(parse_retry_after(" 1.5 ", kNow), 1500ms);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", kNow), 30'000ms);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", kNow), std::nullopt) << "past";
  EXPECT_EQ(parse_retry_after("garbage", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("-3", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("100000", kNow), std::nullopt) << "over a day";
}

TEST(RetryAfterTest, Milliseconds) {
  EXPECT_EQ(parse_retry_after_ms("1500"), 1500ms);
  EXPECT_EQ(parse_retry_after_ms("20.9"), 20ms);
  EXPECT_EQ(parse_retry_after_ms("1s"), std::nullopt);
  EXPECT_EQ(parse_retry_after_ms(""), std::nullopt);
}

TEST(RetryAfterTest, ResetDurations) {
  EXPECT_EQ(parse_reset_duration("6m0s"), 360'000ms);
  EXPECT_EQ(parse_reset_duration("20ms"), 20ms);
  EXPECT_EQ(parse_reset_duration("1h2m3.5s"), 3'723'500ms);
  EXPECT_EQ(parse_reset_duration("2"), 2000ms);
  EXPECT_EQ(parse_reset_duration("5x"), std::nullopt);
  EXPECT_EQ(parse_reset_duration(""), std::nullopt);
}

TEST(RetryAfterTest, ResetInstants) {
  EXPECT_EQ(parse_reset_instant("2023-11-14T22:13:50Z", kNow), 30'000ms);
  EXPECT_EQ(parse_reset_instant("2023-11-14T22:13:21.25Z", kNow), 1250ms);
  EXPECT_EQ(parse_reset_instant("2023-11-14T23:13:50+01:00", kNow), 30'000ms);
  EXPECT_EQ(parse_reset_instant("2023-11-14T21:13:50-01:00", kNow), 30'000ms);
  EXPECT_EQ(parse_reset_instant("2023-11-14T22:13:00Z", kNow), std::nullopt) << "past";
  EXPECT_EQ(parse_reset_instant("2023-11-14T22:13:50", kNow), std::nullopt) << "no zone";
  EXPECT_EQ(parse_reset_instant("2023-11-14T22:13:50Zjunk", kNow), std::nullopt);
  EXPECT_EQ(parse_reset_instant("soon", kNow), std::nullopt);
}

}  // namespace
}  // namespace tollgate::http
