#include "providers/openai_chunks.hpp"

#include <utility>

#include "tollgate/api/sse.hpp"

namespace tollgate::providers {
namespace {

nlohmann::ordered_json chunk_head(const ChunkStamp& stamp) {
  nlohmann::ordered_json chunk;
  chunk["id"] = stamp.id;
  chunk["object"] = "chat.completion.chunk";
  chunk["created"] = stamp.created;
  chunk["model"] = stamp.model;
  return chunk;
}

}  // namespace

nlohmann::ordered_json openai_usage(const Usage& u, UsageExtras extras) {
  nlohmann::ordered_json out;
  out["prompt_tokens"] = u.prompt_tokens;
  out["completion_tokens"] = u.completion_tokens;
  out["total_tokens"] = u.total_tokens;
  if (extras == UsageExtras::kNone) return out;
  out["prompt_tokens_details"] = {{"cached_tokens", u.cached_prompt_tokens}};
  if (extras == UsageExtras::kReasoning) {
    out["completion_tokens_details"] = {{"reasoning_tokens", u.reasoning_tokens}};
  } else {
    out["cache_creation_input_tokens"] = u.cache_write_tokens;
    out["cache_read_input_tokens"] = u.cached_prompt_tokens;
  }
  return out;
}

void append_delta_chunk(std::string& out, const ChunkStamp& stamp, nlohmann::ordered_json delta,
                        nlohmann::ordered_json finish_reason, std::int64_t index) {
  nlohmann::ordered_json choice;
  choice["index"] = index;
  choice["delta"] = std::move(delta);
  choice["finish_reason"] = std::move(finish_reason);
  nlohmann::ordered_json chunk = chunk_head(stamp);
  chunk["choices"] = nlohmann::ordered_json::array();
  chunk["choices"].push_back(std::move(choice));
  api::append_sse_data(out, chunk.dump());
}

void append_usage_chunk(std::string& out, const ChunkStamp& stamp, nlohmann::ordered_json usage,
                        const Provider::CostFn& cost, const Usage& counted) {
  nlohmann::ordered_json body;
  if (cost) body["cost"] = cost(counted);
  body.update(usage);
  nlohmann::ordered_json chunk = chunk_head(stamp);
  chunk["choices"] = nlohmann::ordered_json::array();
  chunk["usage"] = std::move(body);
  api::append_sse_data(out, chunk.dump());
}

}  // namespace tollgate::providers
