#include "tollgate/auth/principal.hpp"

#include <array>
#include <cmath>

#include <openssl/sha.h>

namespace tollgate::auth {
namespace {

using Json = nlohmann::json;

const Json* field(const Json& data, std::string_view name) {
  const auto it = data.find(name);
  return it == data.end() || it->is_null() ? nullptr : &*it;
}

std::int64_t integer_or(const Json& data, std::string_view name, std::int64_t fallback) {
  const Json* v = field(data, name);
  if (v == nullptr || !v->is_number()) return fallback;
  const double d = v->get<double>();
  return std::isfinite(d) && d >= 0 ? static_cast<std::int64_t>(d) : fallback;
}

double number_or(const Json& data, std::string_view name, double fallback) {
  const Json* v = field(data, name);
  if (v == nullptr || !v->is_number()) return fallback;
  const double d = v->get<double>();
  return std::isfinite(d) && d >= 0 ? d : fallback;
}

std::string string_or_empty(const Json& data, std::string_view name) {
  const Json* v = field(data, name);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::vector<std::string> strings(const Json& data, std::string_view name) {
  std::vector<std::string> out;
  if (const Json* v = field(data, name); v != nullptr && v->is_array()) {
    for (const Json& e : *v) {
      if (e.is_string()) out.push_back(e.get<std::string>());
    }
  }
  return out;
}

std::map<std::string, std::string, std::less<>> string_map(const Json& data, std::string_view name) {
  std::map<std::string, std::string, std::less<>> out;
  if (const Json* v = field(data, name); v != nullptr && v->is_object()) {
    for (const auto& [k, e] : v->items()) {
      if (e.is_string()) out.emplace(k, e.get<std::string>());
    }
  }
  return out;
}

std::map<std::string, std::int64_t, std::less<>> integer_map(const Json& data, std::string_view name) {
  std::map<std::string, std::int64_t, std::less<>> out;
  if (const Json* v = field(data, name); v != nullptr && v->is_object()) {
    for (const auto& [k, e] : v->items()) {
      if (e.is_number() && e.get<double>() >= 0) out.emplace(k, static_cast<std::int64_t>(e.get<double>()));
    }
  }
  return out;
}

// model_max_budget is {"model": 1.5} or, in newer LiteLLM, {"model": {"budget_limit": 1.5, ...}}.
std::map<std::string, double, std::less<>> model_budgets(const Json& data) {
  std::map<std::string, double, std::less<>> out;
  if (const Json* v = field(data, "model_max_budget"); v != nullptr && v->is_object()) {
    for (const auto& [k, e] : v->items()) {
      if (e.is_number()) {
        out.emplace(k, e.get<double>());
      } else if (e.is_object() && e.contains("budget_limit") && e["budget_limit"].is_number()) {
        out.emplace(k, e["budget_limit"].get<double>());
      }
    }
  }
  return out;
}

}  // namespace

std::optional<UserRole> parse_user_role(std::string_view text) {
  if (text == "proxy_admin") return UserRole::kProxyAdmin;
  if (text == "proxy_admin_viewer") return UserRole::kProxyAdminViewer;
  if (text == "internal_user") return UserRole::kInternalUser;
  if (text == "internal_user_viewer") return UserRole::kInternalUserViewer;
  return std::nullopt;
}

EntityLimits limits_of(const Record& record) {
  const Json& d = record.data;
  EntityLimits l;
  l.id = record.id;
  l.rpm = integer_or(d, "rpm_limit", kUnlimited);
  l.tpm = integer_or(d, "tpm_limit", kUnlimited);
  l.max_parallel = integer_or(d, "max_parallel_requests", kUnlimited);
  l.max_budget = number_or(d, "max_budget", -1);
  l.soft_budget = number_or(d, "soft_budget", -1);
  if (const Json* bd = field(d, "budget_duration"); bd != nullptr && bd->is_string()) {
    l.budget_duration = parse_duration(bd->get_ref<const std::string&>());
  }
  l.spend = record.spend;
  l.window_ms = record.budget_reset_at_ms;
  l.models = strings(d, "models");
  if (const Json* b = field(d, "blocked"); b != nullptr && b->is_boolean()) l.blocked = b->get<bool>();
  return l;
}

Principal make_principal(const Record& key, const std::optional<Record>& team, const std::optional<Record>& user,
                         const std::optional<Record>& organization, std::optional<std::string_view> team_role) {
  const Json& d = key.data;
  Principal p;
  p.token = key.id;
  p.key_alias = string_or_empty(d, "key_alias");
  p.key = limits_of(key);
  if (const Json* e = field(d, "expires"); e != nullptr && e->is_string()) {
    // A stored expiry that does not parse is treated as expired: fail closed.
    p.expires_ms = parse_iso8601(e->get_ref<const std::string&>()).value_or(0);
  }
  p.aliases = string_map(d, "aliases");
  p.model_max_budget = model_budgets(d);
  p.model_rpm_limit = integer_map(d, "model_rpm_limit");
  p.model_tpm_limit = integer_map(d, "model_tpm_limit");
  if (const Json* m = field(d, "metadata"); m != nullptr && m->is_object()) p.metadata = *m;
  p.tags = strings(d, "tags");
  if (team) {
    p.team = limits_of(*team);
    p.team_alias = string_or_empty(team->data, "team_alias");
    p.team_model_aliases = string_map(team->data, "model_aliases");
  }
  if (user) {
    p.user = limits_of(*user);
    p.role = parse_user_role(string_or_empty(user->data, "user_role")).value_or(UserRole::kNone);
  }
  if (organization) p.organization = limits_of(*organization);
  p.team_admin = team_role && *team_role == "admin";
  return p;
}

std::string hash_key(std::string_view key) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digest.size() * 2, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace tollgate::auth
