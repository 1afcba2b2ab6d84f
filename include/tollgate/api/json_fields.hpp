#pragma once
// Tolerant reads of client and vendor JSON for the translators (front ends, providers): a wrong type reads as absent
// (nlohmann's value() throws on a type mismatch, and data-plane input must never throw); and the
// few helpers every translator uses: its refusals, the walk over a message's content parts,
// a tool call's arguments as an object.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::api::json_fields {

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

/// `obj[key]` when `obj` is an object and the member an integer, else 0 (token counts).
template <class Json>
std::int64_t int_field(const Json& obj, const char* key) {
  const Json& v = member(obj, key);
  return v.is_number_integer() ? v.template get<std::int64_t>() : 0;
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

/// An upstream answer the adapter cannot read: "<vendor> sent <what>." (a 502-class protocol error).
inline api::ApiError protocol_error(std::string_view vendor, std::string what) {
  return api::make_error(Errc::kUpstreamProtocol, std::string(vendor) + " sent " + std::move(what) + ".");
}

/// A tool call's `arguments` (JSON text, or an object some clients send as is) as the object
/// vendors other than OpenAI take; "", null and absent mean {}. Anything else comes back unparsed
/// or discarded, so `!is_object()` tells the caller to refuse it.
inline nlohmann::ordered_json arguments_object(const nlohmann::ordered_json& raw) {
  if (raw.is_string()) {
    const std::string& text = raw.get_ref<const std::string&>();
    return text.empty() ? nlohmann::ordered_json::object() : api::read_ordered_json_lenient(text);
  }
  return raw.is_null() ? nlohmann::ordered_json::object() : raw;
}

/// Walks a message's `content` (null, a string, or OpenAI's array of parts) for a request
/// translator. `on_text(text, part)` gets a string content (`part` null) or a text part;
/// `on_image(part)` an image_url part; each returns an error to stop. Other part types are refused
/// as "not supported <by_whom>" ("by gemini"). Returns the first error.
template <class Json, class OnText, class OnImage>
std::optional<api::ApiError> walk_content(const Json& content, const std::string& where, std::string_view by_whom,
                                          OnText&& on_text, OnImage&& on_image) {
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) return on_text(content.template get_ref<const std::string&>(), static_cast<const Json*>(nullptr));
  if (!content.is_array()) return bad(where + ".content must be a string or an array of content parts.");
  for (const Json& part : content) {
    const std::string type = string_field(part, "type");
    std::optional<api::ApiError> failure;
    if (type == "text") {
      failure = on_text(string_field(part, "text"), &part);
    } else if (type == "image_url") {
      failure = on_image(part);
    } else {
      failure = bad(where + ": content part type '" + type + "' is not supported " + std::string(by_whom) + ".");
    }
    if (failure) return failure;
  }
  return std::nullopt;
}

}  // namespace tollgate::api::json_fields
