#pragma once
// The OpenAI chat.completion.chunk SSE events every vendor stream translator writes (Anthropic,
// Bedrock, Gemini, Ollama): one place for the chunk's shape.
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

/// `data: {"id","object":"chat.completion.chunk","created","model","choices":[{index, delta, finish_reason}]}`
void append_delta_chunk(std::string& out, const ChunkStamp& stamp, nlohmann::ordered_json delta,
                        nlohmann::ordered_json finish_reason = nullptr, std::int64_t index = 0);

/// The usage-only chunk (`choices: []`) a client asked for with stream_options.include_usage:
/// `usage` is the vendor's OpenAI-shaped usage object, with `cost` first when `cost` is set.
void append_usage_chunk(std::string& out, const ChunkStamp& stamp, nlohmann::ordered_json usage,
                        const Provider::CostFn& cost, const Usage& counted);

}  // namespace tollgate::providers
