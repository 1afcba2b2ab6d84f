#pragma once
// Shared by the libFuzzer targets in tests/fuzz/ (docs/security.md lists them).
//
// An input is a few option bytes followed by the payload (an HTTP request, a stream, a JSON body,
// a YAML file): seeds are real transcripts behind one or two bytes, so the fuzzer starts from
// well-formed traffic. The options pick a provider, an endpoint, limits, and how the payload is
// cut into the reads a socket would deliver.
//
// A broken invariant is a crash (abort), so libFuzzer keeps the input that broke it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tollgate/http/sse_decoder.hpp"

#define TOLLGATE_FUZZ_CHECK(cond)                                                              \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace tollgate::fuzz {

/// Option bytes first, then the payload.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  /// The next option byte; 0 once the input is used up.
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  /// Everything not taken as an option.
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

/// `payload` cut into reads: seed 0 is one read, seed 1 one byte per read, any other seed reads
/// of pseudo-random sizes (up to 2^(1 + seed % 8) bytes) drawn from the seed.
inline std::vector<std::string_view> split(std::string_view payload, std::uint8_t seed) {
  std::vector<std::string_view> pieces;
  if (seed == 0) {
    pieces.push_back(payload);
    return pieces;
  }
  std::uint32_t state = 0x9e3779b9u ^ seed;
  const std::size_t max_piece = seed == 1 ? 1 : std::size_t{2} << (seed % 8);
  while (!payload.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const std::size_t n = std::min(payload.size(), 1 + state % max_piece);
    pieces.push_back(payload.substr(0, n));
    payload.remove_prefix(n);
  }
  return pieces;
}

inline bool same_events(const std::vector<http::SseEvent>& a, const std::vector<http::SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

/// Decodes `payload` twice with fresh decoders from `make`: in one read, and in the reads
/// `split_seed` cuts. A stream decoder must not depend on how the network cut its input: unless
/// a size limit tripped in either run, both yield the same events and hold back the same bytes.
/// `max_pending`: the most bytes a decoder may hold back while it has not failed (0: unchecked).
template <class MakeDecoder>
void check_decoder(MakeDecoder make, std::string_view payload, std::uint8_t split_seed, std::size_t max_pending) {
  auto whole = make();
  std::vector<http::SseEvent> whole_events;
  whole->feed(payload, whole_events);

  auto cut = make();
  std::vector<http::SseEvent> cut_events;
  for (std::string_view piece : split(payload, split_seed)) {
    cut->feed(piece, cut_events);
    if (max_pending != 0 && !cut->failed()) TOLLGATE_FUZZ_CHECK(cut->pending_bytes() <= max_pending);
    if (cut->failed()) {
      // Nothing more comes out of a failed decoder.
      const std::size_t before = cut_events.size();
      cut->feed(piece, cut_events);
      TOLLGATE_FUZZ_CHECK(cut_events.size() == before);
    }
  }
  if (whole->failed() || cut->failed()) return;
  TOLLGATE_FUZZ_CHECK(same_events(whole_events, cut_events));
  TOLLGATE_FUZZ_CHECK(whole->pending_bytes() == cut->pending_bytes());
}

}  // namespace tollgate::fuzz
