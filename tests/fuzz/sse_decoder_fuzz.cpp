// http::SseDecoder (every SSE upstream: OpenAI, Azure, Anthropic, Gemini; also the Anthropic front
// end's re-decoding of the gateway's own chunks). Input: [split seed][limit][SSE bytes].
#include <memory>

#include "fuzz/fuzz_support.hpp"
#include "tollgate/http/sse_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const std::uint8_t seed = in.byte();
  // Limit 0: the decoder's default (16 MiB); otherwise a small one, so its error path runs.
  const std::size_t max_line = in.byte() % 4 == 0 ? 0 : 64;
  auto make = [&] {
    auto d = std::make_unique<tollgate::http::SseDecoder>();
    if (max_line) d->set_max_line(max_line);
    return d;
  };
  // Held back at most: the partial line and the event's data so far, each within the limit.
  tollgate::fuzz::check_decoder(make, in.rest(), seed, max_line ? 2 * max_line + 1 : 0);
  return 0;
}
