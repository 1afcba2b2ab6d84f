#pragma once
// Which model groups a virtual key may call (docs/admin-api.md, "Model access").
//
// A name is allowed by a model list when the list is empty (no restriction at that level) or an
// entry is: the name itself, "*" or "all-proxy-models", a wildcard pattern ("openai/*" matches
// every name starting with "openai/"), or an access group (`model_info.access_groups`) containing
// the name. A key's list may say "all-team-models": the team's list applies instead.
//
// Checks: the key's list, then the team's (if the key has a team), then the user's (personal keys
// only). Aliases (key `aliases`, then team `model_aliases`) map the requested name to a group
// first. The key's own list may allow either name (an alias is its creator's grant, and the
// admin API lets nobody alias a group they may not use); the team's and the user's lists must
// allow the group actually called, so no alias — a key's or a team's — reaches past them.
// The proxy asks again for every fallback group before calling it.
//
// Thread safety: ModelCatalog is immutable after construction.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/auth/principal.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::auth {

class ModelCatalog {
 public:
  explicit ModelCatalog(const config::Config& config);
  /// Does `list` allow `name`? (Rules above; an empty list allows everything.)
  bool allows(const std::vector<std::string>& list, std::string_view name) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> access_groups_;  // group -> model groups
};

struct AccessDecision {
  bool allowed = true;
  bool by_team = false;   // denied by the team's list (team_model_access_denied)
  std::string model;      // the name to route: the requested one after aliases
};

AccessDecision check_model_access(const Principal& p, std::string_view requested, const ModelCatalog& catalog);

}  // namespace tollgate::auth
