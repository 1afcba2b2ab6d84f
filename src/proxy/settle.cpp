// The end of an LLM request's accounting (docs/spend.md): its cost settles the limiter's charge,
// its spend event goes to the spend sink (the spend writer's journal and queue), and the spend
// metrics count it.
// Runs before the last byte of a successful answer is written, so a client that got its answer
// has its spend journaled even if the process dies right after.
#include <fmt/format.h>

#include "proxy/call_outcome.hpp"
#include "tollgate/api/json_text.hpp"
#include "tollgate/proxy/proxy_handler.hpp"

namespace tollgate::proxy {
namespace {

const char* call_type(api::Endpoint e) {
  switch (e) {
    case api::Endpoint::kChatCompletions: return "acompletion";
    case api::Endpoint::kCompletions: return "atext_completion";
    case api::Endpoint::kEmbeddings: return "aembedding";
  }
  return "acompletion";
}

}  // namespace

void ProxyHandler::settle_request(CallOutcome& out, bool success, std::string_view response_body) {
  if (out.settled || !out.endpoint) return;
  out.settled = true;
  const Snapshot& snap = *out.snapshot;
  const api::Usage& usage = out.usage;
  const double cost = out.route_index ? snap.gate.cost(*out.route_index, usage) : 0.0;
  std::vector<SpendTarget> targets;
  if (out.limit) {
    out.limit->tokens = usage.present ? usage.total_tokens : 0;
    out.limit->cost = cost;
    targets = out.limit->targets();
    out.limit.reset();  // settles now: the next request on this key sees it
  }
  if (!out.route_index) return;  // never reached a deployment: nothing spent, no group to label
  if (success && usage.present) snap.gate.observe_output(*out.route_index, usage.completion_tokens);

  const auth::Principal* who = out.principal;
  const std::string empty;
  const std::string& key = who ? who->token : empty;
  const std::string& team = who ? who->team_id() : empty;
  const config::Deployment& deployment = *snap.router.routes()[*out.route_index].deployment;
  snap.metrics.request_spend({.model = out.model_group,
                              .hashed_api_key = key,
                              .api_key_alias = who ? std::string_view(who->key_alias) : std::string_view(),
                              .team = team,
                              .team_alias = who ? std::string_view(who->team_alias) : std::string_view(),
                              .user = who ? std::string_view(who->user_id()) : std::string_view()},
                             cost, usage.prompt_tokens, usage.completion_tokens);
  if (who && !who->master && !key.empty()) {
    if (who->key.max_budget >= 0) {
      const double before = out.key_spend >= 0 ? out.key_spend : who->key.spend;
      snap.metrics.remaining_key_budget(key, who->key_alias, who->key.max_budget - before - cost);
    }
    if (who->team && who->team->max_budget >= 0) {
      const double before = out.team_spend >= 0 ? out.team_spend : who->team->spend;
      snap.metrics.remaining_team_budget(team, who->team_alias, who->team->max_budget - before - cost);
    }
  }

  spend::SpendSink* sink = snap.gate.spend_sink();
  if (sink == nullptr) return;  // no database: spend is counted in metrics only
  const std::int64_t now = unix_ms_now();
  spend::SpendEvent e;
  e.request_id = out.request_id;
  e.call_type = call_type(*out.endpoint);
  e.api_key = key;
  e.spend = cost;
  e.counterfactual_spend = snap.gate.counterfactual_cost(usage, cost);
  e.prompt_tokens = usage.prompt_tokens;
  e.completion_tokens = usage.completion_tokens;
  e.total_tokens = usage.total_tokens;
  e.cache_read_input_tokens = usage.cached_prompt_tokens;
  e.cache_creation_input_tokens = usage.cache_write_tokens;
  e.start_ms = out.started_ms;
  e.end_ms = now;
  e.completion_start_ms = out.first_chunk_ms > 0 ? out.first_chunk_ms : now;
  e.model = deployment.model;
  e.model_id = deployment.id;
  e.model_group = out.model_group;
  e.custom_llm_provider = deployment.provider;
  e.api_base = out.api_base;
  e.user = who ? who->user_id() : empty;
  e.team_id = team;
  e.organization_id = who && who->organization ? who->organization->id : empty;
  e.end_user = out.end_user;
  std::erase(e.end_user, '\0');  // JSON allows \u0000, PostgreSQL text does not
  // Built as text once: the journal and the database store it as is.
  std::string& m = e.metadata;
  m = "{\"user_api_key_alias\":";
  api::append_json_string(m, who ? std::string_view(who->key_alias) : std::string_view());
  m += ",\"user_api_key_team_alias\":";
  api::append_json_string(m, who ? std::string_view(who->team_alias) : std::string_view());
  m += fmt::format(",\"reasoning_tokens\":{},\"usage_reported\":{},\"stream\":{},\"status_code\":{},"
                   "\"attempted_retries\":{},\"attempted_fallbacks\":{}",
                   usage.reasoning_tokens, usage.present, out.stream, out.status, out.attempted_retries,
                   out.attempted_fallbacks);
  if (!out.error_type.empty()) {
    m += ",\"error_type\":";
    api::append_json_string(m, out.error_type);
  }
  m += '}';
  e.request_tags = out.tags;
  for (std::string& tag : e.request_tags) std::erase(tag, '\0');
  e.status = success ? "success" : "failure";
  if (snap.config->spend.store_prompts) {
    e.messages = std::string(out.request_body);
    e.response = std::string(response_body);
  }
  e.deltas.reserve(targets.size());
  for (SpendTarget& t : targets) {
    e.deltas.push_back({.entity = t.entity, .id = std::move(t.id), .amount = cost, .window_ms = t.window_ms, .model = std::move(t.model)});
  }
  sink->record(std::move(e));
}

}  // namespace tollgate::proxy
