// OpenAI chat request → Ollama /api/chat request (see ollama_provider.hpp for the mapping).
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tollgate/api/json_fields.hpp"
#include "providers/ollama/ollama_provider.hpp"
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

// Ollama takes a message's content as one string and its images as a list of bare base64 strings.
struct Content {
  std::string text;
  json images = json::array();
};

std::optional<api::ApiError> add_image(const json& part, const std::string& where, Content& out) {
  const json& image = member(part, "image_url");
  std::string url = image.is_string() ? image.get<std::string>() : string_field(image, "url");
  if (url.starts_with("data:")) {
    const std::size_t marker = url.find(";base64,");
    if (marker == std::string::npos) return bad(where + ": image data URLs must be base64-encoded.");
    out.images.push_back(url.substr(marker + 8));
    return std::nullopt;
  }
  if (url.starts_with("http://") || url.starts_with("https://")) {
    // Ollama has no way to fetch an image itself; fetching it here would make the gateway an
    // open proxy for arbitrary URLs.
    return bad(where + ": ollama takes images only as base64 data: URLs, not http(s) URLs.");
  }
  return bad(where + ": image_url must be a base64 data: URL.");
}

api::ApiResult<Content> content_of(const json& content, const std::string& where) {
  Content out;
  auto failure = api::json_fields::walk_content(
      content, where, "by ollama",
      [&](const std::string& text, const json*) -> std::optional<api::ApiError> {
        out.text += text;
        return std::nullopt;
      },
      [&](const json& part) { return add_image(part, where, out); });
  if (failure) return *failure;
  return out;
}

// Assistant tool calls with their arguments as objects, as Ollama wants them; records each call's
// name by id so a later tool message can say which tool answered.
api::ApiResult<json> tool_calls(const json& calls, const std::string& where, std::map<std::string, std::string>& names) {
  if (!calls.is_array()) return bad(where + ".tool_calls must be an array.");
  json out = json::array();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string here = where + ".tool_calls[" + std::to_string(i) + "]";
    const json& fn = member(calls[i], "function");
    if (!fn.is_object()) return bad(here + " must be a function call.");
    json arguments = api::json_fields::arguments_object(member(fn, "arguments"));
    if (!arguments.is_object()) {
      return bad(here + ".function.arguments is not a JSON object; ollama needs the arguments as one.");
    }
    const std::string name = string_field(fn, "name");
    if (const std::string id = string_field(calls[i], "id"); !id.empty()) names[id] = name;
    json call;
    call["function"] = {{"name", name}, {"arguments", std::move(arguments)}};
    out.push_back(std::move(call));
  }
  return ok(std::move(out));
}

api::ApiResult<json> messages_of(const json& in) {
  const json& messages = member(in, "messages");
  if (!messages.is_array()) return bad("'messages' must be an array.");
  json out = json::array();
  std::map<std::string, std::string> tool_names;  // tool_call id → function name, latest wins
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = at(i);
    std::string role = string_field(m, "role");
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      return bad(where + ".role '" + role + "' is not supported by ollama.");
    }
    auto content = content_of(member(m, "content"), where);
    if (!content) return content.error();
    if (!content->images.empty() && role != "user") return bad(where + ": only user messages may carry images.");
    json message;
    message["role"] = role;
    message["content"] = std::move(content->text);
    if (!content->images.empty()) message["images"] = std::move(content->images);
    if (const json& calls_in = member(m, "tool_calls"); role == "assistant" && !calls_in.is_null()) {
      auto calls = tool_calls(calls_in, where, tool_names);
      if (!calls) return calls.error();
      if (!calls->empty()) message["tool_calls"] = std::move(*calls);
    }
    if (role == "tool") {
      auto name = tool_names.find(string_field(m, "tool_call_id"));
      if (name != tool_names.end() && !name->second.empty()) message["tool_name"] = name->second;
    }
    out.push_back(std::move(message));
  }
  return ok(std::move(out));
}

std::optional<api::ApiError> copy_number(const json& in, const char* from, const char* to, json& options) {
  const json& v = member(in, from);
  if (v.is_null()) return std::nullopt;
  if (!v.is_number()) return bad(std::string("'") + from + "' must be a number.", from);
  options[to] = v;
  return std::nullopt;
}

std::optional<api::ApiError> sampling_options(const json& in, std::optional<std::int64_t> max_tokens, json& out) {
  json options = json::object();
  for (const char* key : {"temperature", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty"}) {
    if (auto failure = copy_number(in, key, key, options)) return failure;
  }
  if (max_tokens) options["num_predict"] = *max_tokens;
  const json& stop = member(in, "stop");
  if (stop.is_string()) {
    options["stop"] = json::array({stop});
  } else if (stop.is_array()) {
    for (const json& s : stop) {
      if (!s.is_string()) return bad("'stop' must be a string or an array of strings.", "stop");
    }
    options["stop"] = stop;
  } else if (!stop.is_null()) {
    return bad("'stop' must be a string or an array of strings.", "stop");
  }
  if (!options.empty()) out["options"] = std::move(options);
  return std::nullopt;
}

std::optional<api::ApiError> response_format(const json& in, json& out) {
  const json& rf = member(in, "response_format");
  if (rf.is_null()) return std::nullopt;
  const std::string type = string_field(rf, "type");
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    out["format"] = "json";
    return std::nullopt;
  }
  if (type == "json_schema") {
    const json& schema = member(member(rf, "json_schema"), "schema");
    if (!schema.is_object()) return bad("'response_format.json_schema.schema' must be an object.", "response_format");
    out["format"] = schema;
    return std::nullopt;
  }
  return bad("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\".", "response_format");
}

std::optional<api::ApiError> tools(const json& in, json& out) {
  const json& list = member(in, "tools");
  if (list.is_null()) return std::nullopt;
  if (!list.is_array()) return bad("'tools' must be an array.", "tools");
  for (const json& tool : list) {
    if (string_field(tool, "type") != "function" || !member(tool, "function").is_object()) {
      return bad("Only function tools are supported by ollama.", "tools");
    }
  }
  // Ollama reads OpenAI's tool shape ({type: function, function: {name, description, parameters}}).
  if (!list.empty()) out["tools"] = list;
  return std::nullopt;
}

}  // namespace

api::ApiResult<std::string> ollama_request_body(const api::ParsedRequest& request, std::string_view model) {
  const json in = api::read_ordered_json_lenient(request.body);
  if (!in.is_object()) return api::make_error(Errc::kInvalidJson, "Request body must be a JSON object.");
  auto messages = messages_of(in);
  if (!messages) return messages.error();
  json out;
  out["model"] = model;
  out["messages"] = std::move(*messages);
  // Ollama streams unless told not to: say which, every time.
  out["stream"] = request.fields.stream;
  if (auto failure = tools(in, out)) return *failure;
  if (auto failure = response_format(in, out)) return *failure;
  if (auto failure = sampling_options(in, request.fields.max_tokens, out)) return *failure;
  const json& keep_alive = member(in, "keep_alive");
  if (keep_alive.is_string() || keep_alive.is_number()) out["keep_alive"] = keep_alive;
  return out.dump();
}

}  // namespace tollgate::providers
