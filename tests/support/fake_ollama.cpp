#include "support/fake_ollama.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

namespace tollgate::testing {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kCreatedAt = "2024-07-22T20:33:28.123648Z";
constexpr std::array<std::string_view, 8> kKnownMembers{"model", "messages", "stream", "tools",
                                                        "format", "options", "keep_alive", "think"};

std::string error_body(std::string_view message) { return json{{"error", message}}.dump(); }

FakeReply error(unsigned status, std::string_view message) { return fake_error(status, error_body(message)); }

std::string message_problem(const json& m, std::size_t i) {
  const std::string at = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) return "json: cannot unmarshal " + at + " into Go value of type api.Message";
  const std::string role = m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>() : "";
  if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
    return at + ": invalid role \"" + role + "\"";
  }
  if (m.contains("content") && !m["content"].is_string()) {
    return "json: cannot unmarshal " + std::string(m["content"].type_name()) + " into Go struct field Message.messages.content of type string";
  }
  if (m.contains("images")) {
    if (!m["images"].is_array()) return at + ".images: expected a list of base64 strings";
    for (const json& image : m["images"]) {
      if (!image.is_string() || image.get_ref<const std::string&>().starts_with("data:")) {
        return at + ".images: illegal base64 data";
      }
    }
  }
  if (m.contains("tool_calls")) {
    if (!m["tool_calls"].is_array()) return at + ".tool_calls: expected a list";
    for (const json& call : m["tool_calls"]) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object() ||
          !call["function"].contains("name") || !call["function"]["name"].is_string()) {
        return at + ".tool_calls: expected {function: {name, arguments}}";
      }
      if (call["function"].contains("arguments") && !call["function"]["arguments"].is_object()) {
        return "json: cannot unmarshal " + std::string(call["function"]["arguments"].type_name()) +
               " into Go struct field ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments";
      }
    }
  }
  return {};
}

// What Ollama (or this stricter fake) refuses with a 400; empty when fine.
std::string request_problem(const json& body) {
  if (!body.is_object()) return "json: cannot unmarshal into Go value of type api.ChatRequest";
  for (const auto& [key, value] : body.items()) {
    if (std::find(kKnownMembers.begin(), kKnownMembers.end(), key) == kKnownMembers.end()) {
      return "fake ollama: unknown member '" + key + "' (Ollama would ignore it silently)";
    }
  }
  if (!body.contains("model") || !body["model"].is_string() || body["model"].get_ref<const std::string&>().empty()) {
    return "model is required";
  }
  if (body.contains("stream") && !body["stream"].is_boolean()) return "json: cannot unmarshal stream of type bool";
  if (!body.contains("messages") || !body["messages"].is_array()) return "messages is required";
  for (std::size_t i = 0; i < body["messages"].size(); ++i) {
    if (std::string problem = message_problem(body["messages"][i], i); !problem.empty()) return problem;
  }
  if (body.contains("options")) {
    const json& o = body["options"];
    if (!o.is_object()) return "json: cannot unmarshal options into map[string]any";
    if (o.contains("num_predict") && !o["num_predict"].is_number_integer()) return "invalid option num_predict";
    if (o.contains("stop") && !o["stop"].is_array()) return "invalid option stop: expected a list of strings";
  }
  if (body.contains("format") && !(body["format"] == "json" || body["format"].is_object())) {
    return "invalid format: expected \"json\" or a JSON schema";
  }
  if (body.contains("tools") && !body["tools"].is_array()) return "json: cannot unmarshal tools into []api.Tool";
  return {};
}

std::optional<std::string> tool_to_call(const json& body) {
  if (!body.contains("tools") || body["tools"].empty()) return std::nullopt;
  const json& messages = body["messages"];
  if (!messages.empty() && messages.back().value("role", "") == "tool") return std::nullopt;
  const json& first = body["tools"][0];
  return first.contains("function") ? first["function"].value("name", "tool") : std::string("tool");
}

ojson base_line(const std::string& model) {
  ojson line;
  line["model"] = model;
  line["created_at"] = kCreatedAt;
  return line;
}

ojson message(std::string_view content, const std::optional<std::string>& tool) {
  ojson m;
  m["role"] = "assistant";
  m["content"] = content;
  if (tool) {
    ojson call;
    call["function"] = {{"name", *tool}, {"arguments", ojson::parse(kFakeToolArguments)}};
    m["tool_calls"] = ojson::array({call});
  }
  return m;
}

void add_counts(ojson& line, int prompt, int output) {
  line["done_reason"] = "stop";
  line["done"] = true;
  line["total_duration"] = 5191566416;
  line["load_duration"] = 2154458;
  line["prompt_eval_count"] = prompt;
  line["prompt_eval_duration"] = 383809000;
  line["eval_count"] = output;
  line["eval_duration"] = 4799921000;
}

}  // namespace

FakeReply plan_ollama(const FakeRequest& request, const FakeControls& c, const json& body, bool body_ok,
                      std::string_view required_api_key) {
  if (request.method != "POST") return error(405, "method not allowed");
  if (!required_api_key.empty() && request.authorization != "Bearer " + std::string(required_api_key)) {
    return error(401, "unauthorized");
  }
  const std::string model = body.is_object() ? body.value("model", "") : "";
  if (c.status) {
    return status_reply(c, error_body(*c.status == 404 ? "model \"" + model + "\" not found, try pulling it first"
                                                       : "fake error " + std::to_string(*c.status)));
  }
  if (!body_ok) return error(400, "invalid character in request body");
  if (const std::string problem = request_problem(body); !problem.empty()) return error(400, problem);

  const std::string text = c.content ? *c.content : std::string(kFakeDefaultContent);
  const std::optional<std::string> tool = tool_to_call(body);
  const int prompt = c.prompt_tokens.value_or(kFakeDefaultPromptTokens);
  const int output = c.completion_tokens.value_or(kFakeDefaultCompletionTokens);

  FakeReply r;
  if (!body.value("stream", true)) {  // Ollama streams unless told not to
    ojson answer = base_line(model);
    answer["message"] = message(tool ? "" : text, tool);
    add_counts(answer, prompt, output);
    r.body = answer.dump();
    if (c.disconnect_after) r.cut = true;
    return r;
  }
  r.stream = true;
  r.content_type = "application/x-ndjson";
  if (tool) {
    ojson line = base_line(model);
    line["message"] = message("", tool);
    line["done"] = false;
    r.events.push_back(line.dump() + "\n");
  } else {
    for (const std::string& piece : split_even(text, c.chunks)) {
      ojson line = base_line(model);
      line["message"] = message(piece, std::nullopt);
      line["done"] = false;
      r.events.push_back(line.dump() + "\n");
    }
  }
  ojson last = base_line(model);
  last["message"] = message("", std::nullopt);
  add_counts(last, prompt, output);
  r.events.push_back(last.dump() + "\n");
  spoil_event(r, c.malformed_at, 0, "{this is not json\n");
  // Ollama reports a failure after the headers as one error line, then ends the response.
  end_with_event(r, c.error_at, 0, error_body("an error was encountered while running the model: unexpected EOF") + "\n");
  cut_after(r, c.disconnect_after, 0);
  return r;
}

}  // namespace tollgate::testing
