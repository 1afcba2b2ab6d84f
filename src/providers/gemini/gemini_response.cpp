// Gemini GenerateContentResponse bodies, SSE streams and errors → OpenAI's shapes.
#include <array>
#include <charconv>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/gemini/gemini_provider.hpp"
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

constexpr std::string_view kVendor = "Gemini";

Usage usage_of(const json& metadata) {
  Usage u;
  if (!metadata.is_object()) return u;
  u.present = true;
  u.prompt_tokens = int_field(metadata, "promptTokenCount");
  u.reasoning_tokens = int_field(metadata, "thoughtsTokenCount");
  // OpenAI counts reasoning as completion tokens; Gemini reports the two apart.
  u.completion_tokens = int_field(metadata, "candidatesTokenCount") + u.reasoning_tokens;
  u.total_tokens = metadata.contains("totalTokenCount") ? int_field(metadata, "totalTokenCount")
                                                        : u.prompt_tokens + u.completion_tokens;
  u.cached_prompt_tokens = int_field(metadata, "cachedContentTokenCount");
  return u;
}

json finish_reason(const std::string& reason, bool called_tools) {
  if (called_tools) return "tool_calls";
  if (reason == "MAX_TOKENS") return "length";
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" || reason == "PROHIBITED_CONTENT" ||
      reason == "SPII" || reason == "IMAGE_SAFETY") {
    return "content_filter";
  }
  return "stop";  // STOP, OTHER, MALFORMED_FUNCTION_CALL and reasons added later
}

// A prompt refused before any candidate: OpenAI's content-policy error, which the router answers
// with content_policy_fallbacks.
std::optional<api::ApiError> blocked_prompt(const json& response) {
  const std::string reason = string_field(member(response, "promptFeedback"), "blockReason");
  const json& candidates = member(response, "candidates");
  if (reason.empty() || (candidates.is_array() && !candidates.empty())) return std::nullopt;
  api::ApiError e = api::make_error(Errc::kInvalidRequest,
                                    "The prompt was blocked by Gemini's safety filters (blockReason " + reason + ").");
  e.code = "content_policy_violation";  // as the Azure adapter sends it: LiteLLM's ContentPolicyViolationError
  e.errc = Errc::kUpstreamStatus;
  return e;
}

// One candidate's parts, split the way OpenAI's message carries them.
struct Parts {
  std::string text;
  std::string reasoning;
  bool has_text = false;
  json calls = json::array();  // OpenAI tool_calls, without index
};

Parts read_parts(const json& candidate, std::int64_t& next_call) {
  Parts out;
  const json& parts = member(member(candidate, "content"), "parts");
  if (!parts.is_array()) return out;
  for (const json& part : parts) {
    if (!part.is_object()) continue;
    if (const json& fn = member(part, "functionCall"); fn.is_object()) {
      std::string id = string_field(fn, "id");
      if (id.empty()) id = "call_" + std::to_string(next_call);
      ++next_call;
      const json& args = member(fn, "args");
      json call;
      call["id"] = id;
      call["type"] = "function";
      call["function"] = {{"name", string_field(fn, "name")}, {"arguments", args.is_null() ? std::string("{}") : args.dump()}};
      out.calls.push_back(std::move(call));
    } else if (part.contains("text")) {
      const json& thought = member(part, "thought");
      if (thought.is_boolean() && thought.get<bool>()) {
        out.reasoning += string_field(part, "text");
      } else {
        out.text += string_field(part, "text");
        out.has_text = true;
      }
    }
  }
  return out;
}

std::int64_t candidate_index(const json& candidate, std::size_t position) {
  const json& index = member(candidate, "index");
  return index.is_number_integer() ? index.get<std::int64_t>() : static_cast<std::int64_t>(position);
}

class GeminiStreamTranslator final : public StreamTranslator {
 public:
  GeminiStreamTranslator(bool client_wants_usage, Provider::CostFn cost, std::int64_t created)
      : client_wants_usage_(client_wants_usage), cost_(std::move(cost)), created_(created) {}

  std::optional<api::ApiError> on_event(const http::SseEvent& event, std::string& out) override {
    const json data = api::read_ordered_json_lenient(event.data);
    if (!data.is_object()) return protocol_error(kVendor, "a stream event that is not a JSON object");
    if (const json& error = member(data, "error"); error.is_object()) {
      const json& code = member(error, "code");
      return gemini_error(code.is_number_unsigned() ? code.get<unsigned>() : 500, event.data);
    }
    if (auto blocked = blocked_prompt(data)) return blocked;
    if (const json& metadata = member(data, "usageMetadata"); metadata.is_object()) usage_ = usage_of(metadata);
    // Gemini may repeat usage after the finishing event; the client's stream is complete already.
    if (finished_) return std::nullopt;
    if (!started_) {
      started_ = true;
      id_ = string_field(data, "responseId");
      if (id_.empty()) id_ = "chatcmpl-gemini-" + std::to_string(created_);
      model_ = string_field(data, "modelVersion");
      emit(out, 0, json{{"role", "assistant"}, {"content", ""}});
    }
    const json& candidates = member(data, "candidates");
    std::string reason;
    for (std::size_t i = 0; candidates.is_array() && i < candidates.size(); ++i) {
      const json& candidate = candidates[i];
      const std::int64_t index = candidate_index(candidate, i);
      Parts parts = read_parts(candidate, next_call_);
      if (!parts.reasoning.empty()) emit(out, index, json{{"reasoning_content", parts.reasoning}});
      if (!parts.text.empty()) emit(out, index, json{{"content", parts.text}});
      if (!parts.calls.empty()) {
        // Gemini sends each call whole: one delta carries its id, name and complete arguments.
        for (auto& call : parts.calls) {
          json indexed;
          indexed["index"] = next_tool_index_++;
          indexed.update(call);
          call = std::move(indexed);
        }
        called_tools_ = true;
        emit(out, index, json{{"tool_calls", std::move(parts.calls)}});
      }
      const std::string r = string_field(candidate, "finishReason");
      if (!r.empty()) reason = r;
    }
    if (!reason.empty()) {
      emit(out, 0, json::object(), finish_reason(reason, called_tools_));
      if (client_wants_usage_) emit_usage(out);
      out.append(api::kSseDone);
      finished_ = true;
    }
    return std::nullopt;
  }

  bool finished() const override { return finished_; }
  const Usage& usage() const override { return usage_; }

 private:

  void emit(std::string& out, std::int64_t index, json delta, json finish = nullptr) const {
    append_delta_chunk(out, ChunkStamp{id_, created_, model_}, std::move(delta), std::move(finish), index);
  }

  void emit_usage(std::string& out) const {
    append_usage_chunk(out, ChunkStamp{id_, created_, model_}, openai_usage(usage_, UsageExtras::kReasoning), cost_, usage_);
  }

  bool client_wants_usage_;
  Provider::CostFn cost_;
  std::int64_t created_;
  std::string id_;
  std::string model_;
  Usage usage_;
  std::int64_t next_call_ = 0;        // for generated call ids
  std::int64_t next_tool_index_ = 0;  // OpenAI's tool_calls[].index
  bool called_tools_ = false;
  bool started_ = false;
  bool finished_ = false;
};

// Google's canonical status names, as the OpenAI status and type the client sees.
std::pair<unsigned, const char*> status_of(const std::string& status, unsigned http_status) {
  if (status == "INVALID_ARGUMENT" || status == "FAILED_PRECONDITION" || status == "OUT_OF_RANGE") {
    return {400, "invalid_request_error"};
  }
  if (status == "UNAUTHENTICATED") return {401, "authentication_error"};
  if (status == "PERMISSION_DENIED") return {403, "permission_error"};
  if (status == "NOT_FOUND") return {404, "not_found_error"};
  if (status == "RESOURCE_EXHAUSTED") return {429, "rate_limit_error"};
  if (status == "UNAVAILABLE") return {503, "api_error"};
  if (status == "DEADLINE_EXCEEDED") return {504, "api_error"};
  if (status == "INTERNAL" || status == "UNKNOWN") return {500, "api_error"};
  return {http_status, nullptr};
}

// RetryInfo's retryDelay ("30s", "1.5s") in the error's details, in whole seconds rounded up.
std::optional<std::chrono::seconds> retry_delay(const json& error) {
  const json& details = member(error, "details");
  for (std::size_t i = 0; details.is_array() && i < details.size(); ++i) {
    std::string delay = string_field(details[i], "retryDelay");
    if (delay.empty() || delay.back() != 's') continue;
    double seconds = 0;
    auto [ptr, ec] = std::from_chars(delay.data(), delay.data() + delay.size() - 1, seconds);
    if (ec == std::errc() && seconds >= 0 && seconds <= 86'400) {
      return std::chrono::seconds(static_cast<std::int64_t>(seconds + 0.999));
    }
  }
  return std::nullopt;
}

api::ApiError gemini_error_of(unsigned status, json parsed) {
  // Google's body is {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED","details":[...]}}
  // (some gateways in front of it send a list of one such object).
  if (parsed.is_array() && parsed.size() == 1) parsed = std::move(parsed[0]);
  const json& error = member(parsed, "error");
  const std::string message = string_field(error, "message");
  const std::string google_status = string_field(error, "status");
  api::ApiError e = openai_error(status, nlohmann::json(), {});
  if (!message.empty()) e.message = message;
  auto [mapped, type] = status_of(google_status, e.status);
  // AI Studio answers a wrong key with 400 INVALID_ARGUMENT "API key not valid": an auth error.
  if (message.find("API key not valid") != std::string::npos || message.find("API key expired") != std::string::npos) {
    mapped = 401;
    type = "authentication_error";
  }
  if (type != nullptr) {
    e.status = mapped;
    e.code = std::to_string(mapped);
    e.type = type;
  }
  e.retry_after = retry_delay(error);
  return e;
}

constexpr std::array<std::string_view, 2> kContextWindow{"input token count", "exceeds the maximum number of tokens"};
constexpr std::array<std::string_view, 1> kRateLimit{"resource_exhausted"};

}  // namespace

const Wording kGeminiWording{kContextWindow, {}, kRateLimit};

api::ApiResult<std::string> gemini_response_to_openai(std::string_view body, std::int64_t created, Usage& usage) {
  const json in = api::read_ordered_json_lenient(body);
  if (!in.is_object()) return protocol_error(kVendor, "a response that is not a JSON object");
  if (auto blocked = blocked_prompt(in)) return *blocked;
  const json& candidates = member(in, "candidates");
  if (!candidates.is_array() || candidates.empty()) return protocol_error(kVendor, "a response without candidates");
  usage = usage_of(member(in, "usageMetadata"));
  json choices = json::array();
  std::int64_t next_call = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    Parts parts = read_parts(candidates[i], next_call);
    json message;
    message["role"] = "assistant";
    message["content"] = parts.has_text ? json(parts.text) : json(nullptr);
    const bool called = !parts.calls.empty();
    if (called) message["tool_calls"] = std::move(parts.calls);
    if (!parts.reasoning.empty()) message["reasoning_content"] = parts.reasoning;
    json choice;
    choice["index"] = candidate_index(candidates[i], i);
    choice["message"] = std::move(message);
    choice["finish_reason"] = finish_reason(string_field(candidates[i], "finishReason"), called);
    choices.push_back(std::move(choice));
  }
  json out;
  std::string id = string_field(in, "responseId");
  out["id"] = id.empty() ? "chatcmpl-gemini-" + std::to_string(created) : id;
  out["object"] = "chat.completion";
  out["created"] = created;
  out["model"] = string_field(in, "modelVersion");
  out["choices"] = std::move(choices);
  out["usage"] = openai_usage(usage, UsageExtras::kReasoning);
  return out.dump();
}

std::unique_ptr<StreamTranslator> make_gemini_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                std::int64_t created) {
  return std::make_unique<GeminiStreamTranslator>(client_wants_usage, std::move(cost), created);
}

UpstreamFailure gemini_failure(unsigned status, std::string_view body, const HeaderLookup& header,
                               std::int64_t now_unix_s) {
  json parsed = api::read_ordered_json_lenient(body);
  UpstreamFailure f;
  f.cls = classify_reason(status, reason_text(parsed, body), {&kOpenAiWording, &kGeminiWording});
  f.error = gemini_error_of(status, std::move(parsed));
  // The header wins over RetryInfo for the client; the router waits only as long as a header says.
  read_retry_after(f, header, now_unix_s);
  read_ratelimit_reset(f, header);
  return f;
}

api::ApiError gemini_error(unsigned status, std::string_view body) {
  return gemini_error_of(status, api::read_ordered_json_lenient(body));
}

}  // namespace tollgate::providers
