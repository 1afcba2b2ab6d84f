#include "tollgate/proxy/gate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "tollgate/admin/control_plane.hpp"
#include "tollgate/auth/key_cache.hpp"
#include "tollgate/spend/price_table.hpp"

namespace tollgate::proxy {
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

bool has_limits(const limits::Scope& s) {
  return s.rpm >= 0 || s.tpm >= 0 || s.max_parallel >= 0 || s.max_budget >= 0;
}

limits::Scope scope_of(std::string id, const auth::EntityLimits& l, const Window& w) {
  return limits::Scope{.id = std::move(id),
                       .rpm = l.rpm,
                       .tpm = l.tpm,
                       .max_parallel = l.max_parallel,
                       .max_budget = l.max_budget,
                       .spend_seed = w.seed,
                       .window_ms = w.end_ms};
}

const char* kind_name(limits::LimitKind k) {
  switch (k) {
    case limits::LimitKind::kRpm: return "rpm";
    case limits::LimitKind::kTpm: return "tpm";
    case limits::LimitKind::kParallel: return "max_parallel_requests";
    case limits::LimitKind::kBudget: return "budget";
  }
  return "limit";
}

std::string_view scope_kind(std::string_view id) { return id.substr(0, id.find(':')); }

}  // namespace

Gate::Gate(const config::Config& config, admin::ControlPlane* control)
    : control_(control),
      keys_(control ? &control->cache() : nullptr),
      spend_(control ? &control->spend() : nullptr),
      catalog_(config), allow_on_db_unavailable_(config.control.allow_requests_on_db_unavailable) {
  const auto table = spend::PriceTable::embedded();
  const std::size_t n = config.model_list.size();
  prices_.reserve(n);
  output_limits_.reserve(n);
  observed_output_ = std::make_unique<std::atomic<std::int64_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) {
    const config::Deployment& d = config.model_list[i];
    prices_.push_back(spend::DeploymentPrice::resolve(d, *table));
    output_limits_.push_back({.max_output = d.max_output_tokens,
                              .context = d.max_input_tokens ? d.max_input_tokens : prices_.back().context_window()});
    observed_output_[i].store(kInitialObservedOutputTokens, std::memory_order_relaxed);
  }
  const std::string& baseline = config.spend.baseline_model;
  if (baseline.empty()) return;
  for (std::size_t i = 0; i < config.model_list.size() && !baseline_; ++i) {
    if (config.model_list[i].model_name == baseline) baseline_ = prices_[i];
  }
  if (baseline_) return;
  // Not a model group of this config: a provider/model the price table knows.
  config::Deployment named;
  const auto slash = baseline.find('/');
  named.provider = slash == std::string::npos ? std::string() : baseline.substr(0, slash);
  named.model = slash == std::string::npos ? baseline : baseline.substr(slash + 1);
  spend::DeploymentPrice price = spend::DeploymentPrice::resolve(named, *table);
  if (price.priced()) baseline_ = std::move(price);
}

double Gate::counterfactual_cost(const api::Usage& usage, double actual) const {
  return baseline_ ? baseline_->cost(usage) : actual;
}

std::shared_ptr<const auth::Principal> Gate::unrestricted() {
  static const auto p = std::make_shared<const auth::Principal>();
  return p;
}

boost::asio::awaitable<api::ApiResult<std::shared_ptr<const auth::Principal>>> Gate::authenticate(
    std::string_view presented, bool master_matches, std::int64_t now_ms) const {
  using Out = std::shared_ptr<const auth::Principal>;
  if (!control_) co_return unrestricted();
  if (master_matches) {
    static const Out master = [] {
      auth::Principal p;
      p.master = true;
      return std::make_shared<const auth::Principal>(std::move(p));
    }();
    co_return master;
  }
  if (presented.empty()) {
    co_return api::make_error(Errc::kUnauthorized,
                              "Authentication Error, no API key passed in. Pass it as 'Authorization: Bearer <key>'.");
  }
  std::string token = auth::hash_key(presented);
  Result<Out> found = co_await keys_->lookup(std::move(token));
  if (!found) {
    if (allow_on_db_unavailable_) co_return unrestricted();
    co_return api::make_error(Errc::kDbUnavailable,
                              "Authentication Error, the key cannot be checked: database unavailable. Try again shortly.");
  }
  const Out& p = *found;
  if (!p) co_return api::make_error(Errc::kUnauthorized, "Authentication Error, Invalid proxy server token passed.");
  if (p->expires_ms && *p->expires_ms <= now_ms) {
    co_return api::make_error(Errc::kUnauthorized,
                              "Authentication Error - Expired Key. Key Expiry time " + auth::iso8601(*p->expires_ms) + ".");
  }
  if (p->key.blocked) co_return api::make_error(Errc::kUnauthorized, "Authentication Error, Key is blocked.");
  if (p->team && p->team->blocked) {
    co_return api::make_error(Errc::kUnauthorized, "Authentication Error, Team=" + p->team->id + " is blocked.");
  }
  co_return p;
}

double Gate::cost(std::size_t route_index, const api::Usage& usage) const {
  return route_index < prices_.size() ? prices_[route_index].cost(usage) : 0.0;
}

bool Gate::priced(std::size_t route_index) const {
  return route_index < prices_.size() && prices_[route_index].priced();
}

TokenRates Gate::worst_rates(const std::vector<std::size_t>& routes) const {
  TokenRates worst;
  const WallTime now = std::chrono::system_clock::now();
  for (std::size_t i : routes) {
    if (i >= prices_.size()) continue;
    worst.input = std::max(worst.input, prices_[i].input_per_token(now));
    worst.output = std::max(worst.output, prices_[i].output_per_token(now));
  }
  return worst;
}

OutputBound Gate::output_bound(const std::vector<std::size_t>& routes) const {
  // The largest limit among the deployments (the request may land on any of them); unknown as
  // soon as one deployment's is unknown.
  auto widest = [&](std::optional<std::int64_t> OutputBound::*side) -> std::optional<std::int64_t> {
    std::optional<std::int64_t> out;
    for (std::size_t i : routes) {
      if (i >= output_limits_.size() || !(output_limits_[i].*side)) return std::nullopt;
      out = std::max(out.value_or(0), *(output_limits_[i].*side));
    }
    return out;
  };
  return {.max_output = widest(&OutputBound::max_output), .context = widest(&OutputBound::context)};
}

std::int64_t Gate::reserved_output(const std::vector<std::size_t>& routes, std::optional<std::int64_t> max_tokens,
                                   std::int64_t prompt_estimate) const {
  std::int64_t cap = kMaxReservedOutputTokens;
  const OutputBound bound = output_bound(routes);
  if (bound.max_output) cap = std::min(cap, *bound.max_output);
  if (bound.context) cap = std::min(cap, std::max<std::int64_t>(1, *bound.context - prompt_estimate));
  if (max_tokens) return std::min(*max_tokens, cap);
  std::int64_t observed = 0;
  for (std::size_t i : routes) {
    if (i < output_limits_.size()) observed = std::max(observed, observed_output_[i].load(std::memory_order_relaxed));
  }
  return std::min(cap, std::max(kMinReservedOutputTokens, 2 * observed));
}

void Gate::observe_output(std::size_t route_index, std::int64_t completion_tokens) const {
  if (route_index >= output_limits_.size() || completion_tokens < 0) return;
  // avg += (x - avg) / 8. Two workers racing may lose one sample; an estimate tolerates that.
  std::atomic<std::int64_t>& avg = observed_output_[route_index];
  const std::int64_t old = avg.load(std::memory_order_relaxed);
  const std::int64_t x = std::min(completion_tokens, kMaxReservedOutputTokens);
  avg.store(old + (x - old) / 8, std::memory_order_relaxed);
}

LimitGuard::~LimitGuard() { limiter_.settle(std::move(ticket_), tokens, cost, clock_.unix_ms()); }

boost::asio::awaitable<api::ApiResult<GateAdmission>> admit(limits::Limiter& limiter, const auth::Principal& p,
                                                            const auth::EntityLimits* end_user,
                                                            const std::string& model_group,
                                                            const limits::Demand& demand, std::int64_t now_ms,
                                                            BudgetDenial* denied) {
  GateAdmission out;
  // The master key (or no key at all) has no limits of its own, but an end user's budget and
  // rate limits bind every caller that names that end user.
  const bool keyed = !p.master && !p.token.empty();
  if (!keyed && end_user == nullptr) co_return out;
  std::vector<limits::Scope> scopes;
  struct Soft {
    std::string scope;
    Window window;
    double soft_budget;
    std::optional<std::size_t> index;  // into scopes, when the limiter keeps its spend
  };
  std::vector<Soft> soft;
  auto add = [&](auth::Entity entity, std::string_view prefix, const auth::EntityLimits& l) {
    const Window w = window_of(l, now_ms);
    limits::Scope s = scope_of(std::string(prefix) + l.id, l, w);
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
    limits::Scope model_scope{.id = "key_model:" + p.token + ":" + model_group, .window_ms = key_window.end_ms};
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
  Result<limits::Admission> admission = co_await limiter.admit(scopes, demand, now_ms);
  if (!admission) co_return api::make_error(Errc::kInternal, "Limit check failed: " + admission.error().message());
  if (const auto& d = admission->denial) {
    const std::string& id = scopes[d->scope].id;
    const std::string kind(scope_kind(id));
    if (d->kind == limits::LimitKind::kBudget) {
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

}  // namespace tollgate::proxy
