#pragma once
// The attempt plan: which deployment a request tries next, when it waits, and when it gives up.
// A pure state machine over the Router's rules (docs/routing.md): `next(now)` says what to do —
// call a deployment, wait, or fail with the plan's error — and `on_result` feeds it the outcome
// of the call it asked for. It holds the retry count per group, the fallback walk (with the
// caller's access rule for every fallback group), waits for a cooling group, the deployment's
// claim (rpm/tpm/parallel slots, released on every path including destruction), cooldown
// reporting and the timeout rules. It does no I/O and reads no clock: time comes in as values,
// so the unit tests run it without sockets (tests/unit/router/attempt_plan_test.cpp).
//
// Thread safety: one plan per request, used by one coroutine. The Router it reads is shared.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/router/router.hpp"

namespace tollgate::router {

/// Timeout precedence: body `timeout` > `x-litellm-timeout` header > deployment > router default.
/// The request's own value (body or header) also bounds the whole request, retries included;
/// without one the router default does.
struct RequestTimeout {
  std::chrono::milliseconds overall{0};
  std::optional<std::chrono::milliseconds> requested;  // from the body or the header
  bool from_request = false;
};

/// `timeout_header`: the x-litellm-timeout value ("" when absent; ignored unless a finite
/// number of seconds in (0, a day]).
RequestTimeout request_timeout(const config::UpstreamSettings& up, const api::RequestFields& fields,
                               std::string_view timeout_header);

struct AttemptTimeout {
  std::chrono::milliseconds configured{0};  // by the precedence rule (reported in x-litellm-timeout)
  std::chrono::milliseconds total{0};       // the whole attempt: configured, cut to the request's deadline
  std::chrono::milliseconds first_byte{0};
  std::chrono::milliseconds between_chunks{0};
};

/// Streams bound the time to first byte by `stream_timeout` (deployment, then router) when set.
/// No attempt runs past the request's deadline.
AttemptTimeout attempt_timeout_for(const config::UpstreamSettings& up, const config::Deployment& deployment,
                                   bool stream, const RequestTimeout& request, SteadyTime deadline, SteadyTime now);

/// The moment the plan is asked or told something.
struct PlanNow {
  SteadyTime steady;         // deadlines
  std::int64_t unix_ms = 0;  // the router's windows and cooldowns
  bool draining = false;     // the server is shutting down: no new attempt, wait or fallback
};

/// What the request brings to the plan.
struct PlanRequest {
  std::vector<std::string> tags;
  std::int64_t estimated_prompt_tokens = 0;
  bool stream = false;
  std::optional<int> num_retries;                 // the body's / x-litellm-max-retries
  std::optional<std::vector<std::string>> fallbacks;  // the body's fallbacks (replace the general list)
  bool mock_testing_fallbacks = false;            // the requested group's attempts fail as an outage
  bool mock_testing_rate_limit_error = false;     // ... as a rate limit
  RequestTimeout timeout;
  SteadyTime deadline;                            // start + timeout.overall
};

/// The plan's word on what happens next.
struct PlanStep {
  enum class Kind {
    kAttempt,  // call `route` (its claim is held) with `timeout`; report with on_result
    kWait,     // sleep `wait`, then ask again
    kFail,     // give up: error() and error_class() say why
  };
  Kind kind = Kind::kFail;
  const Route* route = nullptr;
  AttemptTimeout timeout;
  // mock_testing_fallbacks / mock_testing_rate_limit_error: do not call; report simulated_failure().
  bool simulated = false;
  std::chrono::milliseconds wait{0};
};

/// How the attempt the plan asked for ended.
struct AttemptReport {
  bool called = false;    // the deployment was called (its claim stands); false: released as unused
  bool answered = false;  // the client got its answer (a whole response or a stream under way)
  std::optional<api::ApiError> error;
  ErrorClass cls = ErrorClass::kServerError;
  std::optional<std::chrono::milliseconds> retry_after;
  // Of a call that happened, for the router's latency and token windows.
  double seconds = 0;
  double ttft_s = 0;
  std::optional<std::int64_t> total_tokens;  // the answer's usage; the estimate stands without it
  std::int64_t completion_tokens = 0;
};

/// Events the caller counts or logs (metrics and logs stay out of the router).
class PlanObserver {
 public:
  virtual ~PlanObserver() = default;
  virtual void retry() {}
  virtual void no_deployment() {}
  /// A fallback group's attempts ended: answered or not.
  virtual void fallback_done(std::string_view /*group*/, bool /*answered*/) {}
  virtual void fallback_denied(std::string_view /*name*/) {}
  virtual void fallback_unknown(std::string_view /*name*/) {}
};

/// Access to a fallback group: the model name to resolve (an alias may map), or nullopt when the
/// caller may not use it (the fallback is skipped and counted, never called).
using FallbackAccess = std::function<std::optional<std::string>(std::string_view name)>;

class AttemptPlan {
 public:
  /// `router`, `upstream` and `observer` must outlive the plan.
  AttemptPlan(const Router& router, const config::UpstreamSettings& upstream, Target requested, PlanRequest request,
              FallbackAccess access, PlanObserver& observer);
  ~AttemptPlan();
  AttemptPlan(const AttemptPlan&) = delete;
  AttemptPlan& operator=(const AttemptPlan&) = delete;

  PlanStep next(const PlanNow& now, std::minstd_rand& rng);
  /// The current attempt's admission was refused elsewhere (Redis's exact rpm): its claim is
  /// given back and the next step re-picks (a few times, then the group counts as full).
  void on_denied();
  /// The current attempt's deployment is being called: its claim stands even if the request is
  /// abandoned before on_result (a client that disconnects mid-stream).
  void on_call();
  /// The outcome of the current attempt. Returns the cooldown this failure started, if any.
  std::optional<std::chrono::milliseconds> on_result(AttemptReport report, const PlanNow& now);

  /// The failure a simulated attempt (PlanStep::simulated) reports.
  AttemptReport simulated_failure() const;

  const Target& target() const { return target_; }      // the group being tried
  const std::string& requested_group() const { return requested_name_; }
  bool on_requested() const { return attempted_fallbacks_ == 0; }
  int attempted_retries() const { return attempted_retries_; }
  int attempted_fallbacks() const { return attempted_fallbacks_; }
  int max_retries() const { return router_.max_retries(request_.num_retries); }
  /// Set once the plan failed (PlanStep::kFail), or after an answered attempt: none.
  const std::optional<api::ApiError>& error() const { return last_error_; }
  std::optional<api::ApiError> take_error() { return std::move(last_error_); }
  ErrorClass error_class() const { return last_class_; }

 private:
  enum class Phase { kPick, kNoRoute, kAttempting, kAfterFailure, kGroupDone, kAnswered, kFailed };
  struct Claim;

  std::optional<PlanStep> no_route(const NoDeployment& none, const PlanNow& now);
  std::optional<PlanStep> after_failure(const PlanNow& now, std::minstd_rand& rng);
  bool next_group(const PlanNow& now);
  PickInput pick_input() const;

  const Router& router_;
  const config::UpstreamSettings& upstream_;
  const Target requested_;
  const std::string requested_name_;
  PlanRequest request_;
  FallbackAccess access_;
  PlanObserver& observer_;

  Phase phase_ = Phase::kPick;
  Target target_;
  NoDeployment pending_none_;             // kNoRoute: why nothing could be picked
  const Route* current_ = nullptr;        // kAttempting
  AttemptTimeout current_timeout_;
  std::unique_ptr<Claim> claim_;
  std::vector<std::size_t> tried_;        // deployments of this group that failed this request
  std::vector<std::string> fallback_queue_;  // popped from the back
  bool fallbacks_chosen_ = false;
  int retries_in_group_ = 0;
  int waits_ = 0;
  int denials_ = 0;
  int attempted_retries_ = 0;
  int attempted_fallbacks_ = 0;
  bool attempted_ = false;                // some attempt was reported (called or simulated)
  bool pre_call_context_ = false;         // no deployment could take the prompt, before any call
  std::optional<std::chrono::milliseconds> retry_after_;  // of the last failure, for the backoff
  std::optional<api::ApiError> last_error_;
  ErrorClass last_class_ = ErrorClass::kServerError;
};

}  // namespace tollgate::router
