#include "providers/ollama/ollama_provider.hpp"

#include <chrono>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "providers/ollama/ndjson_decoder.hpp"
#include "providers/openai/openai_provider.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers {
namespace {

// Ollama's answers carry no id; clients (and LiteLLM's logs) expect a chatcmpl- one per completion.
OllamaStamp fresh_stamp() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {.id = fmt::format("chatcmpl-{:016x}", rng()),
          .created = std::chrono::duration_cast<std::chrono::seconds>(now).count()};
}

}  // namespace

api::ApiResult<http::UpstreamRequest> OllamaProvider::build_request(const config::Deployment& deployment,
                                                                    const http::Url& base, api::Endpoint endpoint,
                                                                    const api::ParsedRequest& request,
                                                                    std::string_view upstream_model,
                                                                    bool /*want_stream_usage: always reported*/) const {
  if (endpoint != api::Endpoint::kChatCompletions) {
    return api::make_error(Errc::kInvalidRequest, std::string(api::endpoint_path(endpoint)) +
                                                      " is not supported by ollama deployments; use /chat/completions.",
                           "model");
  }
  auto body = ollama_request_body(request, upstream_model);
  if (!body) return body.error();
  http::UpstreamRequest out;
  out.url = base;
  out.target = base.path + "/api/chat";
  out.headers.reserve(3);
  out.headers.emplace_back("content-type", "application/json");
  // A local Ollama needs no key; one behind an authenticating proxy (or ollama.com) takes Bearer.
  if (!deployment.api_key.empty()) out.headers.emplace_back("authorization", "Bearer " + deployment.api_key);
  if (request.fields.stream) out.headers.emplace_back("accept", "application/x-ndjson");
  out.body = std::move(*body);
  return out;
}

api::ApiResult<std::string> OllamaProvider::translate_response(api::Endpoint, std::string body, Usage& usage) const {
  return ollama_response_to_openai(body, fresh_stamp(), usage);
}

std::unique_ptr<StreamTranslator> OllamaProvider::make_stream_translator(bool client_wants_usage, CostFn cost) const {
  return make_ollama_stream_translator(client_wants_usage, std::move(cost), fresh_stamp());
}

std::unique_ptr<http::StreamDecoder> OllamaProvider::make_stream_decoder() const {
  return std::make_unique<NdjsonDecoder>();
}

api::ApiError OllamaProvider::map_error(unsigned status, std::string_view body, std::string_view retry_after) const {
  return ollama_error(status, body, retry_after);
}

api::ApiError ollama_error(unsigned status, std::string_view body, std::string_view retry_after) {
  // Ollama's errors are {"error": "<message>"} (a string, not OpenAI's object): the status and
  // retry-after rules are OpenAI's, the message is Ollama's.
  const auto parsed = api::read_json_lenient(body);
  const bool ollama_shape = parsed.is_object() && parsed.contains("error") && parsed["error"].is_string();
  api::ApiError e = OpenAiProvider().map_error(status, ollama_shape ? std::string_view() : body, retry_after);
  if (ollama_shape) e.message = parsed["error"].get<std::string>();
  return e;
}

}  // namespace tollgate::providers
