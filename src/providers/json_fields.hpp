#pragma once
// Tolerant reads of vendor JSON for the provider translators: a wrong type reads as absent
// (nlohmann's value() throws on a type mismatch, and data-plane input must never throw).
#include <string>

#include <nlohmann/json.hpp>

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

}  // namespace tollgate::providers::json_fields
