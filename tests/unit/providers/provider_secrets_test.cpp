// What each adapter names as the deployment's credentials: the proxy redacts them from upstream
// errors before they reach a client.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {
namespace {

bool contains(const std::vector<std::string>& all, const std::string& one) {
  return std::find(all.begin(), all.end(), one) != all.end();
}

TEST(ProviderSecretsTest, TheApiKeyByDefault) {
  config::Deployment d;
  d.api_key = "sk-openai-secret-1";
  for (const char* vendor : {"openai", "anthropic", "gemini", "ollama"}) {
    const auto provider = make_provider(vendor);
    ASSERT_NE(provider, nullptr) << vendor;
    EXPECT_TRUE(contains(provider->secrets(d), "sk-openai-secret-1")) << vendor;
  }
}

TEST(ProviderSecretsTest, AzureAddsItsEntraIdToken) {
  config::Deployment d;
  d.api_key = "azure-key-0001";
  d.litellm_params["azure_ad_token"] = "eyJ-entra-token";
  const auto secrets = make_provider("azure")->secrets(d);
  EXPECT_TRUE(contains(secrets, "azure-key-0001"));
  EXPECT_TRUE(contains(secrets, "eyJ-entra-token"));
}

TEST(ProviderSecretsTest, BedrockNamesTheAwsCredentials) {
  config::Deployment d;
  d.litellm_params["aws_access_key_id"] = "AKIAEXAMPLEKEY01";
  d.litellm_params["aws_secret_access_key"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  d.litellm_params["aws_session_token"] = "session-token-0001";
  const auto secrets = make_provider("bedrock")->secrets(d);
  EXPECT_TRUE(contains(secrets, "AKIAEXAMPLEKEY01"));
  EXPECT_TRUE(contains(secrets, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"));
  EXPECT_TRUE(contains(secrets, "session-token-0001"));
}

TEST(ProviderSecretsTest, VertexNamesTheServiceAccountKey) {
  config::Deployment d;
  d.litellm_params["vertex_credentials"] = nlohmann::json{{"type", "service_account"},
                                                          {"client_email", "sa@p.iam.gserviceaccount.com"},
                                                          {"private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END"}}
                                               .dump();
  EXPECT_TRUE(contains(make_provider("vertex_ai")->secrets(d), "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END"));
}

}  // namespace
}  // namespace tollgate::providers
