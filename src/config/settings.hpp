#pragma once
// Loader-private: the settings blocks `general_settings`, `litellm_settings` and `tollgate_settings`
// -> Config (`router_settings` is in router_settings.hpp). Each reader takes the converted block
// (null when absent), reports problems with their YAML paths, and warns about keys it neither
// reads nor accepts.
#include <span>
#include <string_view>

#include "config/load_context.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config::detail {

/// Also applies env LITELLM_MASTER_KEY, so it runs even when the block is absent.
void read_general_settings(const Json& block, LoadContext& ctx, Config& cfg);
/// litellm_settings' own keys; the ones it shares with router_settings are read (after this) by
/// read_router_settings (config/router_settings.hpp), where router_settings wins per key.
void read_litellm_settings(const Json& block, LoadContext& ctx, Config& cfg);
void read_tollgate_settings(const Json& block, LoadContext& ctx, Config& cfg);

/// LiteLLM keys accepted without a warning but not acted on yet (listed in docs/configuration.md).
std::span<const std::string_view> accepted_litellm_keys();
std::span<const std::string_view> accepted_general_keys();

}  // namespace tollgate::config::detail
