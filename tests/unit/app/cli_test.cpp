#include "tollgate/app/app.hpp"

#include <gtest/gtest.h>

namespace tollgate::app {
namespace {

TEST(CliTest, AcceptsLiteLlmFlags) {
  CliOptions o;
  EXPECT_FALSE(parse_cli({"--config", "c.yaml", "--port", "4001", "--host", "127.0.0.1", "--num_workers", "3"}, o));
  EXPECT_EQ(o.config_path, "c.yaml");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.num_workers, 3u);
}

TEST(CliTest, RejectsBadValuesWithAMessage) {
  CliOptions o;
  EXPECT_TRUE(parse_cli({"--port", "70000"}, o));
  EXPECT_TRUE(parse_cli({"--port"}, o));
  EXPECT_TRUE(parse_cli({"--num_workers", "0"}, o));
  EXPECT_TRUE(parse_cli({"--bogus"}, o));
}

}  // namespace
}  // namespace tollgate::app
