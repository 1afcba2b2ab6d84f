#pragma once
// Request-field validation for the admin API: one table per entity of LiteLLM's field names and
// their types. Every problem is a 400 naming the field. Fields not in the table are kept as given
// (LiteLLM clients send extras such as `send_invite_email`), except the names the gateway owns.
#include <span>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tollgate/api/api_error.hpp"

namespace tollgate::admin {

enum class FieldType {
  kString, kNumber, kInteger, kBool, kStringList, kObject, kDuration, kBudgetMap, kIntegerMap, kStringMap,
  kMembers, kUserRole, kKey
};

struct FieldSpec {
  std::string_view name;
  FieldType type;
};

std::span<const FieldSpec> key_fields();
std::span<const FieldSpec> team_fields();
std::span<const FieldSpec> user_fields();
std::span<const FieldSpec> organization_fields();
std::span<const FieldSpec> end_user_fields();
std::span<const FieldSpec> budget_fields();

/// The body's fields checked against `spec`; owned names (spend, token, created_at, ...) dropped.
/// Error: 400 invalid_request_error with param = the field.
api::ApiResult<nlohmann::json> validate_fields(const nlohmann::json& body, std::span<const FieldSpec> spec);

/// A JSON value as a successful result (spelled out: ApiError would also take a json, through
/// its conversion to the `status` member).
inline api::ApiResult<nlohmann::json> json_ok(nlohmann::json j) { return {boost::system::in_place_value, std::move(j)}; }

/// Parses a JSON object body; 400 when it is not one.
api::ApiResult<nlohmann::json> parse_body(std::string_view body);

}  // namespace tollgate::admin
