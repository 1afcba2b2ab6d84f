#pragma once
// The OpenAI chat.completion.chunk SSE events every vendor stream translator writes (Anthropic,
// Bedrock, Gemini, Ollama), and the usage object they and the response translators write: one
// place for those shapes.
//
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

/// What every chunk of one stream repeats.
struct ChunkStamp {
  std::string_view id;
  std::int64_t created = 0;
  std::string_view model;
};

/// What a vendor's usage object carries beyond prompt/completion/total tokens.
enum class UsageExtras {
  kNone,       // Ollama
  kReasoning,  // prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens (Gemini)
  kCache,      // prompt_tokens_details.cached_tokens and LiteLLM's Anthropic cache fields (Anthropic, Bedrock)
};

/// OpenAI's `usage` object for `u`.
nlohmann::ordered_json openai_usage(const Usage& u, UsageExtras extras);

/// `data: {"id","object":"chat.completion.chunk","created","model","choices":[{index, delta, finish_reason}]}`
void append_delta_chunk(std::string& out, const ChunkStamp& stamp, nlohmann::ordered_json delta,
                        nlohmann::ordered_json finish_reason = nullptr, std::int64_t index = 0);

/// The usage-only chunk (`choices: []`) a client asked for with stream_options.include_usage:
/// `usage` is the vendor's OpenAI-shaped usage object, with `cost` first when `cost` is set.
void append_usage_chunk(std::string& out, const ChunkStamp& stamp, nlohmann::ordered_json usage,
                        const Provider::CostFn& cost, const Usage& counted);

}  // namespace tollgate::providers
