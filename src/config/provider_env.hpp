#pragma once
// Loader-private: the environment variables LiteLLM reads for a provider's API key and base URL
// when litellm_params gives none (GROQ_API_KEY for groq/, OLLAMA_API_BASE for ollama/, ...).
// Read once per load through LoadContext::env, so `environment_variables:` counts as well.
#include <optional>
#include <string>
#include <string_view>

#include "config/load_context.hpp"

namespace tollgate::config::detail {

/// The provider's API key from the first of its variables that is set and not empty.
std::optional<std::string> provider_api_key_from_env(std::string_view provider, const LoadContext& ctx);

/// The provider's api_base from its variable when set and not empty (not yet validated).
std::optional<std::string> provider_api_base_from_env(std::string_view provider, const LoadContext& ctx);

}  // namespace tollgate::config::detail
