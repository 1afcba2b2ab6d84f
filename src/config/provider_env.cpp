#include "config/provider_env.hpp"

#include <array>

namespace tollgate::config::detail {
namespace {

struct ProviderVariables {
  std::string_view provider;
  std::string_view api_base;                  // "" = none
  std::array<std::string_view, 4> api_keys;   // in LiteLLM's order of preference; "" = none
};

// LiteLLM's names (litellm/llms/<provider>/..., get_llm_provider). A variable that is unset or
// empty is skipped: no key is sent, as before.
constexpr std::array<ProviderVariables, 17> kVariables{{
    {"openai", "", {"OPENAI_API_KEY"}},
    {"anthropic", "", {"ANTHROPIC_API_KEY"}},
    {"azure", "AZURE_API_BASE", {"AZURE_API_KEY"}},
    {"gemini", "", {"GEMINI_API_KEY"}},
    {"hosted_vllm", "HOSTED_VLLM_API_BASE", {"HOSTED_VLLM_API_KEY"}},
    {"ollama", "OLLAMA_API_BASE", {}},
    {"ollama_chat", "OLLAMA_API_BASE", {}},
    {"groq", "", {"GROQ_API_KEY"}},
    {"mistral", "", {"MISTRAL_API_KEY"}},
    {"deepseek", "", {"DEEPSEEK_API_KEY"}},
    {"together_ai", "", {"TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"}},
    {"fireworks_ai", "FIREWORKS_API_BASE", {"FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"}},
    {"openrouter", "OPENROUTER_API_BASE", {"OPENROUTER_API_KEY", "OR_API_KEY"}},
    {"xai", "", {"XAI_API_KEY"}},
    {"perplexity", "PERPLEXITY_API_BASE", {"PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"}},
    {"lm_studio", "LM_STUDIO_API_BASE", {"LM_STUDIO_API_KEY"}},
    {"text-completion-openai", "", {"OPENAI_API_KEY"}},
}};

const ProviderVariables* variables_of(std::string_view provider) {
  for (const auto& v : kVariables) {
    if (v.provider == provider) return &v;
  }
  return nullptr;
}

std::optional<std::string> first_set(std::string_view name, const LoadContext& ctx) {
  if (name.empty()) return std::nullopt;
  auto value = ctx.env(std::string(name));
  if (!value || value->empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string> provider_api_key_from_env(std::string_view provider, const LoadContext& ctx) {
  const ProviderVariables* v = variables_of(provider);
  if (!v) return std::nullopt;
  for (std::string_view name : v->api_keys) {
    if (auto key = first_set(name, ctx)) return key;
  }
  return std::nullopt;
}

std::optional<std::string> provider_api_base_from_env(std::string_view provider, const LoadContext& ctx) {
  const ProviderVariables* v = variables_of(provider);
  return v ? first_set(v->api_base, ctx) : std::nullopt;
}

}  // namespace tollgate::config::detail
