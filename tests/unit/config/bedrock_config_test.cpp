// bedrock/ deployments in the config loader: AWS credentials and region from litellm_params or
// the environment, and the regional api_base default.
#include "tollgate/config/loader.hpp"

#include <gtest/gtest.h>

#include "unit/config/config_test_util.hpp"

namespace tollgate::config {
namespace {

using test_util::Env;
using test_util::env_of;
using test_util::Strings;
using test_util::strings;

LoadResult load(std::string_view params, Env vars = {}) {
  const std::string yaml = "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0" +
                           std::string(params) + "}\n";
  return load_config_text(yaml, env_of(std::move(vars)));
}

TEST(BedrockConfigTest, ParamsGiveCredentialsAndTheRegionalApiBase) {
  auto r = load(", aws_access_key_id: AK, aws_secret_access_key: SK, aws_region_name: eu-central-1");
  ASSERT_TRUE(r.config) << strings(r.errors).front();
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.provider, "bedrock");
  EXPECT_EQ(d.model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_EQ(d.api_base, "https://bedrock-runtime.eu-central-1.amazonaws.com");
  EXPECT_EQ(d.litellm_params["aws_access_key_id"], "AK");
}

TEST(BedrockConfigTest, EnvironmentFillsWhatParamsLeaveOut) {
  auto r = load("", {{"AWS_ACCESS_KEY_ID", "AKENV"}, {"AWS_SECRET_ACCESS_KEY", "SKENV"}, {"AWS_SESSION_TOKEN", "TOK"},
                     {"AWS_DEFAULT_REGION", "us-west-2"}});
  ASSERT_TRUE(r.config) << strings(r.errors).front();
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.api_base, "https://bedrock-runtime.us-west-2.amazonaws.com");
  EXPECT_EQ(d.litellm_params["aws_access_key_id"], "AKENV");
  EXPECT_EQ(d.litellm_params["aws_secret_access_key"], "SKENV");
  EXPECT_EQ(d.litellm_params["aws_session_token"], "TOK");
  // AWS_REGION wins over AWS_DEFAULT_REGION, and params over both.
  auto both = load("", {{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"AWS_REGION", "ap-south-1"},
                        {"AWS_DEFAULT_REGION", "us-west-2"}});
  ASSERT_TRUE(both.config);
  EXPECT_EQ(both.config->model_list.at(0).api_base, "https://bedrock-runtime.ap-south-1.amazonaws.com");
  auto params = load(", aws_region_name: sa-east-1", {{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"AWS_REGION", "ap-south-1"}});
  ASSERT_TRUE(params.config);
  EXPECT_EQ(params.config->model_list.at(0).api_base, "https://bedrock-runtime.sa-east-1.amazonaws.com");
}

TEST(BedrockConfigTest, ApiBaseOverridesAndNeedsNoRegion) {
  auto r = load(", api_base: \"http://127.0.0.1:9/x\", aws_access_key_id: A, aws_secret_access_key: S");
  ASSERT_TRUE(r.config) << strings(r.errors).front();
  EXPECT_EQ(r.config->model_list.at(0).api_base, "http://127.0.0.1:9/x");
}

TEST(BedrockConfigTest, MissingCredentialsOrRegionAndBadRegionAreErrors) {
  EXPECT_EQ(strings(load(", aws_region_name: us-east-1").errors),
            Strings{"model_list[0].litellm_params.aws_access_key_id: required for provider 'bedrock' with "
                    "aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"});
  EXPECT_EQ(strings(load(", aws_access_key_id: A, aws_secret_access_key: S").errors),
            Strings{"model_list[0].litellm_params.aws_region_name: required for provider 'bedrock' without api_base (or AWS_REGION)"});
  EXPECT_EQ(strings(load(", aws_access_key_id: A, aws_secret_access_key: S, aws_region_name: \"evil.com/x\"").errors),
            Strings{"model_list[0].litellm_params.aws_region_name: not an AWS region: 'evil.com/x'"});
  // A mocked deployment never calls out.
  EXPECT_TRUE(load(", mock_response: hi").config);
}

TEST(BedrockConfigTest, SecretsDoNotChangeTheDeploymentId) {
  auto a = load(", aws_access_key_id: A, aws_secret_access_key: S1, aws_region_name: us-east-1");
  auto b = load(", aws_access_key_id: A, aws_secret_access_key: S2, aws_region_name: us-east-1");
  ASSERT_TRUE(a.config && b.config);
  EXPECT_EQ(a.config->model_list.at(0).id, b.config->model_list.at(0).id);
}

}  // namespace
}  // namespace tollgate::config
