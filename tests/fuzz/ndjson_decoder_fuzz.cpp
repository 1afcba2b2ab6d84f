// providers::NdjsonDecoder (Ollama's stream framing). Input: [split seed][limit][NDJSON bytes].
#include <memory>

#include "fuzz/fuzz_support.hpp"
#include "providers/ollama/ndjson_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const std::uint8_t seed = in.byte();
  const std::size_t max_line = in.byte() % 4 == 0 ? 0 : 64;
  auto make = [&] {
    auto d = std::make_unique<tollgate::providers::NdjsonDecoder>();
    if (max_line) d->set_max_line(max_line);
    return d;
  };
  tollgate::fuzz::check_decoder(make, in.rest(), seed, max_line);
  return 0;
}
