// providers::bedrock::EventStreamDecoder (AWS event stream, Bedrock's ConverseStream body).
// Input: [split seed][event stream bytes].
#include <memory>

#include "fuzz/fuzz_support.hpp"
#include "providers/bedrock/eventstream.hpp"

namespace bedrock = tollgate::providers::bedrock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const std::uint8_t seed = in.byte();
  const std::string_view payload = in.rest();
  auto make = [] { return std::make_unique<bedrock::EventStreamDecoder>(); };
  // A message is held until complete, and none may exceed AWS's 16 MiB.
  tollgate::fuzz::check_decoder(make, payload, seed, bedrock::EventStreamDecoder::kMaxMessageBytes);

  // Whatever decodes re-encodes (as a message of string headers) and decodes to the same event.
  bedrock::EventStreamDecoder d;
  std::vector<tollgate::http::SseEvent> events;
  d.feed(payload, events);
  TOLLGATE_FUZZ_CHECK(d.failed() == !d.failure().empty());
  for (const auto& e : events) {
    if (e.event.size() > 0xffff) continue;  // "exception:" + a 64 KiB type no longer fits one header value
    const std::string again = bedrock::encode_event_message({{":event-type", e.event}}, e.data);
    bedrock::EventStreamDecoder d2;
    std::vector<tollgate::http::SseEvent> out;
    d2.feed(again, out);
    TOLLGATE_FUZZ_CHECK(!d2.failed() && out.size() == 1 && d2.pending_bytes() == 0);
    TOLLGATE_FUZZ_CHECK(out[0].event == e.event && out[0].data == e.data);
  }
  return 0;
}
