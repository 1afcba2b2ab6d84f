#include "tollgate/auth/budget_window.hpp"

#include <gtest/gtest.h>

namespace tollgate::auth {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kDay = 86'400'000;

std::int64_t at(const char* iso) { return *parse_iso8601(iso); }

TEST(BudgetWindowTest, ParsesLiteLLMDurations) {
  EXPECT_EQ(add_duration(0, *parse_duration("30s")), 30 * kSecond);
  EXPECT_EQ(add_duration(0, *parse_duration("30m")), 30 * 60 * kSecond);
  EXPECT_EQ(add_duration(0, *parse_duration("1h")), 3600 * kSecond);
  EXPECT_EQ(add_duration(0, *parse_duration("7d")), 7 * kDay);
  EXPECT_EQ(add_duration(0, *parse_duration("2w")), 14 * kDay);
  for (const char* bad : {"", "0d", "-1d", "1", "d", "1x", "1.5h", "1 d", "99999999999d"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(BudgetWindowTest, MonthsAreCalendarMonthsClampedToTheirEnd) {
  const auto mo = *parse_duration("1mo");
  EXPECT_EQ(iso8601(add_duration(at("2026-01-31T10:00:00Z"), mo)), "2026-02-28T10:00:00.000Z");
  EXPECT_EQ(iso8601(add_duration(at("2026-11-22T07:30:00Z"), mo)), "2026-12-22T07:30:00.000Z");
  // Stepping from the original boundary: Jan 31 -> Feb 28 -> Mar 31, not Mar 28.
  EXPECT_EQ(iso8601(current_window_end(at("2026-01-31T00:00:00Z"), mo, at("2026-03-01T00:00:00Z"))),
            "2026-03-31T00:00:00.000Z");
}

TEST(BudgetWindowTest, CurrentWindowKeepsEachEntitysOwnSchedule) {
  const auto d = *parse_duration("1d");
  const std::int64_t end = at("2026-11-22T07:00:00Z");
  EXPECT_EQ(current_window_end(end, d, end - 1), end);           // still in it
  EXPECT_EQ(current_window_end(end, d, end), end + kDay);         // the boundary starts the next
  EXPECT_EQ(current_window_end(end, d, end + 5 * kDay + 1), end + 6 * kDay);  // many missed: lands on the grid
}

TEST(BudgetWindowTest, Iso8601RoundTripsAndRejectsGarbage) {
  EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(*parse_iso8601("2026-11-22T07:30:00.123Z"), at("2026-11-22T07:30:00Z") + 123);
  EXPECT_EQ(*parse_iso8601("2026-11-22T07:30:00+00:00"), at("2026-11-22T07:30:00Z"));
  EXPECT_EQ(parse_iso8601(iso8601(1'795'000'000'123)).value(), 1'795'000'000'123);
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T07:30:00+02:00"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
}

}  // namespace
}  // namespace tollgate::auth
