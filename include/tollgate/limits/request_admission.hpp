#pragma once
// Admission of one LLM request to every rate limit and budget it falls under (docs/limits.md):
// the key, its user, team and organization, the end user, and the key's per-model limits,
// charged at once through the Limiter; the LimitGuard settles that charge with the real tokens
// and cost on every exit path.
//
// Thread safety: admit_request is a pure function of its arguments; a LimitGuard belongs to one
// request.
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/auth/principal.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/limits/limiter.hpp"

namespace tollgate::limits {

/// Who is charged for one request, kept beside the limiter's ticket.
struct SpendTarget {
  auth::Entity entity;
  std::string id;
  std::int64_t window_ms = 0;
  std::string model;  // keys: per-model spend
};

/// Settles an admitted request with the limiter on every exit path: the real tokens and cost.
/// Set `tokens` and `cost` before it goes out of scope. The spend itself reaches the database
/// through a spend event (the settle stage), charged to `targets()`. `limiter` and `clock` (the
/// time it settles at) must outlive it.
class LimitGuard {
 public:
  LimitGuard(Limiter& limiter, const tollgate::Clock& clock, Ticket ticket,
             std::vector<SpendTarget> targets)
      : limiter_(limiter), clock_(clock), ticket_(std::move(ticket)), targets_(std::move(targets)) {}
  ~LimitGuard();
  LimitGuard(const LimitGuard&) = delete;
  LimitGuard& operator=(const LimitGuard&) = delete;

  const std::vector<SpendTarget>& targets() const { return targets_; }

  std::int64_t tokens = 0;
  double cost = 0;

 private:
  Limiter& limiter_;
  const tollgate::Clock& clock_;
  Ticket ticket_;
  std::vector<SpendTarget> targets_;
};

/// A scope whose spend has reached its soft_budget (an alert, never a refusal).
struct SoftBudgetCrossing {
  std::string scope;        // "key:<token>", "team:<id>", ...
  std::int64_t window_ms = 0;
  double spend = 0;
  double soft_budget = 0;
};

/// What admit_request() decided: the ticket and spend targets to guard, the headers' numbers.
struct RequestAdmission {
  Ticket ticket;
  std::vector<SpendTarget> targets;
  Headroom headroom;
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
boost::asio::awaitable<api::ApiResult<RequestAdmission>> admit_request(Limiter& limiter,
                                                                       const auth::Principal& principal,
                                                            const auth::EntityLimits* end_user,
                                                            const std::string& model_group,
                                                            const Demand& demand, std::int64_t now_ms,
                                                            BudgetDenial* denied = nullptr);

}  // namespace tollgate::limits
