#pragma once
// The provider adapters the fuzz targets drive, each obtained from the registry
// (providers::make_provider) with a deployment shaped as the config loader builds one.
#include <array>
#include <cstddef>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::fuzz {

struct FuzzProvider {
  std::shared_ptr<const providers::Provider> provider;
  config::Deployment deployment;
  http::Url base;
};

struct ProviderSpec {
  std::string_view prefix;    // litellm_params.model's provider prefix
  std::string_view model;     // after the prefix
  std::string_view api_base;
  std::string_view params;    // litellm_params, JSON
};

// Every adapter, and the OpenAI-compatible one twice: plainly, and for a vendor whose rejected
// parameters are dropped (drop_params).
inline constexpr std::array<ProviderSpec, 8> kProviderSpecs{{
    {"openai", "gpt-4o", "https://api.openai.com/v1", "{}"},
    {"mistral", "mistral-large", "https://api.mistral.ai/v1", R"({"drop_params":true,"additional_drop_params":["user","temperature"]})"},
    {"azure", "my-gpt4o", "https://myres.openai.azure.com", "{}"},
    {"anthropic", "claude-3-5-sonnet-20241022", "https://api.anthropic.com/v1", "{}"},
    {"gemini", "gemini-2.0-flash", "https://generativelanguage.googleapis.com/v1beta", "{}"},
    {"vertex_ai", "gemini-1.5-pro", "https://us-central1-aiplatform.googleapis.com",
     R"({"vertex_project":"p","vertex_location":"us-central1"})"},
    {"bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "https://bedrock-runtime.us-east-1.amazonaws.com",
     R"({"aws_access_key_id":"AKID","aws_secret_access_key":"SECRET","aws_region_name":"us-east-1"})"},
    {"ollama_chat", "llama3.2", "http://127.0.0.1:11434", "{}"},
}};

inline const std::array<FuzzProvider, kProviderSpecs.size()>& fuzz_providers() {
  static const auto all = [] {
    std::array<FuzzProvider, kProviderSpecs.size()> out;
    for (std::size_t i = 0; i < kProviderSpecs.size(); ++i) {
      const ProviderSpec& s = kProviderSpecs[i];
      FuzzProvider& p = out[i];
      p.provider = providers::make_provider(s.prefix);
      p.deployment.id = "fuzz-" + std::string(s.prefix);
      p.deployment.model_name = "group";
      p.deployment.provider = std::string(s.prefix);
      p.deployment.model = std::string(s.model);
      p.deployment.api_base = std::string(s.api_base);
      p.deployment.api_key = "sk-fuzz";
      if (s.prefix == "azure") p.deployment.api_version = "2024-06-01";
      p.deployment.litellm_params = nlohmann::json::parse(s.params);
      p.deployment.litellm_params["model"] = std::string(s.prefix) + "/" + std::string(s.model);
      p.base = *http::Url::parse(s.api_base);
    }
    return out;
  }();
  return all;
}

/// The provider an option byte picks.
inline const FuzzProvider& pick_provider(std::uint8_t b) { return fuzz_providers()[b % kProviderSpecs.size()]; }

}  // namespace tollgate::fuzz
