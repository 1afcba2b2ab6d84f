// The answer's way back to the client from the upstream-call stage: the stream relay and mock
// answers (docs/request-lifecycle.md).
#include <algorithm>

#include <spdlog/logger.h>

#include "proxy/reply.hpp"
#include "proxy/upstream_call.hpp"
#include "tollgate/api/redact.hpp"
#include "tollgate/http/sse_decoder.hpp"
#include "tollgate/proxy/mock_response.hpp"

namespace tollgate::proxy {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

boost::asio::awaitable<void> UpstreamCall::relay_stream(http::UpstreamResponse& response,
                                                        const providers::Provider& provider, bool native) {
  RequestContext& out = ctx_;
  http::Exchange& ex = ex_;
  const api::ParsedRequest& req = request_;
  out.answer.status = 200;
  const http::HeaderList headers = response_headers(out);
  if (!co_await ex.begin_stream(200, kEventStream, headers)) {
    response.abandon();
    out.answer.error_type = "client_disconnected";
    co_return;
  }
  providers::Provider::CostFn cost;
  if (out.priced()) cost = [&out](const api::Usage& u) { return out.price(u).value_or(0.0); };
  // The client's dialect, when the front end renders OpenAI chunks into another (null: as they are).
  const std::unique_ptr<frontend::StreamRenderer> renderer = native ? nullptr : out.front_end->stream_renderer();
  auto translator = provider.make_stream_translator(req.fields.client_wants_usage, std::move(cost));
  const std::unique_ptr<http::StreamDecoder> decoder = provider.make_stream_decoder();
  std::vector<http::SseEvent> events;
  std::string pending;
  std::optional<api::ApiError> failure;
  bool failure_relayed = false;  // the vendor's own error event already went to the client
  // Vendors report errors mid-stream as events the client receives (OpenAI's {"error":...} chunk,
  // Anthropic's error event, relayed as they came); any that echoes the deployment's credential is
  // redacted here, as run_attempts does for errors before a stream.
  std::vector<std::string> secrets;
  if (out.routing.route_index) secrets = provider.secrets(out.snapshot->config->model_list[*out.routing.route_index]);
  const api::Redactor redactor(secrets);
  std::int64_t events_seen = 0;  // upstream events decoded, for the usage of a cut stream
  // A stream that ends before the upstream reported usage (client gone, upstream broke, shutdown
  // cut) still spent tokens: it is billed what it sent, about one token per event (streams send a
  // token or a few per event), and the prompt at four bytes a token — never zero.
  auto usage_so_far = [&] {
    api::Usage u = translator->usage();
    if (translator->finished()) return u;
    u.completion_tokens = std::max(u.completion_tokens, events_seen);
    u.prompt_tokens = std::max(u.prompt_tokens, static_cast<std::int64_t>(req.fields.prompt_bytes / 4) + 1);
    u.total_tokens = std::max(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    return u;
  };
  for (;;) {
    const auto t0 = SteadyClock::now();
    auto piece = co_await response.read_some();
    const auto t1 = SteadyClock::now();
    out.upstream.wait += t1 - t0;
    if (out.upstream.ttft_s == 0) {
      out.upstream.ttft_s = std::chrono::duration<double>(t1 - out.upstream.attempt_started).count();
      out.upstream.first_chunk_ms = unix_ms_now();
    }
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
    decoder->feed(*piece, events);
    events_seen += static_cast<std::int64_t>(events.size());
    if (decoder->failed()) failure = api::make_error(Errc::kUpstreamProtocol, "Upstream sent a malformed or oversized stream event.");
    for (const auto& event : events) {
      if (failure) break;
      failure = translator->on_event(event, pending);
    }
    events.clear();
    if (native) {
      // The client reads the vendor's format: its bytes go as they came; the translation above
      // only counted usage and saw the end.
      pending.assign(piece->data(), piece->size());
      failure_relayed = failure.has_value();
    } else if (renderer && !pending.empty()) {
      std::string events_out;
      renderer->render(pending, events_out);
      pending.swap(events_out);
    }
    if (translator->finished() && !failure) {
      // The answer is complete: its spend is journaled before the client's last bytes go out.
      out.cost.usage = translator->usage();
      out.settle();
    }
    // Backpressure: this chunk reaches the client before the next upstream read.
    if (!pending.empty()) {
      if (!redactor.empty()) redactor.redact(pending);
      const bool delivered = co_await ex.write_chunk(pending);
      if (!delivered) {
        response.abandon();  // the client left: cancel the upstream call, never reuse its connection
        out.cost.usage = usage_so_far();
        out.answer.error_type = "client_disconnected";
        worker_.log->info("request_id={} msg=\"client disconnected mid-stream\"", out.identity.request_id);
        co_return;
      }
      pending.clear();
    }
    if (failure) break;
  }
  out.cost.usage = usage_so_far();
  if (failure) {
    // Headers are gone: the error travels as a final data event, then the connection closes.
    response.abandon();
    redactor.redact(*failure);
    out.answer.error_type = failure->type;
    out.upstream.stream_failure = router::classify_errc(failure->errc);
    worker_.log->warn("request_id={} msg=\"stream failed\" error=\"{}\"", out.identity.request_id, failure->message);
    out.front_end->append_stream_error(pending, *failure, failure_relayed);
    bool delivered = true;
    if (!pending.empty()) delivered = co_await ex.write_chunk(pending);
    if (delivered) co_await ex.end_stream();
    ex.close_after_response();
    co_return;
  }
  co_await ex.end_stream();
}

boost::asio::awaitable<std::optional<api::ApiError>> UpstreamCall::answer_mock(const std::string& answer) {
  RequestContext& out = ctx_;
  http::Exchange& ex = ex_;
  const api::ParsedRequest& req = request_;
  const api::Endpoint endpoint = *out.call.endpoint;
  if (endpoint == api::Endpoint::kEmbeddings) {
    co_return api::make_error(Errc::kInvalidRequest, "mock_response is not supported for embeddings.", "model");
  }
  out.cost.usage = estimate_mock_usage(req.fields.prompt_bytes, answer);
  if (auto cost = out.price(out.cost.usage)) out.cost.response_cost = *cost;
  const std::string id = "chatcmpl-" + out.identity.request_id;
  out.answer.status = 200;
  if (!req.fields.stream) {
    auto body = out.front_end->render(mock_completion_body(endpoint, req.fields.model, answer, out.cost.usage, id, unix_now()));
    if (!body) co_return body.error();
    out.settle(*body);
    co_await send_json(ex, std::move(*body), out);
    co_return std::nullopt;
  }
  std::string body =
      mock_stream_body(endpoint, req.fields.model, answer, out.cost.usage, req.fields.client_wants_usage, id, unix_now());
  if (const auto renderer = out.front_end->stream_renderer()) {
    std::string events;
    renderer->render(body, events);
    body.swap(events);
  }
  out.settle();
  const http::HeaderList headers = response_headers(out);
  if (co_await ex.begin_stream(200, kEventStream, headers)) {
    const bool delivered = co_await ex.write_chunk(body);
    if (delivered) co_await ex.end_stream();
  }
  co_return std::nullopt;
}

}  // namespace tollgate::proxy
