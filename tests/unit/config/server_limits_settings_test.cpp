// The settings of the HTTP server's limits against hostile clients (issue 15).
#include <gtest/gtest.h>

#include "unit/config/config_test_util.hpp"
#include "tollgate/config/loader.hpp"

namespace tollgate::config {
namespace {

using test_util::env_of;
using test_util::strings;
using test_util::Strings;

constexpr const char* kModels =
    "model_list:\n"
    "  - model_name: m\n"
    "    litellm_params: {model: openai/m, api_base: \"http://127.0.0.1:1/v1\", api_key: k}\n";

LoadResult load(const std::string& rest) { return load_config_text(std::string(kModels) + rest, env_of({})); }

TEST(ServerLimitsSettingsTest, DefaultsAreAutomaticCapExclusivePortOpenMetrics) {
  const LoadResult r = load("");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->server.max_connections, 0u);
  EXPECT_FALSE(r.config->server.reuse_port);
  EXPECT_FALSE(r.config->require_auth_for_metrics);
}

TEST(ServerLimitsSettingsTest, TollgateSettingsAreRead) {
  const LoadResult r = load("tollgate_settings: {max_connections: 2000, reuse_port: true}\n");
  ASSERT_TRUE(r.config) << strings(r.errors).front();
  EXPECT_TRUE(r.warnings.empty()) << strings(r.warnings).front();
  EXPECT_EQ(r.config->server.max_connections, 2000u);
  EXPECT_TRUE(r.config->server.reuse_port);
}

TEST(ServerLimitsSettingsTest, BadValuesAreReportedWithTheirPaths) {
  const LoadResult r = load("tollgate_settings: {max_connections: -1, reuse_port: maybe}\n");
  EXPECT_EQ(strings(r.errors), (Strings{"tollgate_settings.max_connections: must be between 0 and 10000000, got -1",
                                        "tollgate_settings.reuse_port: expected true or false, got a string"}));
}

TEST(ServerLimitsSettingsTest, RequireAuthForMetricsFromGeneralOrLitellmSettings) {
  const LoadResult general = load("general_settings: {master_key: sk-m, require_auth_for_metrics_endpoint: true}\n");
  ASSERT_TRUE(general.config);
  EXPECT_TRUE(general.config->require_auth_for_metrics);
  EXPECT_TRUE(general.warnings.empty()) << strings(general.warnings).front();
  const LoadResult litellm = load("general_settings: {master_key: sk-m}\n"
                                  "litellm_settings: {require_auth_for_metrics_endpoint: true}\n");
  ASSERT_TRUE(litellm.config);
  EXPECT_TRUE(litellm.config->require_auth_for_metrics);
  EXPECT_TRUE(litellm.warnings.empty()) << strings(litellm.warnings).front();
}

TEST(ServerLimitsSettingsTest, RequireAuthForMetricsWithoutAMasterKeyIsAWarning) {
  const LoadResult r = load("general_settings: {require_auth_for_metrics_endpoint: true}\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(strings(r.warnings),
            (Strings{"general_settings.require_auth_for_metrics_endpoint: has no effect without a master key: /metrics "
                     "stays open"}));
}

}  // namespace
}  // namespace tollgate::config
