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

TEST(CliTest, OperatorFlags) {
  CliOptions o;
  EXPECT_FALSE(parse_cli({"--migrate-only", "--skip-migrations", "--version"}, o));
  EXPECT_TRUE(o.migrate_only);
  EXPECT_TRUE(o.skip_migrations);
  EXPECT_TRUE(o.version);
  EXPECT_TRUE(o.config_path.empty());
}

TEST(CliTest, CheckConfigTakesTheFileDirectlyOrThroughConfig) {
  CliOptions direct;
  EXPECT_FALSE(parse_cli({"--check-config", "prod.yaml"}, direct));
  EXPECT_TRUE(direct.check_config);
  EXPECT_EQ(direct.config_path, "prod.yaml");
  CliOptions flag;
  EXPECT_FALSE(parse_cli({"--check-config", "--config", "prod.yaml"}, flag));
  EXPECT_TRUE(flag.check_config);
  EXPECT_EQ(flag.config_path, "prod.yaml");
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
