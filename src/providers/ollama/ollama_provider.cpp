#include "providers/ollama/ollama_provider.hpp"

#include <chrono>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "providers/build_request.hpp"
#include "providers/ollama/ndjson_decoder.hpp"
#include "providers/upstream_failure.hpp"
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

// Ollama's errors are {"error": "<message>"} (a string, not OpenAI's object): the status rules
// are OpenAI's, the message is Ollama's.
api::ApiError ollama_error_of(unsigned status, const nlohmann::json& parsed, std::string_view body) {
  const auto error = parsed.is_object() ? parsed.find("error") : parsed.end();
  if (error == parsed.end() || !error->is_string()) return openai_error(status, parsed, body);
  api::ApiError e = openai_error(status, nlohmann::json(), {});
  e.message = error->get<std::string>();
  return e;
}

}  // namespace

api::ApiResult<http::UpstreamRequest> OllamaProvider::build_request(const config::Deployment& deployment,
                                                                    const http::Url& base, api::Endpoint endpoint,
                                                                    const api::ParsedRequest& request,
                                                                    std::string_view upstream_model,
                                                                    bool /*want_stream_usage: always reported*/) const {
  if (auto refused = chat_only(endpoint, "ollama")) return *refused;
  auto body = ollama_request_body(request, upstream_model);
  if (!body) return body.error();
  http::UpstreamRequest out = json_post(base, base.path + "/api/chat", std::move(*body), 3);
  // A local Ollama needs no key; one behind an authenticating proxy (or ollama.com) takes Bearer.
  if (!deployment.api_key.empty()) out.headers.emplace_back("authorization", "Bearer " + deployment.api_key);
  if (request.fields.stream) out.headers.emplace_back("accept", "application/x-ndjson");
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

UpstreamFailure OllamaProvider::classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                               std::int64_t now_unix_s) const {
  const nlohmann::json parsed = api::read_json_lenient(body);
  return openai_compatible_failure(ollama_error_of(status, parsed, body), status, parsed, body, header, now_unix_s);
}

api::ApiError ollama_error(unsigned status, std::string_view body) {
  return ollama_error_of(status, api::read_json_lenient(body), body);
}

}  // namespace tollgate::providers
