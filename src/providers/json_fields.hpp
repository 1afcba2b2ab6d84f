#pragma once
// Tolerant reads of vendor JSON for the provider translators: a wrong type reads as absent
// (nlohmann's value() throws on a type mismatch, and data-plane input must never throw); and the
// few result helpers every request translator uses.
#include <cstddef>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tollgate/api/api_error.hpp"

namespace tollgate::providers::json_fields {

/// `obj[key]` when `obj` is an object and the member a string, else "".
template <class Json>
std::string string_field(const Json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->template get<std::string>() : std::string();
}

/// `obj[key]`, or null when `obj` is not an object or has no such member.
template <class Json>
const Json& member(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it != obj.end() ? *it : kNull;
}

/// A client request the translator cannot send: a 400 naming `param`.
inline api::ApiError bad(std::string message, std::string param = "messages") {
  return api::make_error(Errc::kInvalidRequest, std::move(message), std::move(param));
}

/// A translated JSON value as a result: boost::system::result cannot tell a json value from an
/// error by conversion, so say which it is.
inline api::ApiResult<nlohmann::ordered_json> ok(nlohmann::ordered_json value) {
  return api::ApiResult<nlohmann::ordered_json>(boost::system::in_place_value, std::move(value));
}

/// "messages[i]", the path of a message in errors.
inline std::string at(std::size_t i) { return "messages[" + std::to_string(i) + "]"; }

}  // namespace tollgate::providers::json_fields
