// OpenAI chat request → Gemini generateContent request (see gemini_provider.hpp for the mapping).
#include <cctype>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/gemini/gemini_provider.hpp"
#include "tollgate/api/json_fields.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

// Ordered throughout: tool arguments and schemas keep the order the client wrote.
using json = nlohmann::ordered_json;
using api::json_fields::member;
using api::json_fields::string_field;
using api::json_fields::bad;
using api::json_fields::ok;
using api::json_fields::at;

// fileData needs a MIME type; guess it from the extension as LiteLLM does for gs:// URIs.
std::string mime_of(std::string_view url) {
  const std::string_view path = url.substr(0, url.find_first_of("?#"));
  for (const auto& [ext, mime] : {std::pair{".png", "image/png"}, std::pair{".gif", "image/gif"},
                                  std::pair{".webp", "image/webp"}, std::pair{".pdf", "application/pdf"},
                                  std::pair{".mp4", "video/mp4"}, std::pair{".mp3", "audio/mpeg"}}) {
    if (path.ends_with(ext)) return mime;
  }
  return "image/jpeg";
}

api::ApiResult<json> image_part(const json& part, const std::string& where) {
  const json& image = member(part, "image_url");
  std::string url = image.is_string() ? image.get<std::string>() : string_field(image, "url");
  if (url.starts_with("data:")) {
    const std::size_t marker = url.find(";base64,");
    if (marker == std::string::npos) return bad(where + ": image data URLs must be base64-encoded.");
    return ok(json{{"inlineData", {{"mimeType", url.substr(5, marker - 5)}, {"data", url.substr(marker + 8)}}}});
  }
  if (url.starts_with("gs://") || url.starts_with("https://")) {
    return ok(json{{"fileData", {{"mimeType", mime_of(url)}, {"fileUri", url}}}});
  }
  return bad(where + ": image_url must be a data: URL, a gs:// URI or an https URL.");
}

// A message's `content` as Gemini parts. Empty text is skipped: Gemini rejects empty parts.
api::ApiResult<json> content_parts(const json& content, const std::string& where) {
  json parts = json::array();
  auto failure = api::json_fields::walk_content(
      content, where, "by gemini",
      [&](const std::string& text, const json*) -> std::optional<api::ApiError> {
        if (!text.empty()) parts.push_back({{"text", text}});
        return std::nullopt;
      },
      [&](const json& part) -> std::optional<api::ApiError> {
        auto image = image_part(part, where);
        if (!image) return image.error();
        parts.push_back(std::move(*image));
        return std::nullopt;
      });
  if (failure) return *failure;
  return ok(std::move(parts));
}

// JSON text of an object, or an error; "" and null mean {}.
api::ApiResult<json> arguments_object(const json& raw, const std::string& where) {
  json args = api::json_fields::arguments_object(raw);
  if (!args.is_object()) {
    return bad(where + ".function.arguments is not a JSON object; gemini needs the call's args as one.");
  }
  return ok(std::move(args));
}

struct Conversation {
  json system = json::array();    // text parts
  json contents = json::array();  // {role, parts}
  std::unordered_map<std::string, std::string> call_names;  // tool_call id → function name
};

// Gemini wants user and model turns to alternate: a turn of the same role as the last one joins it.
void append_turn(json& contents, std::string_view role, json parts) {
  if (parts.empty()) return;
  if (!contents.empty() && contents.back()["role"] == std::string(role)) {
    for (auto& p : parts) contents.back()["parts"].push_back(std::move(p));
    return;
  }
  contents.push_back({{"role", role}, {"parts", std::move(parts)}});
}

std::optional<api::ApiError> assistant_turn(const json& m, const std::string& where, Conversation& out) {
  auto parts = content_parts(member(m, "content"), where);
  if (!parts) return parts.error();
  const json& calls = member(m, "tool_calls");
  if (!calls.is_null() && !calls.is_array()) return bad(where + ".tool_calls must be an array.");
  for (std::size_t k = 0; calls.is_array() && k < calls.size(); ++k) {
    const std::string here = where + ".tool_calls[" + std::to_string(k) + "]";
    const json& fn = member(calls[k], "function");
    if (!fn.is_object() || string_field(fn, "name").empty()) return bad(here + " must be a function call with a name.");
    auto args = arguments_object(member(fn, "arguments"), here);
    if (!args) return args.error();
    out.call_names[string_field(calls[k], "id")] = string_field(fn, "name");
    parts->push_back({{"functionCall", {{"name", string_field(fn, "name")}, {"args", std::move(*args)}}}});
  }
  append_turn(out.contents, "model", std::move(*parts));
  return std::nullopt;
}

std::optional<api::ApiError> tool_turn(const json& m, const std::string& where, Conversation& out) {
  const std::string id = string_field(m, "tool_call_id");
  const auto name = out.call_names.find(id);
  if (name == out.call_names.end()) {
    return bad(where + ".tool_call_id '" + id + "' names no earlier assistant tool call; gemini needs the function's name.");
  }
  // functionResponse.response is a JSON object: a result that is one goes as is, other text under "content".
  const json& content = member(m, "content");
  std::string text;
  if (content.is_string()) {
    text = content.get<std::string>();
  } else if (content.is_array()) {
    for (const json& part : content) text += string_field(part, "text");
  } else if (!content.is_null()) {
    return bad(where + ".content must be a string or an array of text parts.");
  }
  json response = api::read_ordered_json_lenient(text);
  if (response.is_discarded() || !response.is_object()) response = json{{"content", text}};
  append_turn(out.contents, "user",
              json::array({{{"functionResponse", {{"name", name->second}, {"response", std::move(response)}}}}}));
  return std::nullopt;
}

api::ApiResult<Conversation> conversation(const json& in) {
  Conversation out;
  const json& messages = member(in, "messages");
  if (!messages.is_array() || messages.empty()) return bad("'messages' must be a non-empty array.");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = at(i);
    const std::string role = string_field(m, "role");
    std::optional<api::ApiError> failure;
    if (role == "system" || role == "developer") {
      auto parts = content_parts(member(m, "content"), where);
      if (!parts) return parts.error();
      for (auto& p : *parts) {
        if (!p.contains("text")) return bad(where + ": system messages may only hold text.");
        out.system.push_back(std::move(p));
      }
    } else if (role == "user") {
      auto parts = content_parts(member(m, "content"), where);
      if (!parts) return parts.error();
      append_turn(out.contents, "user", std::move(*parts));
    } else if (role == "assistant") {
      failure = assistant_turn(m, where, out);
    } else if (role == "tool") {
      failure = tool_turn(m, where, out);
    } else {
      return bad(where + ".role '" + role + "' is not supported by gemini.");
    }
    if (failure) return *failure;
  }
  if (out.contents.empty()) return bad("gemini needs at least one user or assistant message with content.");
  return out;
}

// Gemini's Schema is an OpenAPI subset: JSON Schema keywords it does not know are refused, so they
// are dropped (as LiteLLM does).
json gemini_schema(const json& schema);

// A map of names to schemas (properties, $defs).
json schema_map(const json& map) {
  json out = json::object();
  if (!map.is_object()) return out;
  for (const auto& [name, sub] : map.items()) out[name] = gemini_schema(sub);
  return out;
}

json gemini_schema(const json& schema) {
  if (schema.is_array()) {
    json out = json::array();
    for (const auto& s : schema) out.push_back(gemini_schema(s));
    return out;
  }
  if (!schema.is_object()) return schema;
  json out = json::object();
  for (const auto& [key, value] : schema.items()) {
    if (key == "additionalProperties" || key == "$schema" || key == "strict" || key == "$id") continue;
    if (key == "properties" || key == "$defs" || key == "definitions") {
      out[key] = schema_map(value);
    } else if (key == "items" || key == "anyOf") {
      out[key] = gemini_schema(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

api::ApiResult<json> tools(const json& list) {
  if (!list.is_array()) return bad("'tools' must be an array.", "tools");
  json declarations = json::array();
  for (const json& tool : list) {
    const json& fn = member(tool, "function");
    if (string_field(tool, "type") != "function" || !fn.is_object() || string_field(fn, "name").empty()) {
      return bad("Only function tools with a name are supported by gemini.", "tools");
    }
    json d = {{"name", string_field(fn, "name")}};
    if (fn.contains("description") && fn["description"].is_string()) d["description"] = fn["description"];
    // Gemini refuses an object schema without properties: a function without parameters omits them.
    const json& params = member(fn, "parameters");
    if (params.is_object() && !(member(params, "properties").is_object() && params["properties"].empty()) &&
        !(string_field(params, "type") == "object" && !params.contains("properties"))) {
      d["parameters"] = gemini_schema(params);
    }
    declarations.push_back(std::move(d));
  }
  return ok(json::array({{{"functionDeclarations", std::move(declarations)}}}));
}

api::ApiResult<json> tool_config(const json& choice) {
  if (choice.is_string()) {
    const std::string& s = choice.get_ref<const std::string&>();
    if (s == "auto") return ok(json{{"functionCallingConfig", {{"mode", "AUTO"}}}});
    if (s == "required") return ok(json{{"functionCallingConfig", {{"mode", "ANY"}}}});
    if (s == "none") return ok(json{{"functionCallingConfig", {{"mode", "NONE"}}}});
  } else if (!string_field(member(choice, "function"), "name").empty()) {
    return ok(json{{"functionCallingConfig",
                    {{"mode", "ANY"}, {"allowedFunctionNames", json::array({string_field(choice["function"], "name")})}}}});
  }
  return bad("'tool_choice' must be \"auto\", \"required\", \"none\" or a function.", "tool_choice");
}

std::optional<api::ApiError> response_format(const json& format, json& config) {
  const std::string type = string_field(format, "type");
  if (type == "json_object") {
    config["responseMimeType"] = "application/json";
  } else if (type == "json_schema") {
    config["responseMimeType"] = "application/json";
    const json& schema = member(member(format, "json_schema"), "schema");
    if (schema.is_object()) config["responseSchema"] = gemini_schema(schema);
  } else if (type != "text" && !format.is_null()) {
    return bad("'response_format.type' must be text, json_object or json_schema.", "response_format");
  }
  return std::nullopt;
}

std::optional<api::ApiError> generation_config(const json& in, const api::ParsedRequest& request, json& config) {
  for (const auto& [from, to] : {std::pair{"temperature", "temperature"}, std::pair{"top_p", "topP"},
                                 std::pair{"top_k", "topK"}, std::pair{"presence_penalty", "presencePenalty"},
                                 std::pair{"frequency_penalty", "frequencyPenalty"}}) {
    if (auto it = in.find(from); it != in.end() && it->is_number()) config[to] = *it;
  }
  for (const auto& [from, to] : {std::pair{"n", "candidateCount"}, std::pair{"seed", "seed"}}) {
    if (auto it = in.find(from); it != in.end() && it->is_number_integer()) config[to] = *it;
  }
  if (request.fields.max_tokens) config["maxOutputTokens"] = *request.fields.max_tokens;
  if (auto stop = in.find("stop"); stop != in.end() && !stop->is_null()) {
    if (stop->is_string()) {
      config["stopSequences"] = json::array({*stop});
    } else if (stop->is_array()) {
      config["stopSequences"] = *stop;
    } else {
      return bad("'stop' must be a string or an array of strings.", "stop");
    }
  }
  if (auto format = in.find("response_format"); format != in.end()) return response_format(*format, config);
  return std::nullopt;
}

}  // namespace

api::ApiResult<std::string> gemini_request_body(const api::ParsedRequest& request) {
  const json in = api::read_ordered_json_lenient(request.body);
  if (!in.is_object()) return api::make_error(Errc::kInvalidJson, "Request body must be a JSON object.");
  auto conv = conversation(in);
  if (!conv) return conv.error();
  json out;
  out["contents"] = std::move(conv->contents);
  if (!conv->system.empty()) out["systemInstruction"] = {{"parts", std::move(conv->system)}};
  const auto list = in.find("tools");
  if (list != in.end() && !list->is_null()) {
    auto t = tools(*list);
    if (!t) return t.error();
    out["tools"] = std::move(*t);
    if (auto c = in.find("tool_choice"); c != in.end() && !c->is_null()) {
      auto config = tool_config(*c);
      if (!config) return config.error();
      out["toolConfig"] = std::move(*config);
    }
  }
  json config = json::object();
  if (auto failure = generation_config(in, request, config)) return *failure;
  if (!config.empty()) out["generationConfig"] = std::move(config);
  return out.dump();
}

std::string gemini_target(std::string_view base_path, std::string_view model, bool stream) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string target(base_path);
  target.append("/models/");
  // Model names are URL-safe in practice; anything else is escaped rather than allowed to change the path.
  for (unsigned char c : model) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      target.push_back(static_cast<char>(c));
    } else {
      target.push_back('%');
      target.push_back(kHex[c >> 4]);
      target.push_back(kHex[c & 15]);
    }
  }
  target.append(stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  return target;
}

}  // namespace tollgate::providers
