#include "support/fake_anthropic.hpp"

#include <algorithm>
#include <optional>
#include <string>

namespace tollgate::testing {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

const char* error_type(unsigned status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

FakeReply error(unsigned status, std::string_view message) { return fake_error(status, anthropic_error_body(status, message)); }

// What Anthropic refuses with a 400 that a translator is most likely to produce; empty when fine.
std::string request_problem(const json& body) {
  if (!body.is_object()) return "Request body must be a JSON object.";
  if (!body.contains("model") || !body["model"].is_string()) return "model: Field required";
  if (!body.contains("max_tokens") || !body["max_tokens"].is_number_integer()) return "max_tokens: Field required";
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    return "messages: at least one message is required";
  }
  std::string previous;
  for (std::size_t i = 0; i < body["messages"].size(); ++i) {
    const json& m = body["messages"][i];
    const std::string at = "messages." + std::to_string(i);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) return at + ".role: Field required";
    const std::string role = m["role"];
    if (role != "user" && role != "assistant") {
      return at + ".role: Input should be 'user' or 'assistant'";  // system belongs at the top level
    }
    if (i == 0 && role != "user") return "messages: first message must use the \"user\" role";
    if (role == previous) return "messages: roles must alternate between \"user\" and \"assistant\"";
    previous = role;
    if (!m.contains("content")) return at + ".content: Field required";
    if (m["content"].is_array()) {
      for (const json& block : m["content"]) {
        const std::string type = block.value("type", "");
        if (type != "text" && type != "image" && type != "tool_use" && type != "tool_result" && type != "thinking" &&
            type != "document") {
          return at + ".content: unknown block type '" + type + "'";
        }
      }
    } else if (!m["content"].is_string()) {
      return at + ".content: Input should be a valid string or list";
    }
  }
  if (body.contains("system") && !body["system"].is_string() && !body["system"].is_array()) {
    return "system: Input should be a valid string or list";
  }
  return {};
}

// The request offers tools and is not answering a tool call: call the first tool.
std::optional<std::string> tool_to_call(const json& body) {
  if (!body.contains("tools") || !body["tools"].is_array() || body["tools"].empty()) return std::nullopt;
  const json& last = body["messages"].back();
  if (last["content"].is_array()) {
    for (const json& block : last["content"]) {
      if (block.value("type", "") == "tool_result") return std::nullopt;
    }
  }
  return body["tools"][0].value("name", "tool");
}

std::string sse(std::string_view event, const ojson& data) {
  return "event: " + std::string(event) + "\ndata: " + data.dump() + "\n\n";
}

}  // namespace

std::string anthropic_error_body(unsigned status, std::string_view message) {
  ojson err;
  err["type"] = error_type(status);
  err["message"] = message;
  ojson body;
  body["type"] = "error";
  body["error"] = std::move(err);
  return body.dump();
}

FakeReply plan_anthropic(const FakeRequest& request, const FakeControls& c, const json& body, bool body_ok,
                         std::string_view required_api_key) {
  if (request.method != "POST") return error(405, "Method not allowed.");
  if (!required_api_key.empty() && request.x_api_key != required_api_key) {
    return error(401, "invalid x-api-key");
  }
  if (request.anthropic_version.empty()) return error(400, "anthropic-version: header is required");
  if (c.status) return status_reply(c, anthropic_error_body(*c.status, *c.status == 529 ? "Overloaded" : "fake error"));
  if (!body_ok) return error(400, "There was an error parsing the body.");
  if (const std::string problem = request_problem(body); !problem.empty()) return error(400, problem);

  const std::string id = "msg_fake_" + std::to_string(request.seq);
  const std::string model = body["model"];
  const std::string text = c.content ? *c.content : std::string(kFakeDefaultContent);
  const std::optional<std::string> tool = tool_to_call(body);
  const int prompt = c.prompt_tokens.value_or(kFakeDefaultPromptTokens);
  const int output = c.completion_tokens.value_or(kFakeDefaultCompletionTokens);
  ojson usage;
  usage["input_tokens"] = std::max(0, prompt - c.cached_tokens - c.cache_creation_tokens);
  usage["cache_creation_input_tokens"] = c.cache_creation_tokens;
  usage["cache_read_input_tokens"] = c.cached_tokens;
  usage["output_tokens"] = output;
  const char* stop_reason = tool ? "tool_use" : "end_turn";

  FakeReply r;
  if (!body.value("stream", false)) {
    ojson block;
    if (tool) {
      block["type"] = "tool_use";
      block["id"] = "toolu_fake_" + std::to_string(request.seq);
      block["name"] = *tool;
      block["input"] = ojson::parse(kFakeToolArguments);
    } else {
      block["type"] = "text";
      block["text"] = text;
    }
    ojson message;
    message["id"] = id;
    message["type"] = "message";
    message["role"] = "assistant";
    message["model"] = model;
    message["content"] = ojson::array({block});
    message["stop_reason"] = stop_reason;
    message["stop_sequence"] = nullptr;
    message["usage"] = usage;
    r.body = message.dump();
    return r;
  }

  r.stream = true;
  r.content_type = "text/event-stream";
  ojson start_usage = usage;
  start_usage["output_tokens"] = 1;  // Anthropic reports the running output count here
  ojson message;
  message["id"] = id;
  message["type"] = "message";
  message["role"] = "assistant";
  message["model"] = model;
  message["content"] = ojson::array();
  message["stop_reason"] = nullptr;
  message["stop_sequence"] = nullptr;
  message["usage"] = start_usage;
  r.events.push_back(sse("message_start", {{"type", "message_start"}, {"message", message}}));
  ojson block_start;
  block_start["type"] = "content_block_start";
  block_start["index"] = 0;
  if (tool) {
    block_start["content_block"] = {{"type", "tool_use"}, {"id", "toolu_fake_" + std::to_string(request.seq)},
                                    {"name", *tool}, {"input", ojson::object()}};
  } else {
    block_start["content_block"] = {{"type", "text"}, {"text", ""}};
  }
  r.events.push_back(sse("content_block_start", block_start));
  r.events.push_back(sse("ping", {{"type", "ping"}}));
  // The text (or the tool's input JSON) in `chunks` pieces.
  for (const std::string& part : split_even(tool ? kFakeToolArguments : std::string_view(text), c.chunks)) {
    ojson delta = tool ? ojson{{"type", "input_json_delta"}, {"partial_json", part}} : ojson{{"type", "text_delta"}, {"text", part}};
    r.events.push_back(sse("content_block_delta", {{"type", "content_block_delta"}, {"index", 0}, {"delta", delta}}));
  }
  r.events.push_back(sse("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}));
  r.events.push_back(sse("message_delta", {{"type", "message_delta"},
                                           {"delta", {{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
                                           {"usage", {{"output_tokens", output}}}}));
  r.events.push_back(sse("message_stop", {{"type", "message_stop"}}));
  cut_after(r, c.disconnect_after, 3);  // counted after message_start, content_block_start and ping
  return r;
}

}  // namespace tollgate::testing
