#include "providers/anthropic/anthropic_provider.hpp"
#include "providers/azure/azure_provider.hpp"
#include "providers/ollama/ollama_provider.hpp"
#include "providers/bedrock/bedrock_provider.hpp"
#include "providers/gemini/gemini_provider.hpp"
#include "providers/gemini/vertex_provider.hpp"
#include "providers/openai/openai_provider.hpp"

namespace tollgate::providers {

std::shared_ptr<const Provider> make_provider(std::string_view provider_name) {
  static const auto anthropic = std::make_shared<const AnthropicProvider>();
  static const auto azure = std::make_shared<const AzureProvider>();
  if (provider_name == "anthropic") return anthropic;
  if (provider_name == "azure") return azure;
  static const auto ollama = std::make_shared<const OllamaProvider>();
  if (provider_name == "ollama_chat" || provider_name == "ollama") return ollama;
  static const auto bedrock = std::make_shared<const BedrockProvider>();
  if (provider_name == "bedrock") return bedrock;
  static const auto gemini = std::make_shared<const GeminiProvider>();
  if (provider_name == "gemini") return gemini;
  static const auto vertex = std::make_shared<const VertexProvider>();  // holds the shared token cache
  if (provider_name == "vertex_ai") return vertex;
  // Every other prefix speaks OpenAI's format until its own adapter exists (issue: provider
  // adapters). The config loader requires an api_base for prefixes without a known default.
  static const auto openai = std::make_shared<const OpenAiProvider>();
  return openai;
}

}  // namespace tollgate::providers
