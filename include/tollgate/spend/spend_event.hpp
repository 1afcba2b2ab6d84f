#pragma once
// One finished LLM request's spend, as the request path records it (spend::SpendSink), the
// journal keeps it and the database stores it (a spend-log row plus the entity spend it adds;
// docs/spend.md). Plain values.
#include <cstdint>
#include <string>
#include <vector>

#include "tollgate/auth/key_store.hpp"

namespace tollgate::spend {

/// Spend to add to one entity's window `window_ms`: added when the row is in that window; a row
/// still in an earlier window (ended, not yet swept) moves to `window_ms` starting from this
/// amount; spend for an earlier window than the row's is dropped (never carried into the next).
/// With `model` set (keys only) the amount goes to the key's per-model spend instead
/// (model_spend, for model_max_budget), kept per window in its own table.
struct SpendDelta {
  auth::Entity entity;
  std::string id;
  double amount = 0;
  std::int64_t window_ms = 0;
  std::string model;
};

/// One finished LLM request as a spend-log row (LiteLLM_SpendLogs column names), and the entity
/// spend it adds. Written once per request id: a write of an id already stored is skipped, with
/// its entity spend, so a batch retried after an uncertain commit never counts twice.
struct SpendEvent {
  std::string request_id;
  std::string call_type;          // "acompletion", "atext_completion", "aembedding"
  std::string api_key;            // SHA-256 hex of the virtual key; "" for the master key
  double spend = 0;               // USD
  double counterfactual_spend = 0;  // what the same tokens would have cost on the baseline model
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cache_read_input_tokens = 0;
  std::int64_t cache_creation_input_tokens = 0;
  std::int64_t start_ms = 0;             // "startTime", unix ms
  std::int64_t end_ms = 0;               // "endTime"
  std::int64_t completion_start_ms = 0;  // "completionStartTime": first streamed byte, else end
  std::string model;                     // the deployment's model (litellm_params.model)
  std::string model_id;                  // the deployment's id
  std::string model_group;               // the requested model group
  std::string custom_llm_provider;
  std::string api_base;
  std::string user;                      // the key's user_id
  std::string team_id;
  std::string organization_id;
  std::string end_user;                  // the request's `user` / x-litellm-end-user-id
  std::string metadata = "{}";           // a JSON object, as text (built once, stored as is)
  bool cache_hit = false;
  std::vector<std::string> request_tags;
  std::string status;                    // "success" | "failure"
  std::string messages;                  // only with store_prompts_in_spend_logs
  std::string response;                  // only with store_prompts_in_spend_logs
  std::vector<SpendDelta> deltas;        // entity spend to add (not part of the row)
};

}  // namespace tollgate::spend
