#include "support/fake_gemini.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <string>

namespace tollgate::testing {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

const char* status_name(unsigned status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

FakeReply error(unsigned status, std::string_view message) { return fake_error(status, gemini_error_body(status, message)); }

std::string unknown_name(const std::string& name, const std::string& where) {
  return "Invalid JSON payload received. Unknown name \"" + name + "\"" + (where.empty() ? "" : " at '" + where + "'") +
         ": Cannot find field.";
}

std::string part_problem(const json& part, const std::string& at) {
  static const std::set<std::string> kMembers = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "thought"};
  if (!part.is_object()) return at + ": a part must be an object";
  int data = 0;
  for (const auto& [key, value] : part.items()) {
    if (!kMembers.count(key)) return unknown_name(key, at);
    if (key != "thought") ++data;
  }
  if (data != 1) return at + ": a part must hold exactly one of text, inlineData, fileData, functionCall, functionResponse";
  if (part.contains("text") && !part["text"].is_string()) return at + ".text: must be a string";
  if (part.contains("functionCall")) {
    const json& fc = part["functionCall"];
    if (!fc.is_object() || !fc.contains("name") || (fc.contains("args") && !fc["args"].is_object())) {
      return at + ".function_call: name required, args must be an object";
    }
  }
  if (part.contains("functionResponse")) {
    const json& fr = part["functionResponse"];
    if (!fr.is_object() || !fr.contains("name") || !fr.contains("response") || !fr["response"].is_object()) {
      return at + ".function_response: name and an object response are required";
    }
  }
  if (part.contains("inlineData")) {
    const json& d = part["inlineData"];
    if (!d.is_object() || !d.contains("mimeType") || !d.contains("data")) return at + ".inline_data: mimeType and data required";
  }
  return {};
}

// What Google refuses with a 400 that a translator is most likely to produce; empty when fine.
std::string request_problem(const json& body) {
  static const std::set<std::string> kTop = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
                                             "safetySettings", "cachedContent", "labels"};
  static const std::set<std::string> kConfig = {"temperature", "topP", "topK", "maxOutputTokens", "stopSequences",
                                                "candidateCount", "seed", "presencePenalty", "frequencyPenalty",
                                                "responseMimeType", "responseSchema", "thinkingConfig"};
  if (!body.is_object()) return "Invalid JSON payload received.";
  for (const auto& [key, value] : body.items()) {
    if (!kTop.count(key)) return unknown_name(key, "");
  }
  if (body.contains("generationConfig")) {
    if (!body["generationConfig"].is_object()) return "generation_config: must be an object";
    for (const auto& [key, value] : body["generationConfig"].items()) {
      if (!kConfig.count(key)) return unknown_name(key, "generation_config");
    }
  }
  if (!body.contains("contents") || !body["contents"].is_array() || body["contents"].empty()) {
    return "* GenerateContentRequest.contents: contents is not specified";
  }
  for (std::size_t i = 0; i < body["contents"].size(); ++i) {
    const json& c = body["contents"][i];
    const std::string at = "contents[" + std::to_string(i) + "]";
    if (!c.is_object()) return at + ": must be an object";
    const std::string role = c.value("role", "user");
    if (role != "user" && role != "model") return at + ".role: Please use a valid role: user, model.";
    if (!c.contains("parts") || !c["parts"].is_array() || c["parts"].empty()) {
      return "* GenerateContentRequest." + at + ".parts: contents.parts must not be empty.";
    }
    for (std::size_t k = 0; k < c["parts"].size(); ++k) {
      if (auto p = part_problem(c["parts"][k], at + ".parts[" + std::to_string(k) + "]"); !p.empty()) return p;
    }
  }
  if (body.contains("systemInstruction")) {
    const json& s = body["systemInstruction"];
    if (!s.is_object() || !s.contains("parts") || !s["parts"].is_array()) return "system_instruction: parts required";
  }
  if (body.contains("tools")) {
    if (!body["tools"].is_array()) return "tools: must be a list";
    for (const json& t : body["tools"]) {
      for (const json& d : t.value("functionDeclarations", json::array())) {
        if (!d.contains("name")) return "tools.function_declarations.name: required";
        if (d.contains("parameters") && d["parameters"].dump().find("additionalProperties") != std::string::npos) {
          return unknown_name("additionalProperties", "tools[0].function_declarations[0].parameters");
        }
      }
    }
  }
  return {};
}

std::optional<std::string> function_to_call(const json& body) {
  if (!body.contains("tools")) return std::nullopt;
  for (const json& part : body["contents"].back()["parts"]) {
    if (part.contains("functionResponse")) return std::nullopt;
  }
  for (const json& t : body["tools"]) {
    const json decls = t.value("functionDeclarations", json::array());
    if (!decls.empty()) return decls[0].value("name", "tool");
  }
  return std::nullopt;
}

bool asks_to_be_blocked(const json& body) {
  const json& last = body["contents"].back();
  if (last.value("role", "user") != "user") return false;
  for (const json& part : last["parts"]) {
    if (part.contains("text") && part["text"].get<std::string>().find("BLOCK_ME") != std::string::npos) return true;
  }
  return false;
}

std::string event(const ojson& data) { return "data: " + data.dump() + "\r\n\r\n"; }

}  // namespace

bool is_gemini_path(std::string_view path) {
  const std::size_t models = path.find("/models/");
  return models != std::string_view::npos && path.find(':', models) != std::string_view::npos;
}

std::string gemini_error_body(unsigned status, std::string_view message) {
  ojson err;
  err["code"] = status;
  err["message"] = message;
  err["status"] = status_name(status);
  if (status == 429) {
    err["details"] = ojson::array({{{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", "11s"}}});
  }
  return ojson{{"error", err}}.dump();
}

FakeReply plan_gemini(const FakeRequest& request, const FakeControls& c, const json& body, bool body_ok,
                      std::string_view path, std::string_view query, std::string_view required_api_key, bool bearer_ok) {
  if (request.method != "POST") return error(404, "Method not found.");
  if (!bearer_ok && !required_api_key.empty()) {
    if (request.x_goog_api_key.empty()) {
      return error(403, "Method doesn't allow unregistered callers (callers without established identity).");
    }
    if (request.x_goog_api_key != required_api_key) return error(400, "API key not valid. Please pass a valid API key.");
  }
  const std::string_view method = path.substr(path.rfind(':') + 1);
  const bool stream = method == "streamGenerateContent";
  if (!stream && method != "generateContent") return error(404, "Method not found.");
  if (stream && query.find("alt=sse") == std::string_view::npos) {
    return error(400, "fake: stream calls must ask for alt=sse (the default is a JSON array)");
  }
  if (c.status) {
    return status_reply(c, gemini_error_body(*c.status, *c.status == 429 ? "Resource has been exhausted (e.g. check quota)." : "fake error"));
  }
  if (!body_ok) return error(400, "Invalid JSON payload received.");
  if (const std::string problem = request_problem(body); !problem.empty()) return error(400, problem);

  const std::string model(path.substr(path.rfind('/') + 1, path.rfind(':') - path.rfind('/') - 1));
  const std::string id = "gemini_fake_" + std::to_string(request.seq);
  const int prompt = c.prompt_tokens.value_or(kFakeDefaultPromptTokens);
  const int output = c.completion_tokens.value_or(kFakeDefaultCompletionTokens);
  ojson usage;
  usage["promptTokenCount"] = prompt;
  usage["candidatesTokenCount"] = std::max(0, output - c.reasoning_tokens);
  if (c.reasoning_tokens > 0) usage["thoughtsTokenCount"] = c.reasoning_tokens;
  usage["totalTokenCount"] = prompt + output;
  if (c.cached_tokens > 0) usage["cachedContentTokenCount"] = c.cached_tokens;
  auto response = [&](ojson parts, const char* finish, const ojson& use) {
    ojson candidate;
    candidate["content"] = {{"parts", std::move(parts)}, {"role", "model"}};
    if (finish != nullptr) candidate["finishReason"] = finish;
    candidate["index"] = 0;
    ojson out;
    out["candidates"] = ojson::array({candidate});
    out["usageMetadata"] = use;
    out["modelVersion"] = model;
    out["responseId"] = id;
    return out;
  };

  FakeReply r;
  if (asks_to_be_blocked(body)) {
    ojson blocked;
    blocked["promptFeedback"] = {{"blockReason", "SAFETY"}};
    blocked["usageMetadata"] = {{"promptTokenCount", prompt}, {"totalTokenCount", prompt}};
    blocked["modelVersion"] = model;
    if (!stream) {
      r.body = blocked.dump();
      return r;
    }
    r.stream = true;
    r.content_type = "text/event-stream";
    r.events.push_back(event(blocked));
    return r;
  }
  const std::optional<std::string> fn = function_to_call(body);
  const ojson call_part = {{"functionCall", {{"name", fn.value_or("")}, {"args", ojson::parse(kFakeToolArguments)}}}};
  const std::string text = c.content ? *c.content : std::string(kFakeDefaultContent);
  if (!stream) {
    r.body = (fn ? response(ojson::array({call_part}), "STOP", usage) : response(ojson::array({{{"text", text}}}), "STOP", usage)).dump();
    return r;
  }
  r.stream = true;
  r.content_type = "text/event-stream";
  ojson running = {{"promptTokenCount", prompt}, {"totalTokenCount", prompt}};
  if (fn) {
    r.events.push_back(event(response(ojson::array({call_part}), "STOP", usage)));
  } else {
    const std::vector<std::string> pieces = split_even(text, c.chunks);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const bool last = i + 1 == pieces.size();
      r.events.push_back(event(response(ojson::array({{{"text", pieces[i]}}}), last ? "STOP" : nullptr, last ? usage : running)));
    }
  }
  spoil_event(r, c.malformed_at, 0, "data: {this is not json\r\n\r\n");
  cut_after(r, c.disconnect_after, 0);
  return r;
}

}  // namespace tollgate::testing
