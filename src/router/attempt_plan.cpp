#include "tollgate/router/attempt_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "tollgate/api/echoed_text.hpp"

namespace tollgate::router {
namespace {

using std::chrono::milliseconds;

// How often one request re-picks after Redis refused an rpm admission.
constexpr int kMaxDenials = 3;
// How often one request waits for a cooling group to recover before giving up.
constexpr int kMaxWaits = 3;

// `x-litellm-timeout`: finite seconds above 0, at most a day (nan and inf parse, so check).
std::optional<double> parse_seconds(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value) || value <= 0 ||
      value > api::kMaxRequestTimeoutSeconds) {
    return std::nullopt;
  }
  return value;
}

milliseconds seconds_to_ms(double s) { return milliseconds(static_cast<std::int64_t>(s * 1000.0)); }

api::ApiError no_deployment_error(std::string_view group, const NoDeployment& none) {
  if (none.context_window) {
    return api::make_error(Errc::kInvalidRequest,
                           "ContextWindowExceededError: " + none.reason + " (model=" + api::capped_name(group) + ").",
                           "messages");
  }
  api::ApiError e = api::make_error(Errc::kNoDeployments, "No deployments available for selected model=" +
                                                              api::capped_name(group) + ": " + none.reason + ".");
  e.retry_after = std::chrono::ceil<std::chrono::seconds>(none.retry_after);
  return e;
}

}  // namespace

RequestTimeout request_timeout(const config::UpstreamSettings& up, const api::RequestFields& fields,
                               std::string_view timeout_header) {
  RequestTimeout t{up.default_timeout, std::nullopt, false};
  if (auto header = parse_seconds(timeout_header)) t.requested = seconds_to_ms(*header);
  if (fields.timeout_seconds) t.requested = seconds_to_ms(*fields.timeout_seconds);
  if (t.requested) {
    t.overall = *t.requested;
    t.from_request = true;
  }
  return t;
}

AttemptTimeout attempt_timeout_for(const config::UpstreamSettings& up, const config::Deployment& deployment,
                                   bool stream, const RequestTimeout& request, SteadyTime deadline, SteadyTime now) {
  const milliseconds configured = request.requested.value_or(deployment.timeout.value_or(up.default_timeout));
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
  const milliseconds total = std::max(milliseconds(1), std::min(configured, left));
  if (!stream) return {configured, total, total, total};
  milliseconds first_byte = total;
  if (deployment.stream_timeout) {
    first_byte = std::min(first_byte, *deployment.stream_timeout);
  } else if (up.default_stream_timeout) {
    first_byte = std::min(first_byte, *up.default_stream_timeout);
  }
  return {configured, total, first_byte, up.chunk_timeout};
}

// What Router::claim() took for one attempt, given back on every path: release() with the real
// token count after a call, unclaim() (as if never claimed) when the call did not happen.
struct AttemptPlan::Claim {
  Claim(const Router& r, const Route& claimed, std::int64_t estimated, std::int64_t at_ms)
      : router(r), route(claimed), estimate(estimated), actual_tokens(estimated), claimed_ms(at_ms) {}
  ~Claim() {
    if (called) {
      router.release(route, estimate, actual_tokens, claimed_ms, unix_ms_now());
    } else {
      router.unclaim(route, estimate, claimed_ms);
    }
  }
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;
  const Router& router;
  const Route& route;
  std::int64_t estimate;
  std::int64_t actual_tokens;
  std::int64_t claimed_ms;
  bool called = false;  // the deployment was called: its claim stands
};

AttemptPlan::AttemptPlan(const Router& router, const config::UpstreamSettings& upstream, Target requested,
                         PlanRequest request, FallbackAccess access, PlanObserver& observer)
    : router_(router),
      upstream_(upstream),
      requested_(requested),
      requested_name_(requested.name),
      request_(std::move(request)),
      access_(std::move(access)),
      observer_(observer),
      target_(std::move(requested)) {}

AttemptPlan::~AttemptPlan() = default;

PickInput AttemptPlan::pick_input() const {
  return PickInput{.tags = request_.tags,
                   .estimated_prompt_tokens = request_.estimated_prompt_tokens,
                   .stream = request_.stream,
                   .tried = tried_};
}

PlanStep AttemptPlan::next(const PlanNow& now, std::minstd_rand& rng) {
  for (;;) {
    switch (phase_) {
      case Phase::kPick: {
        PickResult picked = router_.pick(target_, pick_input(), now.unix_ms, rng);
        if (picked.route && !router_.claim(*picked.route, request_.estimated_prompt_tokens, now.unix_ms)) {
          // Another request took the last slot between pick and claim: count it as unavailable.
          picked.route = nullptr;
          picked.none.reason = "all deployments are cooling down or at their limits";
        }
        if (!picked.route) {
          pending_none_ = std::move(picked.none);
          phase_ = Phase::kNoRoute;
          break;
        }
        claim_ = std::make_unique<Claim>(router_, *picked.route, request_.estimated_prompt_tokens, now.unix_ms);
        current_ = picked.route;
        current_timeout_ =
            attempt_timeout_for(upstream_, *current_->deployment, request_.stream, request_.timeout, request_.deadline,
                                now.steady);
        phase_ = Phase::kAttempting;
        PlanStep step;
        step.kind = PlanStep::Kind::kAttempt;
        step.route = current_;
        step.timeout = current_timeout_;
        step.simulated = on_requested() && (request_.mock_testing_fallbacks || request_.mock_testing_rate_limit_error);
        return step;
      }
      case Phase::kNoRoute:
        if (auto step = no_route(pending_none_, now)) return *step;
        break;
      case Phase::kAfterFailure:
        if (auto step = after_failure(now, rng)) return *step;
        break;
      case Phase::kGroupDone:
        if (!next_group(now)) phase_ = Phase::kFailed;
        break;
      case Phase::kAttempting:  // next() before on_result: the attempt is abandoned as not made
        claim_.reset();
        current_ = nullptr;
        phase_ = Phase::kPick;
        break;
      case Phase::kAnswered:
      case Phase::kFailed:
        return PlanStep{};
    }
  }
}

void AttemptPlan::on_call() {
  if (claim_) claim_->called = true;
}

void AttemptPlan::on_denied() {
  claim_.reset();  // never called: unclaimed
  current_ = nullptr;
  if (++denials_ <= kMaxDenials) {
    phase_ = Phase::kPick;
    return;
  }
  pending_none_ = NoDeployment{.retry_after = std::chrono::seconds(1),
                               .reason = "all deployments are at their rpm limits"};
  phase_ = Phase::kNoRoute;
}

std::optional<PlanStep> AttemptPlan::no_route(const NoDeployment& none, const PlanNow& now) {
  // Wait for the soonest recovery only when the client gave the request its own deadline and the
  // recovery comes before it; otherwise say so at once.
  if (!none.context_window && !none.permanent && request_.timeout.from_request && waits_ < kMaxWaits &&
      !now.draining && now.steady + none.retry_after < request_.deadline) {
    ++waits_;
    phase_ = Phase::kPick;
    PlanStep step;
    step.kind = PlanStep::Kind::kWait;
    step.wait = none.retry_after;
    return step;
  }
  observer_.no_deployment();
  // After a real failure, that failure is the better answer than "nothing available".
  if (!last_error_ || !attempted_) {
    last_error_ = no_deployment_error(target_.name, none);
    last_class_ = none.context_window ? ErrorClass::kContextWindow : ErrorClass::kRateLimit;
    pre_call_context_ = none.context_window && !attempted_;
  }
  phase_ = Phase::kGroupDone;
  return std::nullopt;
}

AttemptReport AttemptPlan::simulated_failure() const {
  AttemptReport r;
  const std::string group = api::capped_name(target_.name);
  if (request_.mock_testing_rate_limit_error) {
    r.cls = ErrorClass::kRateLimit;
    r.error = api::make_error(Errc::kUpstreamStatus,
                              "RateLimitError: mock_testing_rate_limit_error set for model=" + group + ".");
    r.error->status = 429;
    r.error->code = "429";
    r.error->type = "rate_limit_error";
  } else {
    r.cls = ErrorClass::kServerError;
    r.error = api::make_error(Errc::kUpstreamStatus, "InternalServerError: mock_testing_fallbacks set for model=" +
                                                         group + ".");
    r.error->status = 500;
    r.error->code = "500";
    r.error->type = "api_error";
  }
  return r;
}

std::optional<milliseconds> AttemptPlan::on_result(AttemptReport report, const PlanNow& now) {
  if (phase_ != Phase::kAttempting || !current_) return std::nullopt;  // nothing was asked for
  const Route& route = *current_;
  std::optional<milliseconds> cooled;
  if (report.called) {
    claim_->called = true;
    claim_->actual_tokens = report.total_tokens.value_or(request_.estimated_prompt_tokens);
    if (!report.error) {
      router_.record_success(route, request_.stream, report.seconds, report.ttft_s, report.completion_tokens,
                             now.unix_ms);
    } else {
      // A timeout the client chose is the client's: it does not count against the deployment.
      const bool clients_timeout = report.cls == ErrorClass::kTimeout && request_.timeout.from_request;
      if (!clients_timeout) {
        cooled = router_.record_failure(route, report.cls, report.retry_after, current_timeout_.total, now.unix_ms);
      }
    }
  }
  claim_.reset();
  current_ = nullptr;
  attempted_ = true;
  // An answered attempt ends the plan even when it failed afterwards (a stream the upstream broke:
  // the client has the head and some chunks; the router has recorded the failure above).
  if (report.answered) {
    if (!on_requested()) observer_.fallback_done(target_.name, true);
    last_error_.reset();
    phase_ = Phase::kAnswered;
    return cooled;
  }
  last_error_ = std::move(report.error);
  if (!last_error_) last_error_ = api::make_error(Errc::kUpstreamProtocol, "the attempt failed");
  last_class_ = report.cls;
  tried_.push_back(route.index);
  if (now.draining || now.steady >= request_.deadline ||
      retries_in_group_ >= router_.retries_for(last_class_, route, request_.num_retries)) {
    phase_ = Phase::kGroupDone;
  } else {
    phase_ = Phase::kAfterFailure;
  }
  retry_after_ = report.retry_after;
  return cooled;
}

std::optional<PlanStep> AttemptPlan::after_failure(const PlanNow& now, std::minstd_rand& rng) {
  // Another deployment that has not failed this request goes at once; the same one again after a
  // backoff (which must fit in the deadline); none available now ends the retries.
  const PickResult peek = router_.pick(target_, pick_input(), now.unix_ms, rng);
  if (!peek.route) {
    phase_ = Phase::kGroupDone;
    return std::nullopt;
  }
  const bool fresh = std::find(tried_.begin(), tried_.end(), peek.route->index) == tried_.end();
  std::optional<PlanStep> wait;
  if (!fresh) {
    const milliseconds backoff = router_.backoff(retries_in_group_ + 1, retry_after_, rng);
    if (now.steady + backoff >= request_.deadline) {
      phase_ = Phase::kGroupDone;
      return std::nullopt;
    }
    wait = PlanStep{.kind = PlanStep::Kind::kWait, .wait = backoff};
  }
  ++retries_in_group_;
  ++attempted_retries_;
  observer_.retry();
  phase_ = Phase::kPick;
  return wait;
}

bool AttemptPlan::next_group(const PlanNow& now) {
  if (!on_requested()) observer_.fallback_done(target_.name, false);
  // The group failed. The fallback list comes from the requested group and the first failure's
  // class; a fallback that fails through the caller's fault ends the walk.
  if (!on_requested() && is_client_fault(last_class_) && last_class_ != ErrorClass::kContextWindow) return false;
  if (!fallbacks_chosen_) {
    fallbacks_chosen_ = true;
    const std::vector<std::string>* body = request_.fallbacks ? &*request_.fallbacks : nullptr;
    fallback_queue_ = router_.fallbacks_for(requested_, last_class_, body, pre_call_context_);
    std::reverse(fallback_queue_.begin(), fallback_queue_.end());
  }
  std::optional<Target> next;
  while (!next && !fallback_queue_.empty()) {
    // Access is decided for every group actually called: a fallback the caller may not use (from
    // the body, or the config's lists) is skipped and counted, never called.
    const std::string name = std::move(fallback_queue_.back());
    fallback_queue_.pop_back();
    const std::optional<std::string> model = access_ ? access_(name) : std::optional<std::string>(name);
    if (!model) {
      observer_.fallback_denied(name);
      continue;
    }
    next = router_.resolve(*model);
    if (!next) observer_.fallback_unknown(name);
  }
  if (!next || now.steady >= request_.deadline || now.draining) return false;
  target_ = std::move(*next);
  ++attempted_fallbacks_;
  retries_in_group_ = 0;
  waits_ = 0;
  denials_ = 0;
  tried_.clear();
  phase_ = Phase::kPick;
  return true;
}

}  // namespace tollgate::router
