#pragma once
// The token usage of one call, as every module that counts, prices or records it sees it.
#include <cstdint>

namespace tollgate::api {

/// Token usage of one call, OpenAI's names. prompt_tokens counts every input token, cached and
/// cache-written ones included; completion_tokens counts every output token, reasoning included.
struct Usage {
  bool present = false;                // the upstream reported usage
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cached_prompt_tokens = 0;   // prompt_tokens_details.cached_tokens (cache reads)
  std::int64_t cache_write_tokens = 0;     // prompt tokens written to a cache (cache creation)
  std::int64_t reasoning_tokens = 0;       // completion_tokens_details.reasoning_tokens
};

}  // namespace tollgate::api
