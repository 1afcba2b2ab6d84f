// OpenAI chat request → Bedrock Converse request (see docs/providers.md for the mapping).
#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/bedrock/bedrock_provider.hpp"
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

// Converse names image formats, not media types.
std::optional<std::string> image_format(std::string_view media_type) {
  for (std::string_view f : {"png", "jpeg", "gif", "webp"}) {
    if (media_type == "image/" + std::string(f)) return std::string(f);
  }
  if (media_type == "image/jpg") return "jpeg";
  return std::nullopt;
}

// Bedrock does not fetch URLs: only base64 data URLs are sent (as the bytes member, base64 in JSON).
api::ApiResult<json> image_block(const json& part, const std::string& where) {
  const json& image = member(part, "image_url");
  std::string url = image.is_string() ? image.get<std::string>() : string_field(image, "url");
  if (!url.starts_with("data:")) return bad(where + ": bedrock takes images as base64 data: URLs only.");
  const std::size_t marker = url.find(";base64,");
  if (marker == std::string::npos) return bad(where + ": image data URLs must be base64-encoded.");
  auto format = image_format(std::string_view(url).substr(5, marker - 5));
  if (!format) return bad(where + ": bedrock takes png, jpeg, gif and webp images.");
  return ok(json{{"image", {{"format", *format}, {"source", {{"bytes", url.substr(marker + 8)}}}}}});
}

// A message's content as Converse blocks; empty text is skipped (Bedrock rejects blank text).
api::ApiResult<json> content_blocks(const json& content, const std::string& where, bool images) {
  json blocks = json::array();
  auto failure = api::json_fields::walk_content(
      content, where, "here by bedrock",
      [&](const std::string& text, const json*) -> std::optional<api::ApiError> {
        if (!text.empty()) blocks.push_back({{"text", text}});
        return std::nullopt;
      },
      [&](const json& part) -> std::optional<api::ApiError> {
        if (!images) return bad(where + ": content part type 'image_url' is not supported here by bedrock.");
        auto image = image_block(part, where);
        if (!image) return image.error();
        blocks.push_back(std::move(*image));
        return std::nullopt;
      });
  if (failure) return *failure;
  return ok(std::move(blocks));
}

api::ApiResult<json> tool_use_blocks(const json& calls, const std::string& where) {
  json blocks = json::array();
  if (!calls.is_array()) return bad(where + ".tool_calls must be an array.");
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string here = where + ".tool_calls[" + std::to_string(i) + "]";
    const json& fn = member(calls[i], "function");
    if (!fn.is_object()) return bad(here + " must be a function call.");
    json input = api::json_fields::arguments_object(member(fn, "arguments"));
    if (!input.is_object()) {
      return bad(here + ".function.arguments is not a JSON object; bedrock needs the tool input as one.");
    }
    blocks.push_back({{"toolUse", {{"toolUseId", string_field(calls[i], "id")}, {"name", string_field(fn, "name")},
                                   {"input", std::move(input)}}}});
  }
  return ok(std::move(blocks));
}

// Converse wants user and assistant turns to alternate: a turn of the same role joins the last.
void append_turn(json& messages, std::string_view role, json blocks) {
  if (blocks.empty()) return;
  if (!messages.empty() && messages.back()["role"] == std::string(role)) {
    for (auto& b : blocks) messages.back()["content"].push_back(std::move(b));
    return;
  }
  messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

std::optional<api::ApiError> conversation(const json& in, json& out) {
  const json& messages = member(in, "messages");
  if (!messages.is_array()) return bad("'messages' must be an array.");
  json system = json::array();
  json turns = json::array();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    const std::string role = string_field(m, "role");
    const json& content = member(m, "content");
    const bool system_role = role == "system" || role == "developer";
    if (system_role || role == "user" || role == "assistant") {
      auto blocks = content_blocks(content, where, !system_role);
      if (!blocks) return blocks.error();
      if (system_role) {
        for (auto& b : *blocks) system.push_back(std::move(b));
        continue;
      }
      if (role == "assistant" && !member(m, "tool_calls").is_null()) {
        auto calls = tool_use_blocks(member(m, "tool_calls"), where);
        if (!calls) return calls.error();
        for (auto& c : *calls) blocks->push_back(std::move(c));
      }
      append_turn(turns, role, std::move(*blocks));
    } else if (role == "tool") {
      auto inner = content_blocks(content, where, false);
      if (!inner) return inner.error();
      if (inner->empty()) inner->push_back({{"text", ""}});
      json result = {{"toolResult", {{"toolUseId", string_field(m, "tool_call_id")}, {"content", std::move(*inner)}}}};
      append_turn(turns, "user", json::array({std::move(result)}));
    } else {
      return bad(where + ".role '" + role + "' is not supported by bedrock.");
    }
  }
  out["messages"] = std::move(turns);
  if (!system.empty()) out["system"] = std::move(system);
  return std::nullopt;
}

std::optional<api::ApiError> inference_config(const json& in, const api::ParsedRequest& request, json& out) {
  json config = json::object();
  if (request.fields.max_tokens) config["maxTokens"] = *request.fields.max_tokens;
  if (auto it = in.find("temperature"); it != in.end() && it->is_number()) config["temperature"] = *it;
  if (auto it = in.find("top_p"); it != in.end() && it->is_number()) config["topP"] = *it;
  if (auto stop = in.find("stop"); stop != in.end() && !stop->is_null()) {
    if (stop->is_string()) {
      config["stopSequences"] = json::array({*stop});
    } else if (stop->is_array() && std::all_of(stop->begin(), stop->end(), [](const json& s) { return s.is_string(); })) {
      config["stopSequences"] = *stop;
    } else {
      return bad("'stop' must be a string or an array of strings.", "stop");
    }
  }
  if (!config.empty()) out["inferenceConfig"] = std::move(config);
  return std::nullopt;
}

api::ApiResult<json> tool_choice(const json& choice) {
  if (choice.is_string()) {
    const std::string& s = choice.get_ref<const std::string&>();
    if (s == "auto") return ok(json{{"auto", json::object()}});
    if (s == "required") return ok(json{{"any", json::object()}});
  } else if (const std::string name = string_field(member(choice, "function"), "name"); !name.empty()) {
    return ok(json{{"tool", {{"name", name}}}});
  }
  return bad("'tool_choice' must be \"auto\", \"required\", \"none\" or a function.", "tool_choice");
}

std::optional<api::ApiError> tool_config(const json& in, json& out) {
  const json& list = member(in, "tools");
  if (list.is_null()) return std::nullopt;
  if (!list.is_array()) return bad("'tools' must be an array.", "tools");
  const json& choice = member(in, "tool_choice");
  if (choice.is_string() && choice.get_ref<const std::string&>() == "none") return std::nullopt;  // Converse has no "none"
  json tools = json::array();
  for (const json& tool : list) {
    const json& fn = member(tool, "function");
    if (string_field(tool, "type") != "function" || !fn.is_object()) {
      return bad("Only function tools are supported by bedrock.", "tools");
    }
    json spec = {{"name", string_field(fn, "name")}};
    if (const std::string d = string_field(fn, "description"); !d.empty()) spec["description"] = d;
    const json& params = member(fn, "parameters");
    spec["inputSchema"] = {{"json", params.is_object() ? params : json{{"type", "object"}, {"properties", json::object()}}}};
    tools.push_back({{"toolSpec", std::move(spec)}});
  }
  if (tools.empty()) return std::nullopt;
  json config = {{"tools", std::move(tools)}};
  if (!choice.is_null()) {
    auto mapped = tool_choice(choice);
    if (!mapped) return mapped.error();
    config["toolChoice"] = std::move(*mapped);
  }
  out["toolConfig"] = std::move(config);
  return std::nullopt;
}

}  // namespace

api::ApiResult<std::string> bedrock_request_body(const api::ParsedRequest& request) {
  const json in = api::read_ordered_json_lenient(request.body);
  if (!in.is_object()) return api::make_error(Errc::kInvalidJson, "Request body must be a JSON object.");
  json out = json::object();
  if (auto failure = conversation(in, out)) return *failure;
  if (out["messages"].empty()) return bad("bedrock needs at least one user or assistant message.");
  if (auto failure = inference_config(in, request, out)) return *failure;
  if (auto failure = tool_config(in, out)) return *failure;
  return out.dump();
}

}  // namespace tollgate::providers
