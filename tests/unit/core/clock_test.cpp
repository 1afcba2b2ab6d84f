#include "tollgate/core/clock.hpp"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

using namespace std::chrono_literals;

TEST(ManualClockTest, StandsStillUntilAdvancedThenMovesBothTimesTogether) {
  const std::int64_t before = unix_ms_now();
  ManualClock clock;
  const SteadyTime steady = clock.steady_now();
  const std::int64_t unix_ms = clock.unix_ms();
  EXPECT_GE(unix_ms, before);  // starts at the present
  EXPECT_EQ(clock.steady_now(), steady);
  EXPECT_EQ(clock.unix_ms(), unix_ms);

  clock.advance(1100ms);
  EXPECT_EQ(clock.steady_now() - steady, 1100ms);
  EXPECT_EQ(clock.unix_ms() - unix_ms, 1100);
  clock.advance(500us);
  clock.advance(500us);
  EXPECT_EQ(clock.unix_ms() - unix_ms, 1101) << "sub-millisecond steps add up";
}

TEST(ManualClockTest, NeverGoesBack) {
  ManualClock clock;
  const SteadyTime steady = clock.steady_now();
  clock.advance(-5s);
  EXPECT_EQ(clock.steady_now(), steady);
}

TEST(SystemClockTest, ReadsTheSystemsTime) {
  const SystemClock clock;
  const std::int64_t before = unix_ms_now();
  const SteadyTime steady_before = std::chrono::steady_clock::now();
  EXPECT_GE(clock.unix_ms(), before);
  EXPECT_GE(clock.steady_now(), steady_before);
}

}  // namespace
}  // namespace tollgate
