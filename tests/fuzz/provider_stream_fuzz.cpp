// Each provider adapter on a streamed upstream answer, as ProxyHandler::relay_stream runs it: the
// adapter's stream decoder (SSE, NDJSON or AWS event stream) fed the body in network-sized reads,
// each event through its StreamTranslator, and for an Anthropic-SDK client the translator's output
// through frontend::MessagesStreamWriter. What reaches the client must be well-formed SSE whose
// every data payload is JSON (or [DONE]).
// Input: [provider][options: bit 0 client asked for usage, bit 1 priced (usage.cost), bit 2
// Anthropic-SDK client, bits 3-7 split seed][stream bytes].
#include <string>
#include <vector>

#include "fuzz/fuzz_providers.hpp"
#include "fuzz/fuzz_support.hpp"
#include "frontend/anthropic/messages_translate.hpp"
#include "tollgate/api/json_scan.hpp"
#include "tollgate/http/sse_decoder.hpp"

namespace api = tollgate::api;
namespace providers = tollgate::providers;
namespace frontend = tollgate::frontend;

namespace {

// Client-bound bytes: complete events only, each data payload JSON or [DONE].
void check_client_sse(const std::string& sse) {
  tollgate::http::SseDecoder d;
  std::vector<tollgate::http::SseEvent> events;
  d.feed(sse, events);
  TOLLGATE_FUZZ_CHECK(!d.failed() && d.pending_bytes() == 0);
  for (const auto& e : events) {
    if (e.data == "[DONE]") continue;
    if (!api::is_valid_json(e.data, {.reject_duplicates = false})) {
      std::fprintf(stderr, "client-bound data is not JSON: %s\n", e.data.c_str());
      TOLLGATE_FUZZ_CHECK(false);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const auto& p = tollgate::fuzz::pick_provider(in.byte());
  const std::uint8_t options = in.byte();
  const bool client_wants_usage = (options & 1) != 0;
  providers::Provider::CostFn cost;
  if (options & 2) {
    cost = [](const api::Usage& u) {
      return static_cast<double>(u.prompt_tokens) * 2.5e-6 + static_cast<double>(u.completion_tokens) * 1e-5;
    };
  }
  const bool anthropic_client = (options & 4) != 0;

  auto translator = p.provider->make_stream_translator(client_wants_usage, std::move(cost));
  auto decoder = p.provider->make_stream_decoder();
  frontend::MessagesStreamWriter writer;
  std::string client;  // everything the client received
  std::vector<tollgate::http::SseEvent> events;
  std::optional<api::ApiError> failure;
  for (std::string_view piece : tollgate::fuzz::split(in.rest(), options >> 3)) {
    std::string pending;
    decoder->feed(piece, events);
    if (decoder->failed()) failure = api::make_error(tollgate::Errc::kUpstreamProtocol, "malformed");
    for (const auto& event : events) {
      if (failure) break;
      failure = translator->on_event(event, pending);
    }
    events.clear();
    if (anthropic_client && !pending.empty()) {
      std::string anthropic;
      writer.translate(pending, anthropic);
      pending.swap(anthropic);
    }
    client += pending;
    if (translator->finished()) (void)translator->usage();
    if (failure) break;
  }
  if (failure) {
    // The error goes out as a last event in the client's format.
    if (anthropic_client) {
      client += "event: error\ndata: " + frontend::anthropic_error_json(*failure) + "\n\n";
    } else {
      client += "data: " + api::error_json(*failure) + "\n\n";
    }
  }
  check_client_sse(client);
  const api::Usage& usage = translator->usage();
  (void)usage;
  return 0;
}
