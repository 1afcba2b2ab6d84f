#include <sys/resource.h>

#include <gtest/gtest.h>

#include "tollgate/http/server.hpp"

namespace tollgate::http {
namespace {

TEST(ConnectionLimitTest, TheSettingWinsWhenSet) {
  config::ServerSettings s;
  s.max_connections = 5;
  EXPECT_EQ(connection_limit(s), 5u);
}

TEST(ConnectionLimitTest, UnsetItLeavesDescriptorsForUpstreamsAndTheProcess) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  const std::size_t n = connection_limit(config::ServerSettings{});
  EXPECT_GE(n, 16u);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur > 256) {
    // A client connection may hold an upstream one: at most half the descriptors.
    EXPECT_LE(n, static_cast<std::size_t>(limit.rlim_cur) / 2);
    EXPECT_GE(n, static_cast<std::size_t>(limit.rlim_cur) / 4);
  }
}

}  // namespace
}  // namespace tollgate::http
