#include "tollgate/limits/request_admission.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace tollgate::limits {
namespace {

struct Window {
  std::int64_t end_ms = 0;
  double seed = 0;
};

// The budget window `now` falls in. A window that ended starts the next one at zero, whether or
// not the database's reset sweep has run yet.
Window window_of(const auth::EntityLimits& l, std::int64_t now_ms) {
  if (!l.budget_duration || l.window_ms == 0) return {l.window_ms, l.spend};
  const std::int64_t end = auth::current_window_end(l.window_ms, *l.budget_duration, now_ms);
  return {end, end == l.window_ms ? l.spend : 0.0};
}

bool has_limits(const Scope& s) {
  return s.rpm >= 0 || s.tpm >= 0 || s.max_parallel >= 0 || s.max_budget >= 0;
}

Scope scope_of(std::string id, const auth::EntityLimits& l, const Window& w) {
  return Scope{.id = std::move(id),
                       .rpm = l.rpm,
                       .tpm = l.tpm,
                       .max_parallel = l.max_parallel,
                       .max_budget = l.max_budget,
                       .spend_seed = w.seed,
                       .window_ms = w.end_ms};
}

const char* kind_name(LimitKind k) {
  switch (k) {
    case LimitKind::kRpm: return "rpm";
    case LimitKind::kTpm: return "tpm";
    case LimitKind::kParallel: return "max_parallel_requests";
    case LimitKind::kBudget: return "budget";
  }
  return "limit";
}

std::string_view scope_kind(std::string_view id) { return id.substr(0, id.find(':')); }

}  // namespace

LimitGuard::~LimitGuard() { limiter_.settle(std::move(ticket_), tokens, cost, clock_.unix_ms()); }

boost::asio::awaitable<api::ApiResult<RequestAdmission>> admit_request(Limiter& limiter, const auth::Principal& p,
                                                            const auth::EntityLimits* end_user,
                                                            const std::string& model_group,
                                                            const Demand& demand, std::int64_t now_ms,
                                                            BudgetDenial* denied) {
  RequestAdmission out;
  // The master key (or no key at all) has no limits of its own, but an end user's budget and
  // rate limits bind every caller that names that end user.
  const bool keyed = !p.master && !p.token.empty();
  if (!keyed && end_user == nullptr) co_return out;
  std::vector<Scope> scopes;
  struct Soft {
    std::string scope;
    Window window;
    double soft_budget;
    std::optional<std::size_t> index;  // into scopes, when the limiter keeps its spend
  };
  std::vector<Soft> soft;
  auto add = [&](auth::Entity entity, std::string_view prefix, const auth::EntityLimits& l) {
    const Window w = window_of(l, now_ms);
    Scope s = scope_of(std::string(prefix) + l.id, l, w);
    std::optional<std::size_t> index;
    if (l.soft_budget >= 0) soft.push_back({s.id, w, l.soft_budget, std::nullopt});
    if (has_limits(s)) {
      index = scopes.size();
      scopes.push_back(std::move(s));
    }
    if (l.soft_budget >= 0) soft.back().index = index;
    out.targets.push_back({.entity = entity, .id = l.id, .window_ms = w.end_ms});
    return w;
  };
  // Soft budgets are alerts: reported when the spend (the limiter's, else the database's) reached them.
  auto check_soft = [&](const std::vector<double>& spend) {
    for (const Soft& s : soft) {
      const double current = s.index && *s.index < spend.size() ? spend[*s.index] : s.window.seed;
      if (current >= s.soft_budget) {
        out.soft_crossings.push_back({s.scope, s.window.end_ms, current, s.soft_budget});
      }
    }
  };
  Window key_window;
  if (keyed) {
    key_window = add(auth::Entity::kKey, "key:", p.key);
    if (p.user) add(auth::Entity::kUser, "user:", *p.user);
    if (p.team) out.team_spend = add(auth::Entity::kTeam, "team:", *p.team).seed;
    if (p.organization) add(auth::Entity::kOrganization, "org:", *p.organization);
  }
  if (end_user) add(auth::Entity::kEndUser, "end_user:", *end_user);

  // Per-model limits of the key, in the key's budget window (most keys have none: no scope built).
  const auto rpm = p.model_rpm_limit.find(model_group);
  const auto tpm = p.model_tpm_limit.find(model_group);
  const auto budget = p.model_max_budget.find(model_group);
  if (keyed && (rpm != p.model_rpm_limit.end() || tpm != p.model_tpm_limit.end() || budget != p.model_max_budget.end())) {
    Scope model_scope{.id = "key_model:" + p.token + ":" + model_group, .window_ms = key_window.end_ms};
    if (rpm != p.model_rpm_limit.end()) model_scope.rpm = rpm->second;
    if (tpm != p.model_tpm_limit.end()) model_scope.tpm = tpm->second;
    if (budget != p.model_max_budget.end()) {
      model_scope.max_budget = budget->second;
      if (auto s = p.model_spend.find(model_group); s != p.model_spend.end() && key_window.end_ms == p.key.window_ms) {
        model_scope.spend_seed = s->second;
      }
    }
    scopes.push_back(std::move(model_scope));
  }
  if (keyed) {
    out.targets.push_back({.entity = auth::Entity::kKey, .id = p.token, .window_ms = key_window.end_ms, .model = model_group});
  }

  if (scopes.empty()) {
    if (keyed) out.key_spend = key_window.seed;
    check_soft({});
    co_return out;
  }
  Result<Admission> admission = co_await limiter.admit(scopes, demand, now_ms);
  if (!admission) co_return api::make_error(Errc::kInternal, "Limit check failed: " + admission.error().message());
  if (const auto& d = admission->denial) {
    const std::string& id = scopes[d->scope].id;
    const std::string kind(scope_kind(id));
    if (d->kind == LimitKind::kBudget) {
      if (denied) *denied = {id, scopes[d->scope].window_ms, d->spend, d->max_budget};
      co_return api::make_error(Errc::kBudgetExceeded,
                                fmt::format("Budget has been exceeded! Current cost: {}, Max budget: {} ({} budget)",
                                            d->spend, d->max_budget, kind));
    }
    api::ApiError e = api::make_error(
        Errc::kRateLimited, fmt::format("Rate limit exceeded for {}: {} limit of {} reached.", kind, kind_name(d->kind), d->limit));
    e.retry_after = std::chrono::ceil<std::chrono::seconds>(std::max(d->retry_after, std::chrono::milliseconds(1000)));
    co_return e;
  }
  out.ticket = std::move(admission->ticket);
  out.headroom = admission->headroom;
  if (keyed) out.key_spend = key_window.seed;
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    if (i >= admission->spend.size()) break;
    if (scopes[i].id.starts_with("key:")) out.key_spend = admission->spend[i];
    if (scopes[i].id.starts_with("team:")) out.team_spend = admission->spend[i];
  }
  check_soft(admission->spend);
  co_return out;
}

}  // namespace tollgate::limits
