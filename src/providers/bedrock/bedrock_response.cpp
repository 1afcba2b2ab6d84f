// Bedrock Converse responses, ConverseStream events and errors → OpenAI shapes.
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/bedrock/bedrock_provider.hpp"
#include "tollgate/api/json_fields.hpp"
#include "providers/openai_chunks.hpp"
#include "providers/upstream_failure.hpp"
#include "tollgate/api/sse.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

using json = nlohmann::ordered_json;
using api::json_fields::int_field;
using api::json_fields::member;
using api::json_fields::protocol_error;
using api::json_fields::string_field;

constexpr std::string_view kVendor = "Bedrock";

json finish_reason(const std::string& stop_reason) {
  if (stop_reason.empty()) return nullptr;
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "guardrail_intervened" || stop_reason == "content_filtered") return "content_filter";
  return "stop";  // end_turn, stop_sequence and reasons added later
}

// Converse's inputTokens excludes cache reads and writes; OpenAI's prompt_tokens counts them.
Usage usage_of(const json& u) {
  Usage out;
  if (!u.is_object()) return out;
  out.present = true;
  out.cached_prompt_tokens = int_field(u, "cacheReadInputTokens");
  out.cache_write_tokens = int_field(u, "cacheWriteInputTokens");
  out.prompt_tokens = int_field(u, "inputTokens") + out.cached_prompt_tokens + out.cache_write_tokens;
  out.completion_tokens = int_field(u, "outputTokens");
  out.total_tokens = out.prompt_tokens + out.completion_tokens;
  return out;
}

// "ThrottlingException:http://internal.amazon.com/coral/..." or "com.amazon...#ThrottlingException"
// → "throttlingexception".
std::string normalized_type(std::string_view type) {
  if (auto colon = type.find(':'); colon != std::string_view::npos) type = type.substr(0, colon);
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) type = type.substr(hash + 1);
  std::string out(type);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct ErrorShape {
  unsigned status;
  const char* type;
};

// Bedrock's exception names (and their camelCase stream forms, lowercased alike) → the client's
// status and OpenAI error type.
std::optional<ErrorShape> shape_of(const std::string& type) {
  static const std::unordered_map<std::string, ErrorShape> kShapes = {
      {"throttlingexception", {429, "rate_limit_error"}},
      {"servicequotaexceededexception", {429, "rate_limit_error"}},
      {"modelnotreadyexception", {503, "api_error"}},
      {"serviceunavailableexception", {503, "api_error"}},
      {"internalserverexception", {500, "api_error"}},
      {"modelstreamerrorexception", {500, "api_error"}},
      {"modelerrorexception", {500, "api_error"}},
      {"modeltimeoutexception", {408, "timeout"}},
      {"validationexception", {400, "invalid_request_error"}},
      {"resourcenotfoundexception", {404, "invalid_request_error"}},
      {"accessdeniedexception", {403, "permission_error"}},
      {"unrecognizedclientexception", {401, "authentication_error"}},
      {"invalidsignatureexception", {401, "authentication_error"}},
      {"expiredtokenexception", {401, "authentication_error"}},
  };
  auto it = kShapes.find(type);
  if (it == kShapes.end()) return std::nullopt;
  return it->second;
}

// The exception's name from the x-amzn-errortype header (`error_type`) or the body's `__type`,
// normalized.
std::string type_of(const json& parsed, std::string_view error_type) {
  if (!error_type.empty()) return normalized_type(error_type);
  return normalized_type(string_field(parsed, "__type"));
}

api::ApiError bedrock_error_of(unsigned status, const json& parsed, const std::string& type) {
  const std::optional<ErrorShape> shape = shape_of(type);
  api::ApiError e = api::make_error(Errc::kUpstreamStatus, "");
  if (shape) {
    e.status = shape->status;
    e.type = shape->type;
  } else {
    // An exception this table does not know: statuses the OpenAI SDKs map pass, others fold.
    const bool known = status == 400 || status == 401 || status == 403 || status == 404 || status == 408 ||
                       status == 429 || status == 500 || status == 503;
    e.status = known ? status : status >= 500 ? 500 : 400;
    e.type = e.status == 429 ? "rate_limit_error" : e.status >= 500 ? "api_error" : "invalid_request_error";
  }
  e.code = std::to_string(e.status);
  std::string message = string_field(parsed, "message");
  if (message.empty()) message = string_field(parsed, "Message");
  if (message.empty()) message = "Bedrock returned HTTP " + std::to_string(status) + ".";
  e.message = message;
  // A ValidationException for a prompt over the model's window keeps its words ("input is too
  // long", "too many input tokens": kBedrockWording).
  if (message.find("content filter") != std::string::npos) {
    e.type = "content_policy_violation";
  }
  return e;
}

constexpr std::array<std::string_view, 2> kContextWindow{"input is too long", "too many input tokens"};
constexpr std::array<std::string_view, 1> kRateLimit{"throttlingexception"};

}  // namespace

const Wording kBedrockWording{kContextWindow, {}, kRateLimit};

namespace {

class BedrockStreamTranslator final : public StreamTranslator {
 public:
  BedrockStreamTranslator(bool client_wants_usage, Provider::CostFn cost, std::string id, std::int64_t created)
      : client_wants_usage_(client_wants_usage), cost_(std::move(cost)), id_(std::move(id)), created_(created) {}

  std::optional<api::ApiError> on_event(const http::SseEvent& event, std::string& out) override {
    if (event.event.starts_with("exception:") || event.event.starts_with("error:")) {
      const std::string type = event.event.substr(event.event.find(':') + 1);
      const auto shape = shape_of(normalized_type(type));
      return bedrock_error(shape ? shape->status : 500, event.data, type);
    }
    const json data = api::read_ordered_json_lenient(event.data);
    if (!data.is_object()) return protocol_error(kVendor, "a stream event that is not a JSON object");
    if (finished_) return std::nullopt;
    const std::string& type = event.event;
    if (type == "messageStart") {
      emit(out, json{{"role", "assistant"}, {"content", ""}});
    } else if (type == "contentBlockStart") {
      const json& tool = member(member(data, "start"), "toolUse");
      if (tool.is_object()) {
        const std::int64_t index = next_tool_index_++;
        tool_index_[int_field(data, "contentBlockIndex")] = index;
        json call = {{"index", index}, {"id", string_field(tool, "toolUseId")}, {"type", "function"},
                     {"function", {{"name", string_field(tool, "name")}, {"arguments", ""}}}};
        emit(out, tool_calls_delta(std::move(call)));
      }
    } else if (type == "contentBlockDelta") {
      const json& delta = member(data, "delta");
      if (delta.contains("text")) {
        emit(out, json{{"content", string_field(delta, "text")}});
      } else if (const json& tool = member(delta, "toolUse"); tool.is_object()) {
        auto it = tool_index_.find(int_field(data, "contentBlockIndex"));
        if (it == tool_index_.end()) return protocol_error(kVendor, "a toolUse delta for a block that is not a toolUse");
        const std::string piece = string_field(tool, "input");
        if (!piece.empty()) emit(out, tool_calls_delta(json{{"index", it->second}, {"function", {{"arguments", piece}}}}));
      } else if (const json& reasoning = member(delta, "reasoningContent"); reasoning.is_object()) {
        const std::string text = string_field(reasoning, "text");
        if (!text.empty()) emit(out, json{{"reasoning_content", text}});
      }
    } else if (type == "messageStop") {
      emit(out, json::object(), finish_reason(string_field(data, "stopReason")));
    } else if (type == "metadata") {
      usage_ = usage_of(member(data, "usage"));
      finished_ = true;
      if (client_wants_usage_) emit_usage(out);
      out.append(api::kSseDone);
    }  // contentBlockStop and event types added later: nothing to send
    return std::nullopt;
  }

  bool finished() const override { return finished_; }
  const Usage& usage() const override { return usage_; }

 private:
  static json tool_calls_delta(json call) {
    json delta;
    delta["tool_calls"] = json::array();
    delta["tool_calls"].push_back(std::move(call));
    return delta;
  }


  void emit(std::string& out, json delta, json finish = nullptr) const {
    append_delta_chunk(out, ChunkStamp{id_, created_, ""}, std::move(delta), std::move(finish));
  }

  void emit_usage(std::string& out) const {
    append_usage_chunk(out, ChunkStamp{id_, created_, ""}, openai_usage(usage_, UsageExtras::kCache), cost_, usage_);
  }

  bool client_wants_usage_;
  Provider::CostFn cost_;
  std::string id_;
  std::int64_t created_;
  Usage usage_;
  std::unordered_map<std::int64_t, std::int64_t> tool_index_;  // contentBlockIndex → tool_calls index
  std::int64_t next_tool_index_ = 0;
  bool finished_ = false;
};

}  // namespace

api::ApiResult<std::string> bedrock_response_to_openai(std::string_view body, std::string_view id,
                                                       std::int64_t created, std::string_view model, Usage& usage) {
  const json in = api::read_ordered_json_lenient(body);
  if (!in.is_object()) return protocol_error(kVendor, "a response that is not a JSON object");
  const json& content = member(member(member(in, "output"), "message"), "content");
  if (!content.is_array()) return protocol_error(kVendor, "a response without output.message.content");
  std::string text;
  std::string reasoning;
  bool has_text = false;
  json calls = json::array();
  for (const json& block : content) {
    if (const json& t = member(block, "text"); t.is_string()) {
      text += t.get<std::string>();
      has_text = true;
    } else if (const json& tool = member(block, "toolUse"); tool.is_object()) {
      const json& input = member(tool, "input");
      calls.push_back({{"id", string_field(tool, "toolUseId")}, {"type", "function"},
                       {"function", {{"name", string_field(tool, "name")},
                                     {"arguments", input.is_null() ? std::string("{}") : input.dump()}}}});
    } else if (const json& r = member(block, "reasoningContent"); r.is_object()) {
      reasoning += string_field(member(r, "reasoningText"), "text");
    }
  }
  usage = usage_of(member(in, "usage"));
  json message;
  message["role"] = "assistant";
  message["content"] = has_text ? json(text) : json(nullptr);
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  json choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["finish_reason"] = finish_reason(string_field(in, "stopReason"));
  json out;
  out["id"] = id;
  out["object"] = "chat.completion";
  out["created"] = created;
  out["model"] = model;
  out["choices"] = json::array();
  out["choices"].push_back(std::move(choice));
  out["usage"] = openai_usage(usage, UsageExtras::kCache);
  return out.dump();
}

std::unique_ptr<StreamTranslator> make_bedrock_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                 std::string id, std::int64_t created) {
  return std::make_unique<BedrockStreamTranslator>(client_wants_usage, std::move(cost), std::move(id), created);
}

api::ApiError bedrock_error(unsigned status, std::string_view body, std::string_view error_type) {
  const json parsed = api::read_ordered_json_lenient(body);
  return bedrock_error_of(status, parsed, type_of(parsed, error_type));
}

UpstreamFailure bedrock_failure(unsigned status, std::string_view body, const HeaderLookup& header,
                                std::int64_t now_unix_s) {
  const json parsed = api::read_ordered_json_lenient(body);
  const std::string type = type_of(parsed, header_value(header, "x-amzn-errortype"));
  UpstreamFailure f;
  f.error = bedrock_error_of(status, parsed, type);
  // The exception's name counts as a reason too ("throttlingexception"). Bedrock serves Claude,
  // whose refusals keep Anthropic's words.
  f.cls = classify_reason(status, reason_text(parsed, body) + type,
                          {&kOpenAiWording, &kBedrockWording, &kAnthropicWording});
  read_retry_after(f, header, now_unix_s);
  read_ratelimit_reset(f, header);
  return f;
}

}  // namespace tollgate::providers
