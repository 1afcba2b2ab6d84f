// The settle stage (settle.hpp): the end of an LLM request's accounting.
#include "proxy/settle.hpp"

#include <fmt/format.h>

#include "proxy/request_context.hpp"
#include "tollgate/api/json_text.hpp"

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

Settlement::~Settlement() {
  RequestContext& out = ctx_;
  const bool success = out.succeeded();
  const Snapshot& snap = *out.snapshot;
  const api::Usage& usage = out.cost.usage;
  const double cost = out.price(usage).value_or(0.0);
  std::vector<limits::SpendTarget> targets;
  if (out.cost.limit) {
    out.cost.limit->tokens = usage.present ? usage.total_tokens : 0;
    out.cost.limit->cost = cost;
    targets = out.cost.limit->targets();
    out.cost.limit.reset();  // settles now: the next request on this key sees it
  }
  const std::optional<std::size_t> route = out.routing.route_index;
  if (!route) return;  // never reached a deployment: nothing spent, no group to label
  if (success && usage.present) snap.prices.observe_output(*route, usage.completion_tokens);

  const auth::Principal* who = out.identity.principal;
  const std::string empty;
  const std::string& key = who ? who->token : empty;
  const std::string& team = who ? who->team_id() : empty;
  const config::Deployment& deployment = *snap.router.routes()[*route].deployment;
  snap.metrics.request_spend({.model = out.routing.model_group,
                              .hashed_api_key = key,
                              .api_key_alias = who ? std::string_view(who->key_alias) : std::string_view(),
                              .team = team,
                              .team_alias = who ? std::string_view(who->team_alias) : std::string_view(),
                              .user = who ? std::string_view(who->user_id()) : std::string_view()},
                             cost, usage.prompt_tokens, usage.completion_tokens);
  if (who && !who->master && !key.empty()) {
    if (who->key.max_budget >= 0) {
      const double before = out.cost.key_spend >= 0 ? out.cost.key_spend : who->key.spend;
      snap.metrics.remaining_key_budget(key, who->key_alias, who->key.max_budget - before - cost);
    }
    if (who->team && who->team->max_budget >= 0) {
      const double before = out.cost.team_spend >= 0 ? out.cost.team_spend : who->team->spend;
      snap.metrics.remaining_team_budget(team, who->team_alias, who->team->max_budget - before - cost);
    }
  }

  spend::SpendSink* sink = snap.spend_sink();
  if (sink == nullptr) return;  // no database: spend is counted in metrics only
  const std::int64_t now = unix_ms_now();
  spend::SpendEvent e;
  e.request_id = out.identity.request_id;
  e.call_type = call_type(*out.call.endpoint);
  e.api_key = key;
  e.spend = cost;
  e.counterfactual_spend = snap.prices.counterfactual_cost(usage, cost);
  e.prompt_tokens = usage.prompt_tokens;
  e.completion_tokens = usage.completion_tokens;
  e.total_tokens = usage.total_tokens;
  e.cache_read_input_tokens = usage.cached_prompt_tokens;
  e.cache_creation_input_tokens = usage.cache_write_tokens;
  e.start_ms = out.timings.started_ms;
  e.end_ms = now;
  e.completion_start_ms = out.upstream.first_chunk_ms > 0 ? out.upstream.first_chunk_ms : now;
  e.model = deployment.model;
  e.model_id = deployment.id;
  e.model_group = out.routing.model_group;
  e.custom_llm_provider = deployment.provider;
  e.api_base = out.routing.api_base;
  e.user = who ? who->user_id() : empty;
  e.team_id = team;
  e.organization_id = who && who->organization ? who->organization->id : empty;
  e.end_user = out.identity.end_user;
  std::erase(e.end_user, '\0');  // JSON allows \u0000, PostgreSQL text does not
  // Built as text once: the journal and the database store it as is.
  std::string& m = e.metadata;
  m = "{\"user_api_key_alias\":";
  api::append_json_string(m, who ? std::string_view(who->key_alias) : std::string_view());
  m += ",\"user_api_key_team_alias\":";
  api::append_json_string(m, who ? std::string_view(who->team_alias) : std::string_view());
  m += fmt::format(",\"reasoning_tokens\":{},\"usage_reported\":{},\"stream\":{},\"status_code\":{},"
                   "\"attempted_retries\":{},\"attempted_fallbacks\":{}",
                   usage.reasoning_tokens, usage.present, out.call.stream, out.answer.status,
                   out.routing.attempted_retries, out.routing.attempted_fallbacks);
  if (!out.answer.error_type.empty()) {
    m += ",\"error_type\":";
    api::append_json_string(m, out.answer.error_type);
  }
  m += '}';
  e.request_tags = out.identity.tags;
  for (std::string& tag : e.request_tags) std::erase(tag, '\0');
  e.status = success ? "success" : "failure";
  if (snap.config->spend.store_prompts) {
    e.messages = std::string(out.call.client_body);
    e.response = std::string(response_body);
  }
  e.deltas.reserve(targets.size());
  for (limits::SpendTarget& t : targets) {
    e.deltas.push_back({.entity = t.entity, .id = std::move(t.id), .amount = cost, .window_ms = t.window_ms, .model = std::move(t.model)});
  }
  sink->record(std::move(e));
}

}  // namespace tollgate::proxy
