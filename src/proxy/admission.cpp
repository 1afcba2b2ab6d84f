// The access-and-admission stage (admission.hpp).
#include "proxy/admission.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tollgate/alerting/alerter.hpp"

namespace tollgate::proxy {

api::ApiResult<std::string> check_access(const auth::Principal& principal, std::string_view requested,
                                         const auth::ModelCatalog& catalog) {
  auth::AccessDecision access = auth::check_model_access(principal, requested, catalog);
  if (access.allowed) return std::move(access.model);
  std::string message = access.by_team ? "Team not allowed to access model. Team=" + principal.team_id() +
                                             ", Model=" + capped_name(requested)
                                       : "key not allowed to access model. This key can only access models=" +
                                             nlohmann::json(principal.key.models).dump() + ". Tried to access " +
                                             capped_name(requested);
  api::ApiError denied = api::make_error(Errc::kModelAccessDenied, std::move(message), "model");
  if (access.by_team) denied.type = "team_model_access_denied";
  return denied;
}

std::optional<api::ApiError> check_max_tokens(const spend::PriceBook& prices, const router::Target& group,
                                              const api::RequestFields& fields) {
  if (!fields.max_tokens) return std::nullopt;
  const std::int64_t asked = *fields.max_tokens;
  const spend::OutputBound bound = prices.output_bound(group.group->members);
  if (bound.max_output && asked > *bound.max_output) {
    return api::make_error(Errc::kInvalidRequest,
                           fmt::format("max_tokens is too large: {}. This model supports at most {} completion "
                                       "tokens, whereas you provided {}.", asked, *bound.max_output, asked),
                           "max_tokens");
  }
  if (bound.context && asked > *bound.context) {
    return api::make_error(Errc::kInvalidRequest,
                           fmt::format("max_tokens is too large: {}. This model's context window is {} tokens.",
                                       asked, *bound.context),
                           "max_tokens");
  }
  return std::nullopt;
}

boost::asio::awaitable<std::optional<api::ApiError>> admit_limits(Worker& worker, const auth::Principal& principal,
                                                                  const api::RequestFields& fields,
                                                                  const router::Target& group, std::int64_t estimate,
                                                                  RequestContext& ctx) {
  const Snapshot& snap = *ctx.snapshot;
  // Keyless callers (the master key) still answer to the end user's limits, when one is named.
  const bool keyed = !principal.master && !principal.token.empty();
  if (!worker.limiter || snap.control == nullptr || (!keyed && ctx.identity.end_user.empty())) co_return std::nullopt;
  ControlAccess& control = *snap.control;
  const std::string& end_user_id = ctx.identity.end_user;
  std::shared_ptr<const auth::EntityLimits> end_user;
  if (!end_user_id.empty()) {
    Result<std::shared_ptr<const auth::EntityLimits>> found = co_await control.keys().lookup_end_user(end_user_id);
    if (found) end_user = *found;  // a database outage leaves the end user's limits unchecked
    if (end_user && end_user->blocked) {
      co_return api::make_error(Errc::kForbidden, "Blocked end user: " + capped_name(end_user_id) + ".", "user");
    }
  }
  const spend::TokenRates rates = snap.prices.worst_rates(group.group->members);
  const std::int64_t output = snap.prices.reserved_output(group.group->members, fields.max_tokens, estimate);
  const limits::Demand demand{.tokens = estimate + output,
                              .cost = static_cast<double>(estimate) * rates.input + static_cast<double>(output) * rates.output};
  const std::int64_t now = worker.clock.unix_ms();
  limits::BudgetDenial denied;
  api::ApiResult<limits::RequestAdmission> admitted =
      co_await limits::admit_request(*worker.limiter, principal, end_user.get(), group.name, demand, now, &denied);
  if (!admitted && snap.alerter && !denied.scope.empty()) {
    snap.alerter->budget_exceeded(denied.scope, denied.window_ms, denied.spend, denied.max_budget);
  }
  if (!admitted) co_return admitted.error();
  ctx.cost.headroom = admitted->headroom;
  ctx.cost.key_spend = admitted->key_spend;
  ctx.cost.team_spend = admitted->team_spend;
  for (const limits::SoftBudgetCrossing& c : admitted->soft_crossings) {
    if (!control.first_soft_budget_alert(c.scope, c.window_ms)) continue;
    const std::string_view entity = std::string_view(c.scope).substr(0, c.scope.find(':'));
    snap.metrics.soft_budget_alert(entity);
    if (snap.alerter) snap.alerter->soft_budget(c.scope, c.window_ms, c.spend, c.soft_budget);
    worker.log->warn("request_id={} msg=\"soft budget reached\" scope={} spend={} soft_budget={}",
                     ctx.identity.request_id, c.scope, c.spend, c.soft_budget);
  }
  ctx.cost.limit.emplace(*worker.limiter, worker.clock, std::move(admitted->ticket), std::move(admitted->targets));
  co_return std::nullopt;
}

}  // namespace tollgate::proxy
