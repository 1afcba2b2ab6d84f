// The attempt plan without sockets: every step is asked for with the time as a value, outcomes
// are reported as the proxy would, and the router's state (claims, cooldowns) is read back.
#include "tollgate/router/attempt_plan.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tollgate::router {
namespace {

using namespace std::chrono_literals;
using config::Deployment;
using Kind = PlanStep::Kind;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // unix ms at the plan's start

Deployment dep(std::string id, std::string group) {
  Deployment d;
  d.id = std::move(id);
  d.model_name = std::move(group);
  d.provider = "openai";
  d.model = "m-" + d.id;
  d.api_base = "http://127.0.0.1:9/v1";
  return d;
}

struct Events final : PlanObserver {
  void retry() override { log.push_back("retry"); }
  void no_deployment() override { log.push_back("no_deployment"); }
  void fallback_done(std::string_view group, bool answered) override {
    log.push_back("fallback " + std::string(group) + (answered ? " ok" : " failed"));
  }
  void fallback_denied(std::string_view name) override { log.push_back("denied " + std::string(name)); }
  void fallback_unknown(std::string_view name) override { log.push_back("unknown " + std::string(name)); }
  std::vector<std::string> log;
};

AttemptReport failure(ErrorClass cls, unsigned status = 500) {
  AttemptReport r;
  r.called = true;
  r.cls = cls;
  r.error = api::make_error(Errc::kUpstreamStatus, "upstream failed");
  r.error->status = status;
  return r;
}

AttemptReport success(std::int64_t total_tokens = 10) {
  AttemptReport r;
  r.called = true;
  r.answered = true;
  r.seconds = 0.5;
  r.total_tokens = total_tokens;
  r.completion_tokens = 5;
  return r;
}

struct Fixture {
  explicit Fixture(std::vector<Deployment> deployments, config::RouterSettings settings = {}) {
    cfg.model_list = std::move(deployments);
    cfg.router = std::move(settings);
    router = std::make_unique<Router>(cfg);
  }

  // A plan for `group` whose clock starts at `steady0` (steady) and kT0 (unix ms).
  std::unique_ptr<AttemptPlan> plan(std::string_view group, PlanRequest request = {},
                                    FallbackAccess access = {}) {
    if (request.deadline == SteadyTime{}) {
      request.timeout.overall = 600s;
      request.deadline = steady0 + request.timeout.overall;
    }
    return std::make_unique<AttemptPlan>(*router, cfg.upstream, *router->resolve(group), std::move(request),
                                         std::move(access), events);
  }
  PlanNow at(std::chrono::milliseconds since_start, bool draining = false) const {
    return PlanNow{steady0 + since_start, kT0 + since_start.count(), draining};
  }
  int in_flight(std::string_view id) const {
    for (const auto& r : router->routes()) {
      if (r.deployment->id == id) return r.state->in_flight.load();
    }
    return -1;
  }
  std::int64_t cooldown_until(std::string_view id) const {
    for (const auto& r : router->routes()) {
      if (r.deployment->id == id) return r.state->cooldown_until_ms.load();
    }
    return -1;
  }

  config::Config cfg;
  std::unique_ptr<Router> router;
  Events events;
  std::minstd_rand rng{7};
  SteadyTime steady0 = SteadyTime{} + 1000h;
};

TEST(AttemptPlanTest, OneAttemptThatAnswersEndsThePlanWithoutAnError) {
  Fixture f({dep("a", "g")});
  auto plan = f.plan("g");
  const PlanStep step = plan->next(f.at(0ms), f.rng);
  ASSERT_EQ(step.kind, Kind::kAttempt);
  EXPECT_EQ(step.route->deployment->id, "a");
  EXPECT_FALSE(step.simulated);
  EXPECT_EQ(f.in_flight("a"), 1);  // claimed before the call
  plan->on_call();
  EXPECT_EQ(plan->on_result(success(), f.at(10ms)), std::nullopt);
  EXPECT_EQ(f.in_flight("a"), 0);  // released with the answer
  EXPECT_EQ(plan->next(f.at(10ms), f.rng).kind, Kind::kFail);
  EXPECT_FALSE(plan->error());
  EXPECT_EQ(plan->attempted_retries(), 0);
  EXPECT_TRUE(f.events.log.empty());
}

TEST(AttemptPlanTest, AFailedDeploymentIsRetriedOnAnotherAtOnce) {
  Fixture f({dep("a", "g"), dep("b", "g")});
  auto plan = f.plan("g");
  const PlanStep first = plan->next(f.at(0ms), f.rng);
  ASSERT_EQ(first.kind, Kind::kAttempt);
  const std::string first_id = first.route->deployment->id;
  plan->on_result(failure(ErrorClass::kServerError), f.at(5ms));
  const PlanStep second = plan->next(f.at(5ms), f.rng);
  ASSERT_EQ(second.kind, Kind::kAttempt) << "another deployment goes without a wait";
  EXPECT_NE(second.route->deployment->id, first_id);
  EXPECT_EQ(plan->attempted_retries(), 1);
  EXPECT_EQ(f.events.log, std::vector<std::string>{"retry"});
  plan->on_result(success(), f.at(9ms));
  EXPECT_FALSE(plan->error());
}

TEST(AttemptPlanTest, TheSameDeploymentIsRetriedAfterABackoffThatFitsTheDeadline) {
  Fixture f({dep("a", "g")});
  auto plan = f.plan("g");
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  plan->on_result(failure(ErrorClass::kServerError), f.at(5ms));
  const PlanStep wait = plan->next(f.at(5ms), f.rng);
  ASSERT_EQ(wait.kind, Kind::kWait);
  EXPECT_GT(wait.wait, 0ms);
  EXPECT_LE(wait.wait, 8000ms);
  const PlanStep again = plan->next(f.at(5ms + wait.wait), f.rng);
  ASSERT_EQ(again.kind, Kind::kAttempt);
  EXPECT_EQ(again.route->deployment->id, "a");
}

TEST(AttemptPlanTest, ABackoffPastTheDeadlineEndsWithTheAttemptsError) {
  Fixture f({dep("a", "g")});
  PlanRequest request;
  request.timeout = {.overall = 100ms, .requested = 100ms, .from_request = true};
  request.deadline = f.steady0 + 100ms;
  auto plan = f.plan("g", std::move(request));
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  plan->on_result(failure(ErrorClass::kServerError, 503), f.at(90ms));
  EXPECT_EQ(plan->next(f.at(90ms), f.rng).kind, Kind::kFail);
  ASSERT_TRUE(plan->error());
  EXPECT_EQ(plan->error()->status, 503u);
  EXPECT_EQ(plan->error_class(), ErrorClass::kServerError);
  EXPECT_EQ(plan->attempted_retries(), 0) << "a retry that never happened is not counted";
}

TEST(AttemptPlanTest, RetriesExhaustedThenTheFallbackGroupAnswers) {
  config::RouterSettings settings;
  settings.num_retries = 1;
  settings.fallbacks["g"] = {"h"};
  Fixture f({dep("a", "g"), dep("b", "g"), dep("c", "h")}, settings);
  auto plan = f.plan("g");
  for (int i = 0; i < 2; ++i) {  // the first attempt and one retry, on the two deployments
    const PlanStep step = plan->next(f.at(0ms), f.rng);
    ASSERT_EQ(step.kind, Kind::kAttempt);
    EXPECT_EQ(step.route->deployment->model_name, "g");
    plan->on_result(failure(ErrorClass::kServerError), f.at(1ms));
  }
  const PlanStep fallback = plan->next(f.at(2ms), f.rng);
  ASSERT_EQ(fallback.kind, Kind::kAttempt);
  EXPECT_EQ(fallback.route->deployment->id, "c");
  EXPECT_FALSE(plan->on_requested());
  EXPECT_EQ(plan->target().name, "h");
  EXPECT_EQ(plan->attempted_fallbacks(), 1);
  plan->on_result(success(), f.at(3ms));
  EXPECT_FALSE(plan->error());
  EXPECT_EQ(f.events.log, (std::vector<std::string>{"retry", "fallback h ok"}));
}

TEST(AttemptPlanTest, AFallbackTheCallerMayNotUseIsSkippedAndCountedNeverCalled) {
  config::RouterSettings settings;
  settings.num_retries = 0;
  settings.fallbacks["g"] = {"secret", "nowhere", "h"};
  Fixture f({dep("a", "g"), dep("s", "secret"), dep("c", "h")}, settings);
  auto plan = f.plan("g", {}, [](std::string_view name) -> std::optional<std::string> {
    if (name == "secret") return std::nullopt;
    return std::string(name);
  });
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  plan->on_result(failure(ErrorClass::kServerError), f.at(1ms));
  const PlanStep step = plan->next(f.at(1ms), f.rng);
  ASSERT_EQ(step.kind, Kind::kAttempt);
  EXPECT_EQ(step.route->deployment->id, "c");
  EXPECT_EQ(f.in_flight("s"), 0);
  EXPECT_EQ(f.events.log, (std::vector<std::string>{"denied secret", "unknown nowhere"}));
}

TEST(AttemptPlanTest, AClientFaultOnAFallbackEndsTheWalk) {
  config::RouterSettings settings;
  settings.num_retries = 0;
  settings.fallbacks["g"] = {"h", "i"};
  Fixture f({dep("a", "g"), dep("b", "h"), dep("c", "i")}, settings);
  auto plan = f.plan("g");
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  plan->on_result(failure(ErrorClass::kServerError), f.at(1ms));
  const PlanStep on_h = plan->next(f.at(1ms), f.rng);
  ASSERT_EQ(on_h.kind, Kind::kAttempt);
  EXPECT_EQ(on_h.route->deployment->id, "b");
  plan->on_result(failure(ErrorClass::kBadRequest, 400), f.at(2ms));
  EXPECT_EQ(plan->next(f.at(2ms), f.rng).kind, Kind::kFail);
  EXPECT_EQ(plan->error()->status, 400u);
  EXPECT_EQ(plan->error_class(), ErrorClass::kBadRequest);
  EXPECT_EQ(f.events.log, (std::vector<std::string>{"fallback h failed"}));
}

TEST(AttemptPlanTest, ACoolingGroupIsAwaitedOnlyWithTheClientsOwnDeadline) {
  Fixture f({dep("a", "g")});
  f.router->state(0).cooldown_until_ms = kT0 + 2000;
  {
    auto plan = f.plan("g");  // the router's default timeout: no wait, the error at once
    EXPECT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kFail);
    EXPECT_EQ(plan->error()->errc, Errc::kNoDeployments);
    EXPECT_EQ(plan->error_class(), ErrorClass::kRateLimit);
  }
  PlanRequest request;
  request.timeout = {.overall = 10s, .requested = 10s, .from_request = true};
  request.deadline = f.steady0 + 10s;
  auto plan = f.plan("g", std::move(request));
  const PlanStep wait = plan->next(f.at(0ms), f.rng);
  ASSERT_EQ(wait.kind, Kind::kWait);
  EXPECT_GE(wait.wait, 1000ms);
  EXPECT_LE(wait.wait, 2000ms);
  const PlanStep attempt = plan->next(f.at(2000ms), f.rng);
  ASSERT_EQ(attempt.kind, Kind::kAttempt);
  EXPECT_EQ(attempt.route->deployment->id, "a");
}

TEST(AttemptPlanTest, RepeatedAdmissionDenialsEndAsNoDeploymentAndGiveEveryClaimBack) {
  Fixture f({dep("a", "g")});
  auto plan = f.plan("g");
  for (int i = 0; i < 4; ++i) {
    const PlanStep step = plan->next(f.at(0ms), f.rng);
    ASSERT_EQ(step.kind, Kind::kAttempt) << i;
    EXPECT_EQ(f.in_flight("a"), 1);
    plan->on_denied();
    EXPECT_EQ(f.in_flight("a"), 0);
  }
  EXPECT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kFail);
  EXPECT_NE(plan->error()->message.find("rpm limits"), std::string::npos) << plan->error()->message;
  EXPECT_EQ(f.events.log, std::vector<std::string>{"no_deployment"});
}

TEST(AttemptPlanTest, MockTestingFallbacksSimulateTheRequestedGroupOnlyAndReleaseItsClaim) {
  config::RouterSettings settings;
  settings.num_retries = 0;
  settings.fallbacks["g"] = {"h"};
  Fixture f({dep("a", "g"), dep("c", "h")}, settings);
  PlanRequest request;
  request.mock_testing_fallbacks = true;
  auto plan = f.plan("g", std::move(request));
  const PlanStep step = plan->next(f.at(0ms), f.rng);
  ASSERT_EQ(step.kind, Kind::kAttempt);
  EXPECT_TRUE(step.simulated);
  const AttemptReport simulated = plan->simulated_failure();
  EXPECT_FALSE(simulated.called);
  EXPECT_EQ(simulated.error->status, 500u);
  plan->on_result(simulated, f.at(0ms));
  EXPECT_EQ(f.in_flight("a"), 0);
  EXPECT_EQ(f.cooldown_until("a"), 0) << "a simulated failure does not cool the deployment";
  const PlanStep fallback = plan->next(f.at(0ms), f.rng);
  ASSERT_EQ(fallback.kind, Kind::kAttempt);
  EXPECT_EQ(fallback.route->deployment->id, "c");
  EXPECT_FALSE(fallback.simulated);
}

TEST(AttemptPlanTest, AnAbandonedCallReleasesItsClaimWhenThePlanIsDestroyed) {
  Fixture f({dep("a", "g")});
  auto plan = f.plan("g");
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  plan->on_call();  // then the client disconnects: the coroutine frame, and the plan, go away
  EXPECT_EQ(f.in_flight("a"), 1);
  plan.reset();
  EXPECT_EQ(f.in_flight("a"), 0);
}

TEST(AttemptPlanTest, ARateLimitCoolsTheDeploymentAndTheCooldownIsReported) {
  Fixture f({dep("a", "g")});
  auto plan = f.plan("g");
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  AttemptReport limited = failure(ErrorClass::kRateLimit, 429);
  limited.retry_after = 7s;
  const auto cooled = plan->on_result(limited, f.at(3ms));
  ASSERT_TRUE(cooled);
  EXPECT_EQ(*cooled, 7s);
  EXPECT_EQ(f.cooldown_until("a"), kT0 + 3 + 7000);
}

TEST(AttemptPlanTest, ATimeoutTheClientChoseDoesNotCoolTheDeployment) {
  config::RouterSettings settings;
  settings.allowed_fails = 0;  // any counted failure would cool it
  Fixture f({dep("a", "g")}, settings);
  PlanRequest request;
  request.timeout = {.overall = 1s, .requested = 1s, .from_request = true};
  request.deadline = f.steady0 + 1s;
  auto plan = f.plan("g", std::move(request));
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  EXPECT_EQ(plan->on_result(failure(ErrorClass::kTimeout, 408), f.at(1000ms)), std::nullopt);
  EXPECT_EQ(f.cooldown_until("a"), 0);
  EXPECT_EQ(plan->next(f.at(1000ms), f.rng).kind, Kind::kFail);
  EXPECT_EQ(plan->error_class(), ErrorClass::kTimeout);
}

TEST(AttemptPlanTest, DrainingStopsRetriesAndFallbacks) {
  config::RouterSettings settings;
  settings.fallbacks["g"] = {"h"};
  Fixture f({dep("a", "g"), dep("b", "g"), dep("c", "h")}, settings);
  auto plan = f.plan("g");
  ASSERT_EQ(plan->next(f.at(0ms), f.rng).kind, Kind::kAttempt);
  plan->on_result(failure(ErrorClass::kServerError), f.at(1ms, /*draining=*/true));
  EXPECT_EQ(plan->next(f.at(1ms, true), f.rng).kind, Kind::kFail);
  EXPECT_EQ(plan->attempted_retries(), 0);
  EXPECT_EQ(plan->attempted_fallbacks(), 0);
}

TEST(AttemptPlanTest, TimeoutsFollowThePrecedenceAndNeverPassTheDeadline) {
  config::UpstreamSettings up;
  up.default_timeout = 600s;
  up.default_stream_timeout = 20s;
  up.chunk_timeout = 30s;
  Deployment d = dep("a", "g");
  api::RequestFields fields;
  RequestTimeout none = request_timeout(up, fields, "");
  EXPECT_FALSE(none.from_request);
  EXPECT_EQ(none.overall, 600s);
  EXPECT_EQ(request_timeout(up, fields, "2.5").overall, 2500ms);
  EXPECT_FALSE(request_timeout(up, fields, "inf").from_request);
  EXPECT_FALSE(request_timeout(up, fields, "-1").from_request);
  fields.timeout_seconds = 4;
  const RequestTimeout body = request_timeout(up, fields, "2.5");
  EXPECT_EQ(body.overall, 4s) << "the body's timeout wins over the header";

  const SteadyTime now = SteadyTime{} + 1h;
  d.timeout = 50s;
  const AttemptTimeout whole = attempt_timeout_for(up, d, /*stream=*/false, none, now + 600s, now);
  EXPECT_EQ(whole.configured, 50s);
  EXPECT_EQ(whole.total, 50s);
  EXPECT_EQ(whole.first_byte, 50s);
  const AttemptTimeout late = attempt_timeout_for(up, d, false, none, now + 3s, now);
  EXPECT_EQ(late.total, 3s) << "cut to what is left of the request";
  const AttemptTimeout streamed = attempt_timeout_for(up, d, /*stream=*/true, none, now + 600s, now);
  EXPECT_EQ(streamed.first_byte, 20s);
  EXPECT_EQ(streamed.between_chunks, 30s);
}

}  // namespace
}  // namespace tollgate::router
