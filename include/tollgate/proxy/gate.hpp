#pragma once
// The control plane's checks on an LLM request (docs/admin-api.md, "Enforcement"):
//   authenticate() — the master key, or a virtual key from the key cache (expired, blocked and
//                    unknown keys refused; a database outage answered per
//                    allow_requests_on_db_unavailable);
//   model access   — auth::check_model_access() against the snapshot's catalog;
//   admit()        — every rate limit and budget the request falls under (key, user, team,
//                    organization, end user, key×model) charged at once through the Limiter;
//   LimitGuard     — settles the charge on every exit path with the real tokens and cost;
//   spend_sink()   — where the settled request's spend event goes (spend::SpendSink).
// It also holds each deployment's price (spend::DeploymentPrice), resolved once per snapshot
// whether or not a master key is set: every request's cost is known (docs/pricing.md).
//
// Thread safety: Gate is immutable (part of a Snapshot); a LimitGuard belongs to one request.
// Lifetime: the control plane (and with it the key cache and spend sink) outlives the gate.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/auth/key_store.hpp"
#include "tollgate/auth/model_access.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/limits/limiter.hpp"
#include "tollgate/providers/provider.hpp"
#include "tollgate/spend/deployment_price.hpp"
#include "tollgate/spend/spend_sink.hpp"

namespace tollgate::admin {
class ControlPlane;
}
namespace tollgate::auth {
class KeyCache;
}

namespace tollgate::proxy {

/// Base-tier USD per token of one deployment (override, else the price table; 0 when unpriced).
struct TokenRates {
  double input = 0;
  double output = 0;
};

/// What a group's deployments accept as output (model_info.max_output_tokens; the context window
/// from model_info.max_input_tokens or the price data). nullopt when any deployment's is unknown.
struct OutputBound {
  std::optional<std::int64_t> max_output;  // the largest max_tokens any deployment of the group takes
  std::optional<std::int64_t> context;     // the largest context window among them
};

/// Output tokens reserved for a request without max_tokens: twice the completion size the group's
/// deployments have been answering with (a moving average), never below this...
inline constexpr std::int64_t kMinReservedOutputTokens = 256;
/// ...and never above the reservation cap. Before any answer, the average starts here.
inline constexpr std::int64_t kInitialObservedOutputTokens = 256;
/// The most output a reservation assumes when no deployment limit bounds it.
inline constexpr std::int64_t kMaxReservedOutputTokens = 262'144;

class Gate {
 public:
  /// `control` null: no master key, every request is let through unchecked.
  Gate(const config::Config& config, admin::ControlPlane* control);

  bool enabled() const { return control_ != nullptr; }
  admin::ControlPlane* control() const { return control_; }
  /// Where settled requests' spend events go; null without a control plane (no database).
  spend::SpendSink* spend_sink() const { return spend_; }
  const auth::ModelCatalog& catalog() const { return catalog_; }

  /// The principal of a presented key, or the error to answer (401, 503).
  boost::asio::awaitable<api::ApiResult<std::shared_ptr<const auth::Principal>>> authenticate(
      std::string_view presented, bool master_matches, std::int64_t now_ms) const;

  /// The request's cost on deployment `route_index` (spend::DeploymentPrice::cost; 0 when the
  /// deployment has no price).
  double cost(std::size_t route_index, const api::Usage& usage) const;
  /// What `usage` would have cost on general_settings.baseline_model (a model group of this
  /// config, else a provider/model the price table knows); `actual` when no baseline is set.
  double counterfactual_cost(const api::Usage& usage, double actual) const;
  /// Whether deployment `route_index` has a price (see spend::DeploymentPrice::priced).
  bool priced(std::size_t route_index) const;
  /// Worst case over `routes` (a group's deployments): the dearest input and output rates.
  TokenRates worst_rates(const std::vector<std::size_t>& routes) const;
  /// The output limits of a group (`routes`: its deployments).
  OutputBound output_bound(const std::vector<std::size_t>& routes) const;
  /// Output tokens to reserve for a request on `routes` (docs/limits.md, "What a request
  /// reserves"): `max_tokens` when given, else the observed estimate; either capped by the group's
  /// output limit and by its context window less the prompt.
  std::int64_t reserved_output(const std::vector<std::size_t>& routes, std::optional<std::int64_t> max_tokens,
                               std::int64_t prompt_estimate) const;
  /// Feeds a finished answer's completion tokens on `route_index` into its moving average.
  /// Lock-free; callable from any worker.
  void observe_output(std::size_t route_index, std::int64_t completion_tokens) const;

  /// A principal for requests that pass without one (no master key, or the database is down and
  /// allow_requests_on_db_unavailable is set): no limits, every model.
  static std::shared_ptr<const auth::Principal> unrestricted();

 private:
  admin::ControlPlane* control_;
  auth::KeyCache* keys_;     // control_'s key cache; null without one
  spend::SpendSink* spend_;  // control_'s spend writer; null without one
  auth::ModelCatalog catalog_;
  std::vector<spend::DeploymentPrice> prices_;  // by route index
  std::vector<OutputBound> output_limits_;      // by route index: that deployment's own limits
  // By route index: moving average of completion tokens (observe_output). Mutable statistics in
  // an otherwise immutable snapshot; a reload starts them again.
  std::unique_ptr<std::atomic<std::int64_t>[]> observed_output_;
  std::optional<spend::DeploymentPrice> baseline_;  // general_settings.baseline_model's price
  bool allow_on_db_unavailable_;
};

/// Who is charged for one request, kept beside the limiter's ticket.
struct SpendTarget {
  auth::Entity entity;
  std::string id;
  std::int64_t window_ms = 0;
  std::string model;  // keys: per-model spend
};

/// Settles an admitted request with the limiter on every exit path: the real tokens and cost.
/// Set `tokens` and `cost` before it goes out of scope. The spend itself reaches the database
/// through a spend event (ProxyHandler), charged to `targets()`. `limiter` and `clock` (the
/// time it settles at) must outlive it.
class LimitGuard {
 public:
  LimitGuard(limits::Limiter& limiter, const tollgate::Clock& clock, limits::Ticket ticket,
             std::vector<SpendTarget> targets)
      : limiter_(limiter), clock_(clock), ticket_(std::move(ticket)), targets_(std::move(targets)) {}
  ~LimitGuard();
  LimitGuard(const LimitGuard&) = delete;
  LimitGuard& operator=(const LimitGuard&) = delete;

  const std::vector<SpendTarget>& targets() const { return targets_; }

  std::int64_t tokens = 0;
  double cost = 0;

 private:
  limits::Limiter& limiter_;
  const tollgate::Clock& clock_;
  limits::Ticket ticket_;
  std::vector<SpendTarget> targets_;
};

/// What admit() decided: the ticket and spend targets to guard, the headers' numbers.
/// A scope whose spend has reached its soft_budget (an alert, never a refusal).
struct SoftBudgetCrossing {
  std::string scope;        // "key:<token>", "team:<id>", ...
  std::int64_t window_ms = 0;
  double spend = 0;
  double soft_budget = 0;
};

struct GateAdmission {
  limits::Ticket ticket;
  std::vector<SpendTarget> targets;
  limits::Headroom headroom;
  double key_spend = -1;   // < 0: no key spend to report
  double team_spend = -1;  // < 0: no team
  std::vector<SoftBudgetCrossing> soft_crossings;
};

/// The budget behind a 400 budget_exceeded, for the alert.
struct BudgetDenial {
  std::string scope;
  std::int64_t window_ms = 0;
  double spend = 0;
  double max_budget = 0;
};

/// Builds the scopes of `principal` (+ the end user's, when known) for `model_group`, charges
/// `demand`, and answers 429 (rate limit, with retry-after) or 400 (budget_exceeded) when denied;
/// on a budget denial `*denied` (when given) says which budget.
boost::asio::awaitable<api::ApiResult<GateAdmission>> admit(limits::Limiter& limiter, const auth::Principal& principal,
                                                            const auth::EntityLimits* end_user,
                                                            const std::string& model_group,
                                                            const limits::Demand& demand, std::int64_t now_ms,
                                                            BudgetDenial* denied = nullptr);

}  // namespace tollgate::proxy
