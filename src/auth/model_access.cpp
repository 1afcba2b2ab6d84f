#include "tollgate/auth/model_access.hpp"

#include <algorithm>

namespace tollgate::auth {
namespace {

constexpr std::string_view kAllTeamModels = "all-team-models";

std::string_view resolve_alias(const Principal& p, std::string_view name) {
  if (auto it = p.aliases.find(name); it != p.aliases.end()) return it->second;
  if (auto it = p.team_model_aliases.find(name); it != p.team_model_aliases.end()) return it->second;
  return name;
}

}  // namespace

ModelCatalog::ModelCatalog(const config::Config& config) {
  for (const auto& d : config.model_list) {
    for (const auto& group : d.access_groups) {
      auto& names = access_groups_[group];
      if (std::find(names.begin(), names.end(), d.model_name) == names.end()) names.push_back(d.model_name);
    }
  }
}

bool ModelCatalog::allows(const std::vector<std::string>& list, std::string_view name) const {
  if (list.empty()) return true;
  for (const std::string& entry : list) {
    if (entry == name || entry == "*" || entry == "all-proxy-models") return true;
    if (entry.size() > 1 && entry.back() == '*' && name.starts_with(std::string_view(entry).substr(0, entry.size() - 1))) {
      return true;
    }
    if (auto it = access_groups_.find(entry); it != access_groups_.end()) {
      if (std::find(it->second.begin(), it->second.end(), name) != it->second.end()) return true;
    }
  }
  return false;
}

AccessDecision check_model_access(const Principal& p, std::string_view requested, const ModelCatalog& catalog) {
  AccessDecision d;
  d.model = std::string(resolve_alias(p, requested));
  if (p.master) return d;
  // The key's own list may name the alias instead of its target: both were set on the key by
  // its creator, whom the admin API allowed to grant the target. The team's and the user's lists
  // bound what any of their keys reach, so they must allow the group actually called.
  const bool key_allows = catalog.allows(p.key.models, requested) || catalog.allows(p.key.models, d.model);
  const bool key_inherits_team =
      std::find(p.key.models.begin(), p.key.models.end(), kAllTeamModels) != p.key.models.end();
  if (!key_inherits_team && !key_allows) {
    d.allowed = false;
    return d;
  }
  if (p.team && !catalog.allows(p.team->models, d.model)) {
    d.allowed = false;
    d.by_team = true;
    return d;
  }
  if (!p.team && p.user && !catalog.allows(p.user->models, d.model)) d.allowed = false;
  return d;
}

}  // namespace tollgate::auth
