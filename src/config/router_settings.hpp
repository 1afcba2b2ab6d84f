#pragma once
// Loader-private: `router_settings`, plus the names `litellm_settings` shares with it
// (num_retries and the fallback lists; router_settings wins per key) -> Config::router and the
// two upstream timeouts router_settings carries. Redis comes from the redis_* keys, redis_url or
// the environment. Group names in fallbacks and model_group_alias are checked against model_list
// (a warning, not an error: a config may be deliberately partial).
#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "config/load_context.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config::detail {

/// `router` and `litellm` are the converted blocks (null when absent). A `litellm` block that is
/// not a map is skipped here (read_litellm_settings reports it). `groups` is
/// declared_groups(model_list). Runs after read_litellm_settings, and also when both blocks are
/// absent: Redis may come from the environment alone.
void read_router_settings(const Json& router, const Json& litellm, const std::set<std::string, std::less<>>& groups,
                          LoadContext& ctx, Config& cfg);

/// The litellm_settings keys read_router_settings reads (for litellm_settings' unknown-key check).
std::span<const std::string_view> litellm_router_keys();

}  // namespace tollgate::config::detail
