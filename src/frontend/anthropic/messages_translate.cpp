// The Anthropic front end's translators (see messages_translate.hpp for the mapping).
#include "frontend/anthropic/messages_translate.hpp"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "tollgate/api/json_fields.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::frontend {
namespace {

// Ordered: tool schemas and arguments keep the order the client wrote.
using json = nlohmann::ordered_json;
using api::json_fields::int_field;
using api::json_fields::member;
using api::json_fields::string_field;
using api::json_fields::bad;
using api::json_fields::at;

// A text block as an OpenAI text part (cache_control kept: the Anthropic adapter honours it).
json text_part(const json& block) {
  json part = {{"type", "text"}, {"text", string_field(block, "text")}};
  if (auto cc = block.find("cache_control"); cc != block.end() && cc->is_object()) part["cache_control"] = *cc;
  return part;
}

api::ApiResult<json> image_part(const json& block, const std::string& where) {
  const json& source = member(block, "source");
  const std::string type = string_field(source, "type");
  std::string url;
  if (type == "base64") {
    const std::string media = string_field(source, "media_type");
    const std::string data = string_field(source, "data");
    if (media.empty() || data.empty()) return bad(where + ": an image source needs media_type and data.");
    url = "data:" + media + ";base64," + data;
  } else if (type == "url") {
    url = string_field(source, "url");
    if (url.empty()) return bad(where + ": an image url source needs a url.");
  } else {
    return bad(where + ": image source type '" + type + "' is not supported (base64 or url).");
  }
  return api::ApiResult<json>(boost::system::in_place_value, json{{"type", "image_url"}, {"image_url", {{"url", url}}}});
}

// A tool_result's content as the tool message's text (text blocks joined; images cannot travel).
api::ApiResult<std::string> tool_result_text(const json& content, const std::string& where) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return bad(where + ".content: expected a string or a list of blocks.");
  std::string text;
  for (const auto& block : content) {
    const std::string type = string_field(block, "type");
    if (type == "text") {
      if (!text.empty()) text += "\n";
      text += string_field(block, "text");
    } else if (type != "image") {
      return bad(where + ".content: block type '" + type + "' is not supported in a tool_result.");
    }
  }
  return text;
}

// One user turn: its tool_result blocks become tool messages (OpenAI wants them right after the
// assistant's tool_calls), the rest one user message.
std::optional<api::ApiError> user_turn(const json& content, const std::string& where, json& messages) {
  if (content.is_string()) {
    messages.push_back({{"role", "user"}, {"content", content}});
    return std::nullopt;
  }
  json parts = json::array();
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& block = content[i];
    const std::string bw = where + ".content[" + std::to_string(i) + "]";
    const std::string type = string_field(block, "type");
    if (type == "text") {
      parts.push_back(text_part(block));
    } else if (type == "image") {
      auto image = image_part(block, bw);
      if (!image) return image.error();
      parts.push_back(std::move(*image));
    } else if (type == "tool_result") {
      const std::string id = string_field(block, "tool_use_id");
      if (id.empty()) return bad(bw + ": a tool_result needs tool_use_id.");
      auto text = tool_result_text(member(block, "content"), bw);
      if (!text) return text.error();
      if (member(block, "is_error").is_boolean() && member(block, "is_error").get<bool>()) *text = "Error: " + *text;
      messages.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", std::move(*text)}});
    } else {
      return bad(bw + ": block type '" + type + "' is not supported.");
    }
  }
  if (!parts.empty()) {
    // One plain text part reads better upstream as a string.
    if (parts.size() == 1 && parts[0].size() == 2 && parts[0]["type"] == "text") {
      messages.push_back({{"role", "user"}, {"content", parts[0]["text"]}});
    } else {
      messages.push_back({{"role", "user"}, {"content", std::move(parts)}});
    }
  }
  return std::nullopt;
}

std::optional<api::ApiError> assistant_turn(const json& content, const std::string& where, json& messages) {
  if (content.is_string()) {
    messages.push_back({{"role", "assistant"}, {"content", content}});
    return std::nullopt;
  }
  std::string text;
  json calls = json::array();
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& block = content[i];
    const std::string bw = where + ".content[" + std::to_string(i) + "]";
    const std::string type = string_field(block, "type");
    if (type == "text") {
      text += string_field(block, "text");
    } else if (type == "tool_use") {
      const std::string id = string_field(block, "id");
      const std::string name = string_field(block, "name");
      if (id.empty() || name.empty()) return bad(bw + ": a tool_use needs id and name.");
      const json& input = member(block, "input");
      calls.push_back({{"id", id},
                       {"type", "function"},
                       {"function", {{"name", name}, {"arguments", input.is_null() ? "{}" : input.dump()}}}});
    } else if (type != "thinking" && type != "redacted_thinking") {
      return bad(bw + ": block type '" + type + "' is not supported.");
    }
  }
  json message = {{"role", "assistant"}, {"content", text.empty() && !calls.empty() ? json(nullptr) : json(text)}};
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  messages.push_back(std::move(message));
  return std::nullopt;
}

std::optional<api::ApiError> system_message(const json& system, json& messages) {
  if (system.is_null()) return std::nullopt;
  if (system.is_string()) {
    messages.push_back({{"role", "system"}, {"content", system}});
    return std::nullopt;
  }
  if (!system.is_array()) return bad("system: expected a string or a list of text blocks.", "system");
  json parts = json::array();
  for (const auto& block : system) {
    if (string_field(block, "type") != "text") return bad("system: only text blocks are supported.", "system");
    parts.push_back(text_part(block));
  }
  if (!parts.empty()) messages.push_back({{"role", "system"}, {"content", std::move(parts)}});
  return std::nullopt;
}

api::ApiResult<json> tools_of(const json& tools) {
  json out = json::array();
  if (!tools.is_array()) return bad("tools: expected a list.", "tools");
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    const std::string type = string_field(tool, "type");
    // Client tools have no type or "custom"; server tools (web search, bash, ...) need Anthropic.
    if (!type.empty() && type != "custom") {
      return bad("tools[" + std::to_string(i) + "]: server tool '" + type +
                     "' is only available on Anthropic deployments.",
                 "tools");
    }
    const std::string name = string_field(tool, "name");
    if (name.empty()) return bad("tools[" + std::to_string(i) + "]: a tool needs a name.", "tools");
    json function = {{"name", name}};
    if (auto d = tool.find("description"); d != tool.end() && d->is_string()) function["description"] = *d;
    const json& schema = member(tool, "input_schema");
    function["parameters"] = schema.is_object() ? schema : json{{"type", "object"}, {"properties", json::object()}};
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return api::ApiResult<json>(boost::system::in_place_value, std::move(out));
}

// Anthropic's tool_choice on `chat`; false when it says no tools may be used.
std::optional<api::ApiError> tool_choice_of(const json& choice, json& chat) {
  if (!choice.is_object()) return std::nullopt;
  const std::string type = string_field(choice, "type");
  if (type == "auto") {
    chat["tool_choice"] = "auto";
  } else if (type == "any") {
    chat["tool_choice"] = "required";
  } else if (type == "none") {
    chat["tool_choice"] = "none";
  } else if (type == "tool") {
    const std::string name = string_field(choice, "name");
    if (name.empty()) return bad("tool_choice: type tool needs a name.", "tool_choice");
    chat["tool_choice"] = {{"type", "function"}, {"function", {{"name", name}}}};
  } else {
    return bad("tool_choice: unknown type '" + type + "'.", "tool_choice");
  }
  if (auto d = choice.find("disable_parallel_tool_use"); d != choice.end() && d->is_boolean() && d->get<bool>()) {
    chat["parallel_tool_calls"] = false;
  }
  return std::nullopt;
}

std::string stop_reason_of(const std::string& finish_reason) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";
}

// OpenAI usage → Anthropic's counts (input_tokens excludes cache reads and writes).
json message_usage(const json& usage) {
  const std::int64_t prompt = int_field(usage, "prompt_tokens");
  std::int64_t read = int_field(member(usage, "prompt_tokens_details"), "cached_tokens");
  if (read == 0) read = int_field(usage, "cache_read_input_tokens");
  const std::int64_t write = int_field(usage, "cache_creation_input_tokens");
  return {{"input_tokens", std::max<std::int64_t>(0, prompt - read - write)},
          {"cache_creation_input_tokens", write},
          {"cache_read_input_tokens", read},
          {"output_tokens", int_field(usage, "completion_tokens")}};
}

std::string message_id(const std::string& chat_id) {
  if (chat_id.starts_with("msg_")) return chat_id;
  return "msg_" + (chat_id.starts_with("chatcmpl-") ? chat_id.substr(9) : chat_id);
}

json parsed_arguments(const std::string& arguments) {
  json input = api::read_ordered_json_lenient(arguments);
  return input.is_object() ? input : json::object();
}

void append_event(std::string& out, std::string_view type, const json& data) {
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += data.dump(-1, ' ', false, json::error_handler_t::replace);
  out += "\n\n";
}

std::string_view error_type_for(unsigned status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

api::ApiResult<std::string> messages_request_to_chat(std::string_view body) {
  api::JsonReadError error;
  const json req = api::read_ordered_json(body, &error);
  if (req.is_discarded()) return api::invalid_body_error(error);
  if (!req.is_object()) return bad("The request body must be a JSON object.", "body");
  const json& model = member(req, "model");
  if (!model.is_string() || model.get_ref<const std::string&>().empty()) return bad("model: Field required.", "model");
  const json& messages = member(req, "messages");
  if (!messages.is_array() || messages.empty()) return bad("messages: a non-empty list is required.");

  json chat = {{"model", model}};
  json out = json::array();
  if (auto e = system_message(member(req, "system"), out)) return *e;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string role = string_field(m, "role");
    const json& content = member(m, "content");
    if (!content.is_string() && !content.is_array()) return bad(at(i) + ".content: expected a string or a list of blocks.");
    std::optional<api::ApiError> e;
    if (role == "user") {
      e = user_turn(content, at(i), out);
    } else if (role == "assistant") {
      e = assistant_turn(content, at(i), out);
    } else {
      return bad(at(i) + ".role: expected 'user' or 'assistant', got '" + role + "'.");
    }
    if (e) return *e;
  }
  chat["messages"] = std::move(out);

  if (auto v = req.find("max_tokens"); v != req.end()) {
    if (!v->is_number_integer() || v->get<std::int64_t>() < 1) return bad("max_tokens: expected a positive integer.", "max_tokens");
    chat["max_tokens"] = *v;
  }
  for (const char* key : {"temperature", "top_p"}) {
    if (auto v = req.find(key); v != req.end() && !v->is_null()) {
      if (!v->is_number()) return bad(std::string(key) + ": expected a number.", key);
      chat[key] = *v;
    }
  }
  if (auto v = req.find("stop_sequences"); v != req.end() && v->is_array() && !v->empty()) chat["stop"] = *v;
  const bool stream = member(req, "stream").is_boolean() && member(req, "stream").get<bool>();
  if (stream) {
    chat["stream"] = true;
    chat["stream_options"] = {{"include_usage", true}};  // message_delta carries the counts
  }
  const std::string user = string_field(member(req, "metadata"), "user_id");
  if (!user.empty()) chat["user"] = user;
  if (auto v = req.find("tools"); v != req.end() && !v->is_null()) {
    auto tools = tools_of(*v);
    if (!tools) return tools.error();
    if (!tools->empty()) chat["tools"] = std::move(*tools);
  }
  if (auto e = tool_choice_of(member(req, "tool_choice"), chat)) return *e;
  // LiteLLM's request fields (fallbacks, num_retries, mock_response, ...) are the gateway's.
  for (auto it = req.begin(); it != req.end(); ++it) {
    if (api::is_gateway_only_field(it.key())) chat[it.key()] = it.value();
  }
  return chat.dump(-1, ' ', false, json::error_handler_t::replace);
}

api::ApiResult<std::string> chat_response_to_message(std::string_view body) {
  const json chat = api::read_ordered_json_lenient(body);
  const json& choices = member(chat, "choices");
  if (!choices.is_array() || choices.empty()) {
    return api::make_error(Errc::kUpstreamProtocol, "The model's answer has no choices.");
  }
  const json& message = member(choices[0], "message");
  json content = json::array();
  if (const std::string thinking = string_field(message, "reasoning_content"); !thinking.empty()) {
    content.push_back({{"type", "thinking"}, {"thinking", thinking}, {"signature", ""}});
  }
  if (const std::string text = string_field(message, "content"); !text.empty()) {
    content.push_back({{"type", "text"}, {"text", text}});
  }
  const json& calls = member(message, "tool_calls");
  if (calls.is_array()) {
    for (const auto& call : calls) {
      const json& fn = member(call, "function");
      content.push_back({{"type", "tool_use"},
                         {"id", string_field(call, "id")},
                         {"name", string_field(fn, "name")},
                         {"input", parsed_arguments(string_field(fn, "arguments"))}});
    }
  }
  json out = {{"id", message_id(string_field(chat, "id"))},
              {"type", "message"},
              {"role", "assistant"},
              {"model", string_field(chat, "model")},
              {"content", std::move(content)},
              {"stop_reason", stop_reason_of(string_field(choices[0], "finish_reason"))},
              {"stop_sequence", nullptr},
              {"usage", message_usage(member(chat, "usage"))}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

api::ApiResult<TokenCount> count_message_tokens(std::string_view body) {
  // The same translation a call would make, so what cannot be sent cannot be counted.
  auto chat = messages_request_to_chat(body);
  if (!chat) return chat.error();
  auto parsed = api::parse_request(*chat, api::Endpoint::kChatCompletions);
  if (!parsed) return parsed.error();
  return TokenCount{parsed->fields.model, static_cast<std::int64_t>(parsed->fields.prompt_bytes / 4) + 1};
}

std::string anthropic_error_json(const api::ApiError& error) {
  const json body = {{"type", "error"}, {"error", {{"type", error_type_for(error.status)}, {"message", error.message}}}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

void MessagesStreamWriter::translate(std::string_view openai_sse, std::string& out) {
  std::vector<http::SseEvent> events;
  decoder_.feed(openai_sse, events);
  for (const auto& event : events) {
    if (finished_) return;
    if (event.data == "[DONE]") {
      finish(out);
      continue;
    }
    const json chunk = api::read_ordered_json_lenient(event.data);
    if (const json& error = member(chunk, "error"); error.is_object()) {
      // The stream failed after its head went out: Anthropic's error event ends it.
      api::ApiError e;
      e.message = string_field(error, "message");
      const std::string code = string_field(error, "code");
      e.status = code.empty() ? 500u : static_cast<unsigned>(std::atoi(code.c_str()));
      append_event(out, "error", api::read_ordered_json_lenient(anthropic_error_json(e)));
      finished_ = true;
      continue;
    }
    on_chunk(chunk, out);
  }
}

void MessagesStreamWriter::open_block(const json& block, std::string& out) {
  close_block(out);
  ++block_index_;
  block_type_ = string_field(block, "type");
  append_event(out, "content_block_start",
               {{"type", "content_block_start"}, {"index", block_index_}, {"content_block", block}});
}

void MessagesStreamWriter::close_block(std::string& out) {
  if (block_type_.empty()) return;
  append_event(out, "content_block_stop", {{"type", "content_block_stop"}, {"index", block_index_}});
  block_type_.clear();
  tool_index_ = -1;
}

void MessagesStreamWriter::on_chunk(const json& chunk, std::string& out) {
  if (!started_) {
    started_ = true;
    const json usage = {{"input_tokens", 0}, {"output_tokens", 0}};
    append_event(out, "message_start",
                 {{"type", "message_start"},
                  {"message",
                   {{"id", message_id(string_field(chunk, "id"))},
                    {"type", "message"},
                    {"role", "assistant"},
                    {"model", string_field(chunk, "model")},
                    {"content", json::array()},
                    {"stop_reason", nullptr},
                    {"stop_sequence", nullptr},
                    {"usage", usage}}}});
  }
  if (const json& usage = member(chunk, "usage"); usage.is_object()) {
    const json counts = message_usage(usage);
    input_tokens_ = counts["input_tokens"].get<std::int64_t>();
    output_tokens_ = counts["output_tokens"].get<std::int64_t>();
    cache_read_ = counts["cache_read_input_tokens"].get<std::int64_t>();
    cache_write_ = counts["cache_creation_input_tokens"].get<std::int64_t>();
  }
  const json& choices = member(chunk, "choices");
  if (!choices.is_array() || choices.empty()) return;
  const json& choice = choices[0];
  const json& delta = member(choice, "delta");
  if (const std::string thinking = string_field(delta, "reasoning_content"); !thinking.empty()) {
    if (block_type_ != "thinking") open_block({{"type", "thinking"}, {"thinking", ""}}, out);
    append_event(out, "content_block_delta",
                 {{"type", "content_block_delta"},
                  {"index", block_index_},
                  {"delta", {{"type", "thinking_delta"}, {"thinking", thinking}}}});
  }
  if (const std::string text = string_field(delta, "content"); !text.empty()) {
    if (block_type_ != "text") open_block({{"type", "text"}, {"text", ""}}, out);
    append_event(out, "content_block_delta",
                 {{"type", "content_block_delta"},
                  {"index", block_index_},
                  {"delta", {{"type", "text_delta"}, {"text", text}}}});
  }
  if (const json& calls = member(delta, "tool_calls"); calls.is_array()) {
    for (const auto& call : calls) {
      const std::int64_t index = int_field(call, "index");
      const json& fn = member(call, "function");
      const std::string id = string_field(call, "id");
      // A call continues while its index stays and no new id arrives; anything else opens a block.
      const bool continues = block_type_ == "tool_use" && index == tool_index_ && id.empty();
      if (!continues) {
        open_block({{"type", "tool_use"}, {"id", id}, {"name", string_field(fn, "name")}, {"input", json::object()}},
                   out);
        tool_index_ = index;
      }
      if (const std::string args = string_field(fn, "arguments"); !args.empty()) {
        append_event(out, "content_block_delta",
                     {{"type", "content_block_delta"},
                      {"index", block_index_},
                      {"delta", {{"type", "input_json_delta"}, {"partial_json", args}}}});
      }
    }
  }
  if (const std::string reason = string_field(choice, "finish_reason"); !reason.empty()) {
    stop_reason_ = stop_reason_of(reason);
  }
}

void MessagesStreamWriter::finish(std::string& out) {
  if (!started_) on_chunk(json::object(), out);
  close_block(out);
  append_event(out, "message_delta",
               {{"type", "message_delta"},
                {"delta", {{"stop_reason", stop_reason_}, {"stop_sequence", nullptr}}},
                {"usage",
                 {{"input_tokens", input_tokens_},
                  {"cache_creation_input_tokens", cache_write_},
                  {"cache_read_input_tokens", cache_read_},
                  {"output_tokens", output_tokens_}}}});
  append_event(out, "message_stop", {{"type", "message_stop"}});
  finished_ = true;
}

}  // namespace tollgate::frontend
