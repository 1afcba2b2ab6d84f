// Ollama /api/chat responses and NDJSON streams → OpenAI chat.completion(.chunk).
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tollgate/api/json_fields.hpp"
#include "providers/ollama/ollama_provider.hpp"
#include "providers/openai_chunks.hpp"
#include "tollgate/api/sse.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

using json = nlohmann::ordered_json;
using api::json_fields::int_field;
using api::json_fields::member;
using api::json_fields::protocol_error;
using api::json_fields::string_field;

constexpr std::string_view kVendor = "Ollama";

// The final object (done: true) carries the counts; earlier stream lines carry none.
Usage usage_of(const json& in) {
  Usage u;
  u.present = true;
  u.prompt_tokens = int_field(in, "prompt_eval_count");
  u.completion_tokens = int_field(in, "eval_count");
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  return u;
}

// Ollama's tool calls ({function: {name, arguments: <object>}}) in OpenAI's shape, numbered from
// `next` (ids call_<n>: Ollama gives none).
json openai_tool_calls(const json& calls, std::int64_t& next, bool with_index) {
  json out = json::array();
  if (!calls.is_array()) return out;
  for (const json& call : calls) {
    const json& fn = member(call, "function");
    const json& arguments = member(fn, "arguments");
    json c;
    if (with_index) c["index"] = next;
    c["id"] = "call_" + std::to_string(next++);
    c["type"] = "function";
    c["function"] = {{"name", string_field(fn, "name")},
                     {"arguments", arguments.is_string() ? arguments.get<std::string>()
                                   : arguments.is_null() ? std::string("{}")
                                                         : arguments.dump()}};
    out.push_back(std::move(c));
  }
  return out;
}

const char* finish_reason(const json& in, bool had_tool_calls) {
  if (had_tool_calls) return "tool_calls";
  return string_field(in, "done_reason") == "length" ? "length" : "stop";
}

class OllamaStreamTranslator final : public StreamTranslator {
 public:
  OllamaStreamTranslator(bool client_wants_usage, Provider::CostFn cost, OllamaStamp stamp)
      : client_wants_usage_(client_wants_usage), cost_(std::move(cost)), stamp_(std::move(stamp)) {}

  std::optional<api::ApiError> on_event(const http::SseEvent& event, std::string& out) override {
    if (finished_) return std::nullopt;  // nothing follows the done line
    const json line = api::read_ordered_json_lenient(event.data);
    if (!line.is_object()) return protocol_error(kVendor, "a stream line that is not a JSON object");
    // A failure after the headers went out (model crash, out of memory) arrives as {"error": "..."}.
    if (const json& error = member(line, "error"); !error.is_null()) return ollama_error(500, event.data);
    if (model_.empty()) model_ = string_field(line, "model");
    const json& message = member(line, "message");
    json delta = json::object();
    if (!sent_role_) {
      delta["role"] = "assistant";
      sent_role_ = true;
    }
    if (const std::string text = string_field(message, "content"); !text.empty() || delta.contains("role")) {
      delta["content"] = text;
    }
    if (const std::string thinking = string_field(message, "thinking"); !thinking.empty()) {
      delta["reasoning_content"] = thinking;
    }
    if (const json& calls = member(message, "tool_calls"); calls.is_array() && !calls.empty()) {
      delta["tool_calls"] = openai_tool_calls(calls, next_tool_, true);
    }
    if (!delta.empty()) emit(out, std::move(delta));
    const json& done = member(line, "done");
    if (done.is_boolean() && done.get<bool>()) {
      finished_ = true;
      usage_ = usage_of(line);
      emit(out, json::object(), finish_reason(line, next_tool_ > 0));
      if (client_wants_usage_) emit_usage(out);
      out.append(api::kSseDone);
    }
    return std::nullopt;
  }

  bool finished() const override { return finished_; }
  const Usage& usage() const override { return usage_; }

 private:

  void emit(std::string& out, json delta, json finish = nullptr) const {
    append_delta_chunk(out, ChunkStamp{stamp_.id, stamp_.created, model_}, std::move(delta), std::move(finish));
  }

  void emit_usage(std::string& out) const {
    append_usage_chunk(out, ChunkStamp{stamp_.id, stamp_.created, model_}, openai_usage(usage_, UsageExtras::kNone), cost_, usage_);
  }

  bool client_wants_usage_;
  Provider::CostFn cost_;
  OllamaStamp stamp_;
  std::string model_;
  Usage usage_;
  std::int64_t next_tool_ = 0;
  bool sent_role_ = false;
  bool finished_ = false;
};

}  // namespace

api::ApiResult<std::string> ollama_response_to_openai(std::string_view body, const OllamaStamp& stamp, Usage& usage) {
  const json in = api::read_ordered_json_lenient(body);
  if (!in.is_object()) return protocol_error(kVendor, "a response that is not a JSON object");
  const json& message = member(in, "message");
  if (!message.is_object()) return protocol_error(kVendor, "a response without a message");
  usage = usage_of(in);
  std::int64_t next_tool = 0;
  json calls = openai_tool_calls(member(message, "tool_calls"), next_tool, false);
  const std::string text = string_field(message, "content");
  json out_message;
  out_message["role"] = "assistant";
  out_message["content"] = text.empty() && !calls.empty() ? json(nullptr) : json(text);
  if (!calls.empty()) out_message["tool_calls"] = std::move(calls);
  if (const std::string thinking = string_field(message, "thinking"); !thinking.empty()) {
    out_message["reasoning_content"] = thinking;
  }
  json choice;
  choice["index"] = 0;
  choice["message"] = std::move(out_message);
  choice["finish_reason"] = finish_reason(in, next_tool > 0);
  json out;
  out["id"] = stamp.id;
  out["object"] = "chat.completion";
  out["created"] = stamp.created;
  out["model"] = string_field(in, "model");
  out["choices"] = json::array();
  out["choices"].push_back(std::move(choice));
  out["usage"] = openai_usage(usage, UsageExtras::kNone);
  return out.dump();
}

std::unique_ptr<StreamTranslator> make_ollama_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                OllamaStamp stamp) {
  return std::make_unique<OllamaStreamTranslator>(client_wants_usage, std::move(cost), std::move(stamp));
}

}  // namespace tollgate::providers
