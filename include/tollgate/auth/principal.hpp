#pragma once
// Who a request is: the virtual key it presented, resolved with its team, user and organization
// into the few values the hot path reads (model lists, limits, budgets, roles). Built from the
// store's records when a key enters the cache, immutable after, shared by every request with that
// key (shared_ptr<const Principal>).
//
// Thread safety: immutable.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tollgate/auth/budget_window.hpp"
#include "tollgate/auth/key_store.hpp"

namespace tollgate::auth {

inline constexpr std::int64_t kUnlimited = -1;

/// Limits and budget of one entity, as stored (LiteLLM field names in comments).
struct EntityLimits {
  std::string id;
  std::int64_t rpm = kUnlimited;           // rpm_limit
  std::int64_t tpm = kUnlimited;           // tpm_limit
  std::int64_t max_parallel = kUnlimited;  // max_parallel_requests
  double max_budget = -1;                  // max_budget (< 0: none)
  double soft_budget = -1;                 // soft_budget (< 0: none)
  std::optional<Duration> budget_duration; // budget_duration
  double spend = 0;                        // spend of the window below, as the database had it
  std::int64_t window_ms = 0;              // budget_reset_at (0: no window)
  std::vector<std::string> models;         // models ([] = no restriction at this level)
  bool blocked = false;
};

/// The roles of LITELLM_COMPAT.md. kNone: a key without a user (or a user without a role).
enum class UserRole { kNone, kProxyAdmin, kProxyAdminViewer, kInternalUser, kInternalUserViewer };
std::optional<UserRole> parse_user_role(std::string_view text);

struct Principal {
  bool master = false;                      // the master key: every check passes
  std::string token;                        // SHA-256 hex of the key (the key's id in the store)
  std::string key_alias;
  EntityLimits key;
  std::optional<std::int64_t> expires_ms;   // unix ms; nullopt: never
  std::map<std::string, std::string, std::less<>> aliases;  // key aliases: requested -> model group
  std::map<std::string, double, std::less<>> model_max_budget;
  std::map<std::string, std::int64_t, std::less<>> model_rpm_limit;
  std::map<std::string, std::int64_t, std::less<>> model_tpm_limit;
  std::map<std::string, double, std::less<>> model_spend;  // in the key's window, as the database had it
  std::optional<EntityLimits> team;
  std::string team_alias;
  std::map<std::string, std::string, std::less<>> team_model_aliases;
  std::optional<EntityLimits> user;
  std::optional<EntityLimits> organization;
  UserRole role = UserRole::kNone;          // the key's user's role
  bool team_admin = false;                  // the key's user is an admin of the key's team
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::string> tags;

  const std::string& user_id() const { return user ? user->id : empty_; }
  const std::string& team_id() const { return team ? team->id : empty_; }

 private:
  static inline const std::string empty_;
};

/// Limits of a record (key, team, user, organization, end user, or budget row).
EntityLimits limits_of(const Record& record);

/// The principal of a key record and the records it refers to (any may be absent).
Principal make_principal(const Record& key, const std::optional<Record>& team, const std::optional<Record>& user,
                         const std::optional<Record>& organization, std::optional<std::string_view> team_role);

/// SHA-256 hex (lower case) of a key: its id in the store.
std::string hash_key(std::string_view key);

}  // namespace tollgate::auth
