#pragma once
// Loader-private: `model_list` -> Config::model_list. Validates each entry with its YAML path,
// splits `provider/model`, fills the provider's default api_base, drops deployments whose
// `api_key` variable is unset (with a warning), and gives every deployment a unique id.
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_context.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config::detail {

/// Reads the converted `model_list` value (null when absent) and appends to `out`.
void read_model_list(const Json& list, LoadContext& ctx, std::vector<Deployment>& out);

/// Every string `model_name` in the converted `model_list`, including entries that were disabled or
/// invalid: what router_settings may refer to without a warning.
std::set<std::string, std::less<>> declared_groups(const Json& list);

/// The provider's built-in api_base, or "" when it has none (api_base is then required).
std::string_view default_api_base(std::string_view provider);

/// `url` without trailing '/', or nullopt unless it is an http(s) URL with a host.
std::optional<std::string> normalize_http_url(std::string_view url);

/// FNV-1a, 64 bit: the stable hash behind generated deployment ids.
std::uint64_t fnv1a64(std::string_view data, std::uint64_t seed = 0xcbf29ce484222325ULL);

}  // namespace tollgate::config::detail
