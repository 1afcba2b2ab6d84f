// Anthropic Messages responses and SSE streams → OpenAI chat.completion(.chunk).
#include <string>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/anthropic/anthropic_provider.hpp"
#include "tollgate/api/json_fields.hpp"
#include "providers/openai_chunks.hpp"
#include "tollgate/api/sse.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

// Ordered throughout: tool arguments and schemas keep the order the client or vendor wrote.
using json = nlohmann::ordered_json;
using nlohmann::ordered_json;
using api::json_fields::int_field;
using api::json_fields::member;
using api::json_fields::protocol_error;
using api::json_fields::string_field;

constexpr std::string_view kVendor = "Anthropic";

ordered_json finish_reason(const json& stop_reason) {
  if (!stop_reason.is_string()) return nullptr;
  const std::string& s = stop_reason.get_ref<const std::string&>();
  if (s == "max_tokens") return "length";
  if (s == "tool_use") return "tool_calls";
  if (s == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn and reasons added later
}

// Anthropic's token counts as they arrive; input_tokens excludes cache reads and writes.
struct AnthropicCounts {
  std::int64_t input = 0;
  std::int64_t cache_read = 0;
  std::int64_t cache_write = 0;
  std::int64_t output = 0;

  // Members present in `u` replace the counts (message_delta's counts are cumulative).
  void update(const json& u) {
    if (!u.is_object()) return;
    auto take = [&u](const char* key, std::int64_t& into) {
      if (auto it = u.find(key); it != u.end() && it->is_number_integer()) into = it->get<std::int64_t>();
    };
    take("input_tokens", input);
    take("cache_read_input_tokens", cache_read);
    take("cache_creation_input_tokens", cache_write);
    take("output_tokens", output);
  }

  Usage usage() const {
    Usage u;
    u.present = true;
    u.prompt_tokens = input + cache_read + cache_write;
    u.completion_tokens = output;
    u.total_tokens = u.prompt_tokens + u.completion_tokens;
    u.cached_prompt_tokens = cache_read;
    u.cache_write_tokens = cache_write;
    return u;
  }
};

ordered_json tool_call(std::int64_t index, const json& block) {
  ordered_json call;
  if (index >= 0) call["index"] = index;
  call["id"] = string_field(block, "id");
  call["type"] = "function";
  call["function"] = {{"name", string_field(block, "name")}, {"arguments", block.contains("input") ? block["input"].dump() : "{}"}};
  return call;
}

unsigned status_of_error_type(const std::string& type) {
  static const std::unordered_map<std::string, unsigned> kStatus = {
      {"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402},
      {"permission_error", 403},      {"not_found_error", 404},      {"request_too_large", 413},
      {"rate_limit_error", 429},      {"api_error", 500},            {"overloaded_error", 529}};
  auto it = kStatus.find(type);
  return it == kStatus.end() ? 500 : it->second;
}

class AnthropicStreamTranslator final : public StreamTranslator {
 public:
  AnthropicStreamTranslator(bool client_wants_usage, Provider::CostFn cost, std::int64_t created)
      : client_wants_usage_(client_wants_usage), cost_(std::move(cost)), created_(created) {}

  std::optional<api::ApiError> on_event(const http::SseEvent& event, std::string& out) override {
    const json data = api::read_ordered_json_lenient(event.data);
    if (!data.is_object()) return protocol_error(kVendor, "a stream event that is not a JSON object");
    std::string type = string_field(data, "type");
    if (type.empty()) type = event.event;
    if (type == "message_start") {
      const json& message = member(data, "message");
      id_ = string_field(message, "id");
      model_ = string_field(message, "model");
      counts_.update(member(message, "usage"));
      usage_ = counts_.usage();
      emit(out, ordered_json{{"role", "assistant"}, {"content", ""}});
    } else if (type == "content_block_start") {
      const json& block = member(data, "content_block");
      const std::string kind = string_field(block, "type");
      if (kind == "tool_use" && string_field(block, "name") == kAnthropicJsonTool) {
        json_block_ = block_index(data);  // a response_format answer: its input is the content
      } else if (kind == "tool_use") {
        const std::int64_t index = next_tool_index_++;
        tool_index_[block_index(data)] = index;
        ordered_json call = tool_call(index, block);
        call["function"]["arguments"] = "";  // the input arrives as input_json_delta events
        emit(out, tool_calls_delta(std::move(call)));
      } else if (kind == "text" && !string_field(block, "text").empty()) {
        emit(out, ordered_json{{"content", string_field(block, "text")}});
      }
    } else if (type == "content_block_delta") {
      const json& delta = member(data, "delta");
      const std::string kind = string_field(delta, "type");
      if (kind == "text_delta") {
        emit(out, ordered_json{{"content", string_field(delta, "text")}});
      } else if (kind == "thinking_delta") {
        emit(out, ordered_json{{"reasoning_content", string_field(delta, "thinking")}});
      } else if (kind == "input_json_delta" && json_block_ >= 0 && block_index(data) == json_block_) {
        emit(out, ordered_json{{"content", string_field(delta, "partial_json")}});
      } else if (kind == "input_json_delta" && !string_field(delta, "partial_json").empty()) {
        auto it = tool_index_.find(block_index(data));
        if (it == tool_index_.end()) return protocol_error(kVendor, "input_json_delta for a block that is not a tool_use");
        ordered_json call = {{"index", it->second}, {"function", {{"arguments", string_field(delta, "partial_json")}}}};
        emit(out, tool_calls_delta(std::move(call)));
      }  // signature_delta, citations_delta: nothing OpenAI's shape carries
    } else if (type == "message_delta") {
      counts_.update(member(data, "usage"));
      usage_ = counts_.usage();
      const json& delta = member(data, "delta");
      if (auto stop = delta.find("stop_reason"); stop != delta.end() && stop->is_string()) {
        const bool json_answer = json_block_ >= 0 && next_tool_index_ == 0;
        emit(out, ordered_json::object(), json_answer ? ordered_json("stop") : finish_reason(*stop));
      }
    } else if (type == "message_stop") {
      finished_ = true;
      if (client_wants_usage_) emit_usage(out);
      out.append(api::kSseDone);
    } else if (type == "error") {
      const json& error = member(data, "error");
      return anthropic_error(status_of_error_type(string_field(error, "type")), event.data);
    }  // ping, content_block_stop and event types added later: nothing to send
    return std::nullopt;
  }

  bool finished() const override { return finished_; }
  const Usage& usage() const override { return usage_; }

 private:
  static std::int64_t block_index(const json& data) {
    const json& index = member(data, "index");
    return index.is_number_integer() ? index.get<std::int64_t>() : -1;
  }

  static ordered_json tool_calls_delta(ordered_json call) {
    ordered_json delta;
    delta["tool_calls"] = ordered_json::array();
    delta["tool_calls"].push_back(std::move(call));
    return delta;
  }


  void emit(std::string& out, ordered_json delta, ordered_json finish = nullptr) const {
    append_delta_chunk(out, ChunkStamp{id_, created_, model_}, std::move(delta), std::move(finish));
  }

  void emit_usage(std::string& out) const {
    append_usage_chunk(out, ChunkStamp{id_, created_, model_}, openai_usage(usage_, UsageExtras::kCache), cost_, usage_);
  }

  bool client_wants_usage_;
  Provider::CostFn cost_;
  std::int64_t created_;
  std::string id_;
  std::string model_;
  AnthropicCounts counts_;
  Usage usage_;
  std::unordered_map<std::int64_t, std::int64_t> tool_index_;  // content block index → tool_calls index
  std::int64_t next_tool_index_ = 0;
  std::int64_t json_block_ = -1;  // the json_tool_call block (response_format), if any
  bool finished_ = false;
};

}  // namespace

api::ApiResult<std::string> anthropic_response_to_openai(std::string_view body, std::int64_t created, Usage& usage) {
  const json in = api::read_ordered_json_lenient(body);
  if (!in.is_object()) return protocol_error(kVendor, "a response that is not a JSON object");
  const json& content = member(in, "content");
  if (!content.is_array() && !content.is_null()) return protocol_error(kVendor, "a response whose content is not an array");
  std::string text;
  std::string reasoning;
  bool has_text = false;
  bool json_answer = false;
  ordered_json calls = ordered_json::array();
  for (const json& block : content) {
    const std::string kind = block.is_object() ? string_field(block, "type") : std::string();
    if (kind == "text") {
      text += string_field(block, "text");
      has_text = true;
    } else if (kind == "thinking") {
      reasoning += string_field(block, "thinking");
    } else if (kind == "tool_use" && string_field(block, "name") == kAnthropicJsonTool) {
      text += member(block, "input").dump();  // the response_format answer
      has_text = true;
      json_answer = true;
    } else if (kind == "tool_use") {
      calls.push_back(tool_call(-1, block));
    }
  }
  AnthropicCounts counts;
  counts.update(member(in, "usage"));
  usage = counts.usage();

  ordered_json message;
  message["role"] = "assistant";
  message["content"] = has_text ? ordered_json(text) : ordered_json(nullptr);
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  ordered_json choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  const bool only_json = json_answer && choice["message"].find("tool_calls") == choice["message"].end();
  choice["finish_reason"] = only_json ? ordered_json("stop") : finish_reason(member(in, "stop_reason"));
  ordered_json out;
  out["id"] = string_field(in, "id");
  out["object"] = "chat.completion";
  out["created"] = created;
  out["model"] = string_field(in, "model");
  out["choices"] = ordered_json::array();
  out["choices"].push_back(std::move(choice));
  out["usage"] = openai_usage(usage, UsageExtras::kCache);
  return out.dump();
}

std::unique_ptr<StreamTranslator> make_anthropic_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                   std::int64_t created) {
  return std::make_unique<AnthropicStreamTranslator>(client_wants_usage, std::move(cost), created);
}

}  // namespace tollgate::providers
