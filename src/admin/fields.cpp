#include "admin/fields.hpp"

#include "tollgate/api/json_read.hpp"

#include <array>
#include <cmath>

#include "tollgate/auth/budget_window.hpp"
#include "tollgate/auth/principal.hpp"

namespace tollgate::admin {
namespace {

using Json = nlohmann::json;
using T = FieldType;

constexpr std::array kKey{
    FieldSpec{"key_alias", T::kString},       FieldSpec{"duration", T::kDuration},
    FieldSpec{"models", T::kStringList},      FieldSpec{"max_budget", T::kNumber},
    FieldSpec{"soft_budget", T::kNumber},     FieldSpec{"budget_duration", T::kDuration},
    FieldSpec{"user_id", T::kString},         FieldSpec{"team_id", T::kString},
    FieldSpec{"organization_id", T::kString}, FieldSpec{"max_parallel_requests", T::kInteger},
    FieldSpec{"metadata", T::kObject},        FieldSpec{"tpm_limit", T::kInteger},
    FieldSpec{"rpm_limit", T::kInteger},      FieldSpec{"model_max_budget", T::kBudgetMap},
    FieldSpec{"model_rpm_limit", T::kIntegerMap}, FieldSpec{"model_tpm_limit", T::kIntegerMap},
    FieldSpec{"aliases", T::kStringMap},      FieldSpec{"permissions", T::kObject},
    FieldSpec{"tags", T::kStringList},        FieldSpec{"key", T::kKey},
    FieldSpec{"blocked", T::kBool},           FieldSpec{"budget_id", T::kString}};

constexpr std::array kTeam{
    FieldSpec{"team_id", T::kString},           FieldSpec{"team_alias", T::kString},
    FieldSpec{"members_with_roles", T::kMembers}, FieldSpec{"models", T::kStringList},
    FieldSpec{"max_budget", T::kNumber},        FieldSpec{"soft_budget", T::kNumber},
    FieldSpec{"budget_duration", T::kDuration}, FieldSpec{"tpm_limit", T::kInteger},
    FieldSpec{"rpm_limit", T::kInteger},        FieldSpec{"max_parallel_requests", T::kInteger},
    FieldSpec{"metadata", T::kObject},          FieldSpec{"blocked", T::kBool},
    FieldSpec{"tags", T::kStringList},          FieldSpec{"model_aliases", T::kStringMap},
    FieldSpec{"organization_id", T::kString}};

constexpr std::array kUser{
    FieldSpec{"user_id", T::kString},           FieldSpec{"user_email", T::kString},
    FieldSpec{"user_alias", T::kString},        FieldSpec{"user_role", T::kUserRole},
    FieldSpec{"teams", T::kStringList},         FieldSpec{"models", T::kStringList},
    FieldSpec{"max_budget", T::kNumber},        FieldSpec{"soft_budget", T::kNumber},
    FieldSpec{"budget_duration", T::kDuration}, FieldSpec{"tpm_limit", T::kInteger},
    FieldSpec{"rpm_limit", T::kInteger},        FieldSpec{"max_parallel_requests", T::kInteger},
    FieldSpec{"metadata", T::kObject},          FieldSpec{"auto_create_key", T::kBool},
    FieldSpec{"key_alias", T::kString},         FieldSpec{"duration", T::kDuration},
    FieldSpec{"organization_id", T::kString},   FieldSpec{"blocked", T::kBool}};

constexpr std::array kOrganization{
    FieldSpec{"organization_id", T::kString},   FieldSpec{"organization_alias", T::kString},
    FieldSpec{"models", T::kStringList},        FieldSpec{"max_budget", T::kNumber},
    FieldSpec{"soft_budget", T::kNumber},       FieldSpec{"budget_duration", T::kDuration},
    FieldSpec{"tpm_limit", T::kInteger},        FieldSpec{"rpm_limit", T::kInteger},
    FieldSpec{"max_parallel_requests", T::kInteger}, FieldSpec{"metadata", T::kObject},
    FieldSpec{"budget_id", T::kString},         FieldSpec{"blocked", T::kBool}};

constexpr std::array kEndUser{
    FieldSpec{"user_id", T::kString},           FieldSpec{"alias", T::kString},
    FieldSpec{"blocked", T::kBool},             FieldSpec{"max_budget", T::kNumber},
    FieldSpec{"soft_budget", T::kNumber},       FieldSpec{"budget_id", T::kString},
    FieldSpec{"budget_duration", T::kDuration}, FieldSpec{"tpm_limit", T::kInteger},
    FieldSpec{"rpm_limit", T::kInteger},        FieldSpec{"max_parallel_requests", T::kInteger},
    FieldSpec{"allowed_model_region", T::kString}, FieldSpec{"default_model", T::kString},
    FieldSpec{"metadata", T::kObject}};

constexpr std::array kBudget{
    FieldSpec{"budget_id", T::kString},         FieldSpec{"max_budget", T::kNumber},
    FieldSpec{"soft_budget", T::kNumber},       FieldSpec{"max_parallel_requests", T::kInteger},
    FieldSpec{"tpm_limit", T::kInteger},        FieldSpec{"rpm_limit", T::kInteger},
    FieldSpec{"model_max_budget", T::kBudgetMap}, FieldSpec{"budget_duration", T::kDuration}};

// Values the gateway computes; a client cannot set them.
constexpr std::array<std::string_view, 8> kOwned{"spend",  "token",      "created_at", "updated_at",
                                                 "budget_reset_at", "expires", "key_name", "model_spend"};

bool non_negative(const Json& v) { return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= 0; }
bool non_negative_integer(const Json& v) {
  return non_negative(v) && v.get<double>() == std::floor(v.get<double>()) && v.get<double>() <= 1e15;
}

bool all_values(const Json& v, bool (*ok)(const Json&)) {
  if (!v.is_object()) return false;
  for (const auto& [k, e] : v.items()) {
    if (!ok(e)) return false;
  }
  return true;
}

bool budget_value(const Json& e) {
  return non_negative(e) || (e.is_object() && e.contains("budget_limit") && non_negative(e["budget_limit"]));
}
bool string_value(const Json& e) { return e.is_string(); }

bool member(const Json& m) {
  if (!m.is_object()) return false;
  const auto uid = m.find("user_id");
  if (uid == m.end() || !uid->is_string() || uid->get_ref<const std::string&>().empty()) return false;
  const auto role = m.find("role");
  return role == m.end() || (role->is_string() && (*role == "admin" || *role == "user"));
}

// nullopt: valid; otherwise what was expected.
std::optional<std::string_view> check(const Json& v, FieldType type) {
  switch (type) {
    case T::kString: return v.is_string() ? std::nullopt : std::optional<std::string_view>("a string");
    case T::kNumber: return non_negative(v) ? std::nullopt : std::optional<std::string_view>("a non-negative number");
    case T::kInteger:
      return non_negative_integer(v) ? std::nullopt : std::optional<std::string_view>("a non-negative integer");
    case T::kBool: return v.is_boolean() ? std::nullopt : std::optional<std::string_view>("true or false");
    case T::kStringList:
      if (v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& e) { return e.is_string(); })) {
        return std::nullopt;
      }
      return "a list of strings";
    case T::kObject: return v.is_object() ? std::nullopt : std::optional<std::string_view>("an object");
    case T::kDuration:
      if (v.is_string() && auth::parse_duration(v.get_ref<const std::string&>())) return std::nullopt;
      return "a duration such as \"30s\", \"30m\", \"1h\", \"1d\", \"7d\" or \"1mo\"";
    case T::kBudgetMap:
      return all_values(v, budget_value) ? std::nullopt
                                         : std::optional<std::string_view>("an object of model -> non-negative budget");
    case T::kIntegerMap:
      return all_values(v, non_negative_integer)
                 ? std::nullopt
                 : std::optional<std::string_view>("an object of model -> non-negative integer");
    case T::kStringMap:
      return all_values(v, string_value) ? std::nullopt : std::optional<std::string_view>("an object of strings");
    case T::kMembers:
      if (v.is_array() && std::all_of(v.begin(), v.end(), member)) return std::nullopt;
      return "a list of {\"user_id\": str, \"role\": \"admin\"|\"user\"}";
    case T::kUserRole:
      if (v.is_string() && auth::parse_user_role(v.get_ref<const std::string&>())) return std::nullopt;
      return "one of proxy_admin, proxy_admin_viewer, internal_user, internal_user_viewer";
    case T::kKey:
      if (v.is_string() && v.get_ref<const std::string&>().starts_with("sk-") && v.get_ref<const std::string&>().size() >= 8) {
        return std::nullopt;
      }
      return "a key starting with 'sk-' (at least 8 characters)";
  }
  return std::nullopt;
}

}  // namespace

std::span<const FieldSpec> key_fields() { return kKey; }
std::span<const FieldSpec> team_fields() { return kTeam; }
std::span<const FieldSpec> user_fields() { return kUser; }
std::span<const FieldSpec> organization_fields() { return kOrganization; }
std::span<const FieldSpec> end_user_fields() { return kEndUser; }
std::span<const FieldSpec> budget_fields() { return kBudget; }

api::ApiResult<Json> validate_fields(const Json& body, std::span<const FieldSpec> spec) {
  Json out = Json::object();
  for (const auto& [name, value] : body.items()) {
    if (std::find(kOwned.begin(), kOwned.end(), name) != kOwned.end()) continue;
    // Through an init-capture: clang before 16 cannot capture a structured binding.
    const auto it = std::find_if(spec.begin(), spec.end(), [&key = name](const FieldSpec& f) { return f.name == key; });
    if (it != spec.end() && !value.is_null()) {
      if (auto expected = check(value, it->type)) {
        return api::make_error(Errc::kInvalidRequest,
                               "Invalid value for '" + name + "': expected " + std::string(*expected) + ".", name);
      }
    }
    out[name] = value;
  }
  return json_ok(std::move(out));
}

api::ApiResult<Json> parse_body(std::string_view body) {
  if (body.empty()) return json_ok(Json::object());
  api::JsonReadError error;
  Json j = api::read_json(body, &error);
  if (j.is_discarded()) return api::invalid_body_error(error);
  if (!j.is_object()) return api::make_error(Errc::kInvalidRequest, "Request body must be a JSON object.");
  return json_ok(std::move(j));
}

}  // namespace tollgate::admin
