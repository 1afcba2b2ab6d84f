#include "tollgate/proxy/proxy_handler.hpp"

#include <charconv>
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "tollgate/api/sse.hpp"
#include "tollgate/proxy/mock_response.hpp"

namespace tollgate::proxy {

using Clock = std::chrono::steady_clock;

struct CallOutcome {
  std::string request_id;
  std::string_view method;
  std::string_view path;
  std::string model_group;
  std::string deployment_id;
  std::string api_base;
  unsigned status = 0;
  bool stream = false;
  providers::Usage usage;
  Clock::duration upstream_wait{0};
  std::string error_type;
  SteadyTime started{};
};

namespace {

constexpr std::size_t kMaxUpstreamErrorBody = 1u << 20;
constexpr std::size_t kMaxUpstreamBody = 256u << 20;
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";

// Client-chosen names are echoed in headers and logs: cap them so response headers stay small.
constexpr std::size_t kMaxEchoedName = 256;

std::string capped_name(std::string_view name) {
  if (name.size() <= kMaxEchoedName) return std::string(name);
  std::size_t cut = kMaxEchoedName;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return std::string(name.substr(0, cut));
}

double to_ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string format_ms(double ms) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms, std::chars_format::fixed, 3);
  return std::string(buf, end);
}

/// The headers LiteLLM clients read, computed at the moment the response head is sent.
http::HeaderList response_headers(const CallOutcome& out) {
  const double total = to_ms(Clock::now() - out.started);
  const double overhead = std::max(0.0, total - to_ms(out.upstream_wait));
  http::HeaderList h;
  h.reserve(6);
  h.emplace_back("x-litellm-call-id", out.request_id);
  if (!out.deployment_id.empty()) h.emplace_back("x-litellm-model-id", out.deployment_id);
  if (!out.model_group.empty()) h.emplace_back("x-litellm-model-group", out.model_group);
  if (!out.api_base.empty()) h.emplace_back("x-litellm-model-api-base", out.api_base);
  h.emplace_back("x-litellm-response-duration-ms", format_ms(total));
  h.emplace_back("x-litellm-overhead-duration-ms", format_ms(overhead));
  return h;
}

std::optional<double> parse_seconds(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
}

api::ApiError unknown_model_error(std::string_view model, const router::RouteTable& routes) {
  std::string known;
  const auto& names = routes.group_names();
  for (std::size_t i = 0; i < names.size() && i < 20; ++i) known += (i ? ", " : "") + names[i];
  return api::make_error(Errc::kUnknownModel,
                         "Invalid model name passed in model=" + capped_name(model) +
                             ". Call `/v1/models` to view available models for your key." +
                             (known.empty() ? "" : " Available: " + known + "."),
                         "model");
}

struct Deadlines {
  std::chrono::milliseconds first_byte;
  std::chrono::milliseconds between_chunks;
};

// Timeout precedence: body `timeout` > `x-litellm-timeout` header > deployment > router default.
// Streams bound the time to first byte by `stream_timeout` (deployment, then router) when set.
Deadlines deadlines_for(const config::UpstreamSettings& up, const config::Deployment& deployment,
                        const api::RequestFields& fields, std::string_view timeout_header) {
  std::chrono::milliseconds timeout = deployment.timeout.value_or(up.default_timeout);
  if (auto header = parse_seconds(timeout_header)) timeout = seconds_to_ms(*header);
  if (fields.timeout_seconds) timeout = seconds_to_ms(*fields.timeout_seconds);
  if (!fields.stream) return {timeout, timeout};
  std::chrono::milliseconds first_byte = timeout;
  if (deployment.stream_timeout) {
    first_byte = *deployment.stream_timeout;
  } else if (up.default_stream_timeout) {
    first_byte = *up.default_stream_timeout;
  }
  return {first_byte, up.chunk_timeout};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ProxyHandler::ProxyHandler(unsigned worker_index, std::shared_ptr<const Snapshot> snapshot, asio::io_context& io,
                           asio::ssl::context& tls, AccessLog& access_log, std::shared_ptr<spdlog::logger> log)
    : worker_index_(worker_index),
      snapshot_(std::move(snapshot)),
      upstream_(io, tls, snapshot_->config->upstream),
      access_log_(access_log),
      log_(std::move(log)),
      rng_(std::random_device{}()),
      id_rng_(std::random_device{}()) {}

std::string ProxyHandler::new_request_id() {
  // A version-4 UUID from a per-thread generator: unique, not secret.
  const std::uint64_t a = (id_rng_() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t b = (id_rng_() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                     b & 0xffffffffffffULL);
}

asio::awaitable<void> ProxyHandler::send_error(http::Exchange& ex, const api::ApiError& error, CallOutcome& out) {
  out.status = error.status;
  out.error_type = error.type;
  http::HeaderList headers = response_headers(out);
  if (error.retry_after) headers.emplace_back("retry-after", std::to_string(error.retry_after->count()));
  std::string body = api::error_json(error);
  co_await ex.send(error.status, kJson, std::move(body), headers);
}

asio::awaitable<void> ProxyHandler::send_json(http::Exchange& ex, std::string&& body, CallOutcome& out) {
  out.status = 200;
  const http::HeaderList headers = response_headers(out);
  co_await ex.send(200, kJson, std::move(body), headers);
}

asio::awaitable<void> ProxyHandler::handle(http::Exchange& ex) {
  namespace bhttp = boost::beast::http;
  const http::Request& req = ex.request();
  CallOutcome out;
  out.request_id = new_request_id();
  out.started = ex.received_at();
  out.method = req.method_string();
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  out.path = path;
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const bool is_get = req.method() == bhttp::verb::get;
  const bool is_post = req.method() == bhttp::verb::post;

  // Every branch either answers or leaves an error here; errors are sent in one place below.
  std::optional<api::ApiError> error;
  if (path == "/health/liveliness" || path == "/health/liveness") {
    std::string body = "\"I'm alive!\"";
    co_await send_json(ex, std::move(body), out);
  } else if (path == "/health/readiness") {
    const bool draining = ex.draining();
    nlohmann::json ready = {{"status", draining ? "draining" : "healthy"},
                            {"db", "Not connected"},
                            {"cache", nullptr},
                            {"tollgate_version", TOLLGATE_VERSION}};
    std::string body = ready.dump();
    out.status = draining ? 503 : 200;
    const http::HeaderList none;
    co_await ex.send(out.status, kJson, std::move(body), none);
  } else if (!snapshot_->master_key.matches(auth::presented_key(req[bhttp::field::authorization],
                                                                req["x-litellm-api-key"], req["x-api-key"]))) {
    const bool missing = req[bhttp::field::authorization].empty() && req["x-litellm-api-key"].empty();
    error = api::make_error(Errc::kUnauthorized, missing ? "Authentication Error, no API key passed in. Pass it as "
                                                           "'Authorization: Bearer <key>'."
                                                         : "Authentication Error, invalid API key.");
  } else if (path == "/chat/completions" || path == "/completions" || path == "/embeddings") {
    const api::Endpoint endpoint = path == "/chat/completions" ? api::Endpoint::kChatCompletions
                                   : path == "/completions"    ? api::Endpoint::kCompletions
                                                               : api::Endpoint::kEmbeddings;
    if (is_post) {
      auto completion_error = co_await handle_completion(ex, endpoint, out);
      error = std::move(completion_error);
    } else {
      error = api::make_error(Errc::kMethodNotAllowed, "Use POST for " + std::string(path) + ".");
    }
  } else if (path == "/models" || path.starts_with("/models/")) {
    if (is_get) {
      const std::string_view id = path.size() > 8 ? path.substr(8) : std::string_view();
      auto models_error = co_await list_models(ex, id, out);
      error = std::move(models_error);
    } else {
      error = api::make_error(Errc::kMethodNotAllowed, "Use GET for /v1/models.");
    }
  } else {
    error = api::make_error(Errc::kNotFound, "Route not found: " + std::string(out.path));
  }
  if (error) co_await send_error(ex, *error, out);

  const double total = to_ms(Clock::now() - out.started);
  const double upstream = to_ms(out.upstream_wait);
  access_log_.write(worker_index_, {.request_id = out.request_id,
                     .method = out.method,
                     .path = out.path,
                     .model_group = out.model_group,
                     .deployment_id = out.deployment_id,
                     .status = out.status,
                     .stream = out.stream,
                     .duration_ms = total,
                     .upstream_ms = upstream,
                     .overhead_ms = std::max(0.0, total - upstream),
                     .usage = &out.usage,
                     .error_type = out.error_type});
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::list_models(http::Exchange& ex, std::string_view id,
                                                                        CallOutcome& out) {
  auto model_json = [](std::string_view name) {
    return nlohmann::json{{"id", name}, {"object", "model"}, {"created", 1677610602}, {"owned_by", "openai"}};
  };
  std::string body;
  if (!id.empty()) {
    if (!snapshot_->routes.group(id)) {
      co_return api::make_error(Errc::kNotFound, "The model '" + std::string(id) + "' does not exist.", "model");
    }
    body = model_json(id).dump();
  } else {
    nlohmann::json data = nlohmann::json::array();
    for (const auto& name : snapshot_->routes.group_names()) data.push_back(model_json(name));
    body = nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump();
  }
  co_await send_json(ex, std::move(body), out);
  co_return std::nullopt;
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::handle_completion(http::Exchange& ex,
                                                                              api::Endpoint endpoint,
                                                                              CallOutcome& out) {
  const std::shared_ptr<const Snapshot> snap = snapshot_;  // this request keeps its config version
  const http::Request& req = ex.request();
  auto parsed = api::parse_request(req.body(), endpoint);
  if (!parsed) co_return parsed.error();
  const api::RequestFields& fields = parsed->fields;
  out.model_group = capped_name(fields.model);
  out.stream = fields.stream;

  const std::vector<router::Route>* group = snap->routes.group(fields.model);
  if (!group || group->empty()) co_return unknown_model_error(fields.model, snap->routes);
  const router::Route& route = router::RouteTable::pick(*group, rng_);
  const config::Deployment& deployment = *route.deployment;
  out.deployment_id = deployment.id;

  if (fields.mock_response || deployment.mock_response) {
    const std::string& answer = fields.mock_response ? *fields.mock_response : *deployment.mock_response;
    auto mock_error = co_await answer_mock(ex, endpoint, *parsed, answer, out);
    co_return mock_error;
  }
  out.api_base = deployment.api_base;

  const providers::Provider& provider = *route.provider;
  auto upstream_request = provider.build_request(deployment, route.base, endpoint, *parsed, /*want_stream_usage=*/true);
  if (!upstream_request) co_return upstream_request.error();
  const Deadlines deadlines = deadlines_for(snap->config->upstream, deployment, fields, req["x-litellm-timeout"]);
  upstream_request->first_byte_timeout = deadlines.first_byte;
  upstream_request->chunk_timeout = deadlines.between_chunks;

  auto t0 = Clock::now();
  auto response = co_await upstream_.send(std::move(*upstream_request));
  out.upstream_wait += Clock::now() - t0;
  if (!response) co_return response.error();
  http::UpstreamResponse& resp = **response;
  if (resp.status() >= 400) {
    t0 = Clock::now();
    auto body = co_await resp.read_all(kMaxUpstreamErrorBody);
    out.upstream_wait += Clock::now() - t0;
    const std::string error_body = body ? std::move(*body) : std::string();
    co_return provider.map_error(resp.status(), error_body, resp.header("retry-after"));
  }
  if (fields.stream && resp.is_event_stream()) {
    co_await relay_stream(ex, resp, provider, *parsed, out);
    co_return std::nullopt;
  }
  t0 = Clock::now();
  auto body = co_await resp.read_all(kMaxUpstreamBody);
  out.upstream_wait += Clock::now() - t0;
  if (!body) co_return body.error();
  auto translated = provider.translate_response(endpoint, std::move(*body), out.usage);
  if (!translated) co_return translated.error();
  co_await send_json(ex, std::move(*translated), out);
  co_return std::nullopt;
}

asio::awaitable<void> ProxyHandler::relay_stream(http::Exchange& ex, http::UpstreamResponse& response,
                                                 const providers::Provider& provider, const api::ParsedRequest& req,
                                                 CallOutcome& out) {
  out.status = 200;
  const http::HeaderList headers = response_headers(out);
  if (!co_await ex.begin_stream(200, kEventStream, headers)) {
    response.abandon();
    out.error_type = "client_disconnected";
    co_return;
  }
  auto translator = provider.make_stream_translator(req.fields.client_wants_usage);
  http::SseDecoder decoder;
  std::vector<http::SseEvent> events;
  std::string pending;
  std::optional<api::ApiError> failure;
  for (;;) {
    const auto t0 = Clock::now();
    auto piece = co_await response.read_some();
    out.upstream_wait += Clock::now() - t0;
    if (!piece) {
      failure = piece.error();
      break;
    }
    if (piece->empty()) {
      if (!translator->finished()) {
        failure = api::make_error(Errc::kUpstreamProtocol, "Upstream ended the stream without [DONE].");
      }
      break;
    }
    decoder.feed(*piece, events);
    if (decoder.failed()) failure = api::make_error(Errc::kUpstreamProtocol, "Upstream sent an oversized stream line.");
    for (const auto& event : events) {
      if (failure) break;
      failure = translator->on_event(event, pending);
    }
    events.clear();
    // Backpressure: this chunk reaches the client before the next upstream read.
    if (!pending.empty()) {
      const bool delivered = co_await ex.write_chunk(pending);
      if (!delivered) {
        response.abandon();  // the client left: cancel the upstream call, never reuse its connection
        out.usage = translator->usage();
        out.error_type = "client_disconnected";
        log_->info("request_id={} msg=\"client disconnected mid-stream\"", out.request_id);
        co_return;
      }
      pending.clear();
    }
    if (failure) break;
  }
  out.usage = translator->usage();
  if (failure) {
    // Headers are gone: the error travels as a final data event, then the connection closes.
    response.abandon();
    out.error_type = failure->type;
    log_->warn("request_id={} msg=\"stream failed\" error=\"{}\"", out.request_id, failure->message);
    api::append_sse_data(pending, api::error_json(*failure));
    const bool delivered = co_await ex.write_chunk(pending);
    if (delivered) co_await ex.end_stream();
    ex.close_after_response();
    co_return;
  }
  co_await ex.end_stream();
}

asio::awaitable<std::optional<api::ApiError>> ProxyHandler::answer_mock(http::Exchange& ex, api::Endpoint endpoint,
                                                                        const api::ParsedRequest& req,
                                                                        const std::string& answer, CallOutcome& out) {
  if (endpoint == api::Endpoint::kEmbeddings) {
    co_return api::make_error(Errc::kInvalidRequest, "mock_response is not supported for embeddings.", "model");
  }
  out.usage = estimate_mock_usage(req.fields.prompt_bytes, answer);
  const std::string id = "chatcmpl-" + out.request_id;
  if (!req.fields.stream) {
    std::string body = mock_completion_body(endpoint, req.fields.model, answer, out.usage, id, unix_now());
    co_await send_json(ex, std::move(body), out);
    co_return std::nullopt;
  }
  out.status = 200;
  const std::string body =
      mock_stream_body(endpoint, req.fields.model, answer, out.usage, req.fields.client_wants_usage, id, unix_now());
  const http::HeaderList headers = response_headers(out);
  if (co_await ex.begin_stream(200, kEventStream, headers)) {
    const bool delivered = co_await ex.write_chunk(body);
    if (delivered) co_await ex.end_stream();
  }
  co_return std::nullopt;
}

}  // namespace tollgate::proxy
