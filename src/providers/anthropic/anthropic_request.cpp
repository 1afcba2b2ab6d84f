// OpenAI chat request → Anthropic Messages request (see anthropic_provider.hpp for the mapping).
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/anthropic/anthropic_provider.hpp"
#include "tollgate/api/json_fields.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

// Ordered throughout: tool arguments and schemas keep the order the client or vendor wrote.
using json = nlohmann::ordered_json;
using nlohmann::ordered_json;
using api::json_fields::member;
using api::json_fields::string_field;
using api::json_fields::bad;
using api::json_fields::ok;
using api::json_fields::at;

constexpr std::int64_t kDefaultMaxTokens = 4096;  // Anthropic requires max_tokens; LiteLLM's default
constexpr std::string_view kJsonToolName = kAnthropicJsonTool;


ordered_json text_block(const json& part) {
  ordered_json block = {{"type", "text"}, {"text", string_field(part, "text")}};
  if (auto cc = part.find("cache_control"); cc != part.end() && cc->is_object()) block["cache_control"] = *cc;
  return block;
}

// `data:<media type>;base64,<data>` becomes a base64 source; http(s) URLs a url source.
api::ApiResult<ordered_json> image_block(const json& part, const std::string& where) {
  const json* image = part.contains("image_url") ? &part["image_url"] : nullptr;
  std::string url;
  if (image && image->is_string()) url = image->get<std::string>();
  if (image && image->is_object() && image->contains("url") && (*image)["url"].is_string()) url = (*image)["url"];
  if (url.starts_with("data:")) {
    const std::size_t marker = url.find(";base64,");
    if (marker == std::string::npos) return bad(where + ": image data URLs must be base64-encoded.");
    return ok(ordered_json{{"type", "image"},
                        {"source", {{"type", "base64"}, {"media_type", url.substr(5, marker - 5)},
                                    {"data", url.substr(marker + 8)}}}});
  }
  if (url.starts_with("https://") || url.starts_with("http://")) {
    return ok(ordered_json{{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}});
  }
  return bad(where + ": image_url must be a data: URL or an http(s) URL.");
}

// A message's `content` as Anthropic blocks. Empty text is skipped: Anthropic rejects empty blocks.
api::ApiResult<ordered_json> content_blocks(const json& content, const std::string& where) {
  ordered_json blocks = ordered_json::array();
  auto failure = api::json_fields::walk_content(
      content, where, "by anthropic",
      [&](const std::string& text, const json* part) -> std::optional<api::ApiError> {
        // A text part keeps its cache_control.
        if (!text.empty()) blocks.push_back(part ? text_block(*part) : ordered_json{{"type", "text"}, {"text", text}});
        return std::nullopt;
      },
      [&](const json& part) -> std::optional<api::ApiError> {
        auto image = image_block(part, where);
        if (!image) return image.error();
        blocks.push_back(std::move(*image));
        return std::nullopt;
      });
  if (failure) return *failure;
  return ok(std::move(blocks));
}

api::ApiResult<ordered_json> tool_use_blocks(const json& calls, const std::string& where) {
  ordered_json blocks = ordered_json::array();
  if (!calls.is_array()) return bad(where + ".tool_calls must be an array.");
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const json& call = calls[i];
    const std::string here = where + ".tool_calls[" + std::to_string(i) + "]";
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
      return bad(here + " must be a function call.");
    }
    const json& fn = call["function"];
    // Anthropic takes the arguments as a JSON object, so they must parse; "" means none.
    json input = api::json_fields::arguments_object(member(fn, "arguments"));
    if (!input.is_object()) {
      return bad(here + ".function.arguments is not a JSON object; anthropic needs the tool input as one.");
    }
    blocks.push_back({{"type", "tool_use"}, {"id", string_field(call, "id")},
                      {"name", string_field(fn, "name")}, {"input", std::move(input)}});
  }
  return ok(std::move(blocks));
}

api::ApiResult<ordered_json> tool_result_block(const json& message, const std::string& where) {
  ordered_json block = {{"type", "tool_result"}, {"tool_use_id", string_field(message, "tool_call_id")}};
  const json& content = member(message, "content");
  if (content.is_string()) {
    block["content"] = content;
  } else if (!content.is_null()) {
    auto inner = content_blocks(content, where);
    if (!inner) return inner.error();
    block["content"] = std::move(*inner);
  }
  return ok(std::move(block));
}

// Anthropic wants user and assistant turns to alternate: a turn of the same role as the last one
// joins it.
void append_turn(ordered_json& messages, std::string_view role, ordered_json blocks) {
  if (blocks.empty()) return;
  if (!messages.empty() && messages.back()["role"] == std::string(role)) {
    for (auto& b : blocks) messages.back()["content"].push_back(std::move(b));
    return;
  }
  messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

// A single plain text block reads better (and is as valid) as a string.
void simplify(ordered_json& messages) {
  for (auto& m : messages) {
    ordered_json& c = m["content"];
    if (c.size() == 1 && c[0].size() == 2 && c[0]["type"] == "text") c = ordered_json(c[0]["text"]);
  }
}

struct Conversation {
  ordered_json system = ordered_json::array();  // text blocks
  ordered_json messages = ordered_json::array();
};

api::ApiResult<Conversation> conversation(const json& in) {
  Conversation out;
  const json& messages = member(in, "messages");
  if (!messages.is_array()) return bad("'messages' must be an array.");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = at(i);
    const std::string role = m.is_object() ? string_field(m, "role") : std::string();
    const json& content = member(m, "content");
    if (role == "system" || role == "developer") {
      auto blocks = content_blocks(content, where);
      if (!blocks) return blocks.error();
      for (auto& b : *blocks) {
        if (b["type"] != "text") return bad(where + ": system messages may only hold text.");
        out.system.push_back(std::move(b));
      }
    } else if (role == "user") {
      auto blocks = content_blocks(content, where);
      if (!blocks) return blocks.error();
      append_turn(out.messages, "user", std::move(*blocks));
    } else if (role == "assistant") {
      auto blocks = content_blocks(content, where);
      if (!blocks) return blocks.error();
      if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
        auto calls = tool_use_blocks(m["tool_calls"], where);
        if (!calls) return calls.error();
        for (auto& c : *calls) blocks->push_back(std::move(c));
      }
      append_turn(out.messages, "assistant", std::move(*blocks));
    } else if (role == "tool") {
      auto result = tool_result_block(m, where);
      if (!result) return result.error();
      append_turn(out.messages, "user", ordered_json::array({std::move(*result)}));
    } else {
      return bad(where + ".role '" + role + "' is not supported by anthropic.");
    }
  }
  simplify(out.messages);
  return out;
}

// The system prompt as one string, unless a part asks for prompt caching (then the blocks).
ordered_json system_value(const ordered_json& blocks) {
  std::string joined;
  for (const auto& b : blocks) {
    if (b.contains("cache_control")) return blocks;
    if (!joined.empty()) joined.append("\n\n");
    joined.append(b["text"].get<std::string>());
  }
  return joined;
}

api::ApiResult<ordered_json> tools(const json& list) {
  if (!list.is_array()) return bad("'tools' must be an array.", "tools");
  ordered_json out = ordered_json::array();
  for (const json& tool : list) {
    if (!tool.is_object() || string_field(tool, "type") != "function" || !tool.contains("function") ||
        !tool["function"].is_object()) {
      return bad("Only function tools are supported by anthropic.", "tools");
    }
    const json& fn = tool["function"];
    ordered_json t = {{"name", string_field(fn, "name")}};
    if (fn.contains("description") && fn["description"].is_string()) t["description"] = fn["description"];
    t["input_schema"] = fn.contains("parameters") && fn["parameters"].is_object()
                            ? ordered_json(fn["parameters"])
                            : ordered_json{{"type", "object"}, {"properties", ordered_json::object()}};
    if (fn.contains("cache_control") && fn["cache_control"].is_object()) t["cache_control"] = fn["cache_control"];
    out.push_back(std::move(t));
  }
  return ok(std::move(out));
}

api::ApiResult<ordered_json> tool_choice(const json& choice) {
  if (choice.is_string()) {
    const std::string& s = choice.get_ref<const std::string&>();
    if (s == "auto") return ok(ordered_json{{"type", "auto"}});
    if (s == "required") return ok(ordered_json{{"type", "any"}});
    if (s == "none") return ok(ordered_json{{"type", "none"}});
  } else if (choice.is_object() && choice.contains("function") && choice["function"].is_object() &&
             choice["function"].contains("name") && choice["function"]["name"].is_string()) {
    return ok(ordered_json{{"type", "tool"}, {"name", choice["function"]["name"]}});
  }
  return bad("'tool_choice' must be \"auto\", \"required\", \"none\" or a function.", "tool_choice");
}

// OpenAI's reasoning_effort as an extended-thinking budget (LiteLLM's budgets). Anthropic wants
// max_tokens above the budget: a default max_tokens is raised to budget + the usual default, a
// client's that is not above it is a 400.
std::optional<api::ApiError> thinking_for_effort(const std::string& effort, bool client_max_tokens, ordered_json& out) {
  std::int64_t budget = 0;
  if (effort == "minimal" || effort == "low") {
    budget = 1024;
  } else if (effort == "medium") {
    budget = 2048;
  } else if (effort == "high") {
    budget = 4096;
  } else if (effort == "none") {
    return std::nullopt;
  } else {
    return bad("'reasoning_effort' must be none, minimal, low, medium or high.", "reasoning_effort");
  }
  const std::int64_t max_tokens = out["max_tokens"].get<std::int64_t>();
  if (max_tokens <= budget) {
    if (client_max_tokens) {
      return bad("max_tokens must be greater than the thinking budget of reasoning_effort=" + effort + " (" +
                     std::to_string(budget) + " tokens) for anthropic.",
                 "max_tokens");
    }
    out["max_tokens"] = budget + kDefaultMaxTokens;
  }
  out["thinking"] = {{"type", "enabled"}, {"budget_tokens", budget}};
  return std::nullopt;
}

// response_format json_schema / json_object as the forced tool Anthropic answers through; null
// for "text" (nothing to do).
api::ApiResult<ordered_json> response_format_tool(const json& format) {
  const std::string type = string_field(format, "type");
  if (type == "text") return ok(nullptr);
  ordered_json schema = {{"type", "object"}};
  if (type == "json_schema") {
    const json& spec = member(format, "json_schema");
    const json& given = member(spec, "schema");
    if (!given.is_object()) return bad("response_format.json_schema.schema must be an object.", "response_format");
    schema = given;
  } else if (type != "json_object") {
    return bad("response_format.type must be text, json_object or json_schema.", "response_format");
  }
  return ok(ordered_json{{"name", kJsonToolName},
                         {"description", "Respond with a JSON object in this tool's input."},
                         {"input_schema", std::move(schema)}});
}

// Copies the sampling and tool parameters Anthropic understands; an error for a malformed one.
std::optional<api::ApiError> parameters(const json& in, ordered_json& out) {
  for (const char* key : {"temperature", "top_p", "top_k"}) {
    if (auto it = in.find(key); it != in.end() && it->is_number()) out[key] = *it;
  }
  if (auto stop = in.find("stop"); stop != in.end() && !stop->is_null()) {
    if (stop->is_string()) {
      out["stop_sequences"] = ordered_json::array({*stop});
    } else if (stop->is_array()) {
      out["stop_sequences"] = *stop;
    } else {
      return bad("'stop' must be a string or an array of strings.", "stop");
    }
  }
  if (auto stream = in.find("stream"); stream != in.end() && stream->is_boolean() && stream->get<bool>()) {
    out["stream"] = true;
  }
  if (auto user = in.find("user"); user != in.end() && user->is_string() && !user->get_ref<const std::string&>().empty()) {
    out["metadata"] = {{"user_id", *user}};
  }
  if (auto thinking = in.find("thinking"); thinking != in.end() && thinking->is_object()) {
    out["thinking"] = *thinking;
  } else if (auto effort = in.find("reasoning_effort"); effort != in.end() && effort->is_string()) {
    if (auto failure = thinking_for_effort(effort->get<std::string>(), in.contains("max_tokens") || in.contains("max_completion_tokens"), out)) {
      return failure;
    }
  }
  const auto list = in.find("tools");
  const bool has_tools = list != in.end() && !list->is_null();
  if (has_tools) {
    auto t = tools(*list);
    if (!t) return t.error();
    out["tools"] = std::move(*t);
  }
  if (auto format = in.find("response_format"); format != in.end() && format->is_object()) {
    auto json_tool = response_format_tool(*format);
    if (!json_tool) return json_tool.error();
    if (!json_tool->is_null()) {
      // Anthropic has no JSON mode: a forced tool whose input is the answer (as LiteLLM does);
      // the response translation turns its input back into the message content.
      if (has_tools) return bad("'response_format' together with 'tools' is not supported by anthropic.", "response_format");
      if (out.contains("thinking")) {
        return bad("'response_format' together with extended thinking is not supported by anthropic.", "response_format");
      }
      out["tools"] = ordered_json::array({std::move(*json_tool)});
      out["tool_choice"] = {{"type", "tool"}, {"name", kJsonToolName}};
      return std::nullopt;
    }
  }
  std::optional<ordered_json> choice;
  if (auto c = in.find("tool_choice"); has_tools && c != in.end() && !c->is_null()) {
    auto mapped = tool_choice(*c);
    if (!mapped) return mapped.error();
    choice = std::move(*mapped);
  }
  if (auto p = in.find("parallel_tool_calls"); has_tools && p != in.end() && p->is_boolean() && !p->get<bool>()) {
    if (!choice) choice = ordered_json{{"type", "auto"}};
    if ((*choice)["type"] != "none") (*choice)["disable_parallel_tool_use"] = true;
  }
  if (choice) out["tool_choice"] = std::move(*choice);
  return std::nullopt;
}

}  // namespace

api::ApiResult<std::string> anthropic_request_body(const api::ParsedRequest& request, std::string_view model) {
  const json in = api::read_ordered_json_lenient(request.body);
  if (!in.is_object()) return api::make_error(Errc::kInvalidJson, "Request body must be a JSON object.");
  auto conv = conversation(in);
  if (!conv) return conv.error();
  ordered_json out;
  out["model"] = model;
  if (!conv->system.empty()) out["system"] = system_value(conv->system);
  out["messages"] = std::move(conv->messages);
  out["max_tokens"] = request.fields.max_tokens.value_or(kDefaultMaxTokens);
  if (auto failure = parameters(in, out)) return *failure;
  return out.dump();
}

}  // namespace tollgate::providers
