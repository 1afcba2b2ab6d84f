#pragma once
// Helpers shared by the config loader tests: an injected environment and problems as text.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/config/loader.hpp"

namespace tollgate::config::test_util {

using Env = std::map<std::string, std::string>;
using Strings = std::vector<std::string>;

inline EnvLookup env_of(Env vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline Strings strings(const std::vector<Problem>& problems) {
  Strings out;
  for (const auto& p : problems) out.push_back(p.to_string());
  return out;
}

}  // namespace tollgate::config::test_util
