#include "tollgate/proxy/mock_response.hpp"

#include <nlohmann/json.hpp>

#include "tollgate/api/sse.hpp"

namespace tollgate::proxy {
namespace {

using nlohmann::json;

json usage_json(const api::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens}, {"total_tokens", u.total_tokens}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Splits the answer into word-sized pieces, keeping the spaces, as providers stream tokens.
std::vector<std::string_view> pieces(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start + 1);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

}  // namespace

api::Usage estimate_mock_usage(std::size_t prompt_bytes, std::string_view answer) {
  api::Usage u;
  u.present = true;
  u.prompt_tokens = static_cast<std::int64_t>(std::max<std::size_t>(1, prompt_bytes / 4));
  u.completion_tokens = static_cast<std::int64_t>(std::max<std::size_t>(1, (answer.size() + 3) / 4));
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  return u;
}

std::string mock_completion_body(api::Endpoint endpoint, std::string_view model, std::string_view answer,
                                 const api::Usage& usage, std::string_view id, std::int64_t created) {
  json body;
  if (endpoint == api::Endpoint::kCompletions) {
    body = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
            {"choices", json::array({{{"text", answer}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", "stop"}}})},
            {"usage", usage_json(usage)}};
  } else {
    body = {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model},
            {"choices", json::array({{{"index", 0},
                                      {"message", {{"role", "assistant"}, {"content", answer}}},
                                      {"logprobs", nullptr},
                                      {"finish_reason", "stop"}}})},
            {"usage", usage_json(usage)}};
  }
  return dump(body);
}

std::string mock_stream_body(api::Endpoint endpoint, std::string_view model, std::string_view answer,
                             const api::Usage& usage, bool include_usage, std::string_view id,
                             std::int64_t created) {
  const bool chat = endpoint != api::Endpoint::kCompletions;
  auto chunk = [&](json choice) {
    json c = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
              {"model", model}, {"choices", json::array({std::move(choice)})}};
    if (include_usage) c["usage"] = nullptr;
    return c;
  };
  std::string out;
  if (chat) {
    api::append_sse_data(out, dump(chunk({{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                          {"logprobs", nullptr}, {"finish_reason", nullptr}})));
  }
  for (std::string_view piece : pieces(answer)) {
    json choice = chat ? json{{"index", 0}, {"delta", {{"content", piece}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}
                       : json{{"index", 0}, {"text", piece}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
    api::append_sse_data(out, dump(chunk(std::move(choice))));
  }
  json last = chat ? json{{"index", 0}, {"delta", json::object()}, {"logprobs", nullptr}, {"finish_reason", "stop"}}
                   : json{{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", "stop"}};
  api::append_sse_data(out, dump(chunk(std::move(last))));
  if (include_usage) {
    json u = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
              {"model", model}, {"choices", json::array()}, {"usage", usage_json(usage)}};
    api::append_sse_data(out, dump(u));
  }
  out.append(api::kSseDone);
  return out;
}

}  // namespace tollgate::proxy
