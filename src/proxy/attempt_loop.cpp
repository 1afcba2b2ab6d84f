// The attempt loop (attempt_loop.hpp).
#include "proxy/attempt_loop.hpp"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/admission.hpp"
#include "proxy/upstream_call.hpp"
#include "tollgate/alerting/alerter.hpp"
#include "tollgate/api/redact.hpp"
#include "tollgate/router/attempt_plan.hpp"

namespace tollgate::proxy {
namespace {

// The attempt plan's events, as metrics and log lines of the requested group.
class PlanEvents final : public router::PlanObserver {
 public:
  PlanEvents(const Snapshot& snap, std::string_view requested, const std::string& request_id, spdlog::logger& log)
      : metrics_(snap.model_metrics(requested)), request_id_(request_id), log_(log) {}
  void retry() override { metrics_.retry(); }
  void no_deployment() override { metrics_.no_deployment(); }
  void fallback_done(std::string_view group, bool answered) override { metrics_.fallback(group, answered); }
  void fallback_denied(std::string_view name) override {
    metrics_.fallback_denied();
    log_.info("request_id={} msg=\"fallback not allowed for this key, skipped\" group={}", request_id_,
              capped_name(name));
  }
  void fallback_unknown(std::string_view name) override {
    log_.warn("request_id={} msg=\"fallback group unknown\" group={}", request_id_, capped_name(name));
  }

 private:
  metrics::RequestedModelMetrics& metrics_;
  const std::string& request_id_;
  spdlog::logger& log_;
};

// The deployment metrics, cooldown broadcast and health of an attempt that called `route`.
void record_attempt(Worker& worker, const Snapshot& snap, const router::Route& route, bool stream,
                    std::optional<unsigned> failed_status, router::ErrorClass cls, double seconds,
                    std::optional<std::chrono::milliseconds> cooled, const RequestContext& ctx) {
  metrics::DeploymentMetrics& dm = *snap.deployment_metrics[route.index];
  const std::int64_t now = unix_ms_now();
  if (!failed_status) {
    dm.success(metrics::Seconds(seconds),
               static_cast<std::uint64_t>(std::max<std::int64_t>(0, ctx.cost.usage.completion_tokens)));
    if (stream && ctx.upstream.ttft_s > 0) dm.time_to_first_token(metrics::Seconds(ctx.upstream.ttft_s));
  } else {
    dm.failure(cls);
    if (cooled && worker.shared) worker.shared->publish_cooldown(route, now + cooled->count());
    if (cooled) {
      dm.cooled_down(static_cast<int>(*failed_status));
      worker.log->warn("request_id={} msg=\"deployment cooling down\" deployment={} class={} seconds={:.1f}",
                       ctx.identity.request_id, route.deployment->id, router::exception_class_name(cls),
                       std::chrono::duration<double>(*cooled).count());
    }
  }
  const auto state = static_cast<metrics::DeploymentState>(snap.router.health(route, now));
  dm.set_state(state);
  if (snap.alerter) snap.alerter->deployment_state(*route.deployment, state);
}

boost::asio::awaitable<void> sleep_for(asio::io_context& io, std::chrono::milliseconds wait) {
  asio::steady_timer timer(io, wait);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

boost::asio::awaitable<std::optional<api::ApiError>> run_attempts(Worker& worker, http::Exchange& ex,
                                                                  RequestContext& ctx,
                                                                  const api::ParsedRequest& request,
                                                                  router::Target& target, std::vector<std::string>& tags,
                                                                  const auth::Principal& principal) {
  const std::shared_ptr<const Snapshot> snap = ctx.snapshot;  // keeps this request's config version
  const api::RequestFields& fields = request.fields;
  const router::RequestTimeout timeout =
      router::request_timeout(snap->config->upstream, fields, ex.request()["x-litellm-timeout"]);
  router::PlanRequest plan_request{.tags = std::move(tags),
                                   .estimated_prompt_tokens = estimate_prompt_tokens(fields),
                                   .stream = fields.stream,
                                   .num_retries = fields.num_retries,
                                   .fallbacks = fields.fallbacks,
                                   .mock_testing_fallbacks = fields.mock_testing_fallbacks,
                                   .mock_testing_rate_limit_error = fields.mock_testing_rate_limit_error,
                                   .timeout = timeout,
                                   .deadline = ctx.timings.started + timeout.overall};
  PlanEvents events(*snap, target.name, ctx.identity.request_id, *worker.log);
  // Access is decided for every group actually called: a fallback the key may not use is skipped.
  auto fallback_access = [&principal, &snap](std::string_view name) -> std::optional<std::string> {
    auto allowed = check_access(principal, name, snap->authenticator.catalog());
    if (!allowed) return std::nullopt;
    return std::move(*allowed);
  };
  router::AttemptPlan plan(snap->router, snap->config->upstream, std::move(target), std::move(plan_request),
                           fallback_access, events);
  UpstreamCall call(worker, ex, ctx, request);
  RequestContext::Routing& routing = ctx.routing;
  const auto plan_now = [&ex] { return router::PlanNow{SteadyClock::now(), unix_ms_now(), ex.draining()}; };
  for (;;) {
    const router::PlanStep step = plan.next(plan_now(), worker.rng);
    if (step.kind == router::PlanStep::Kind::kFail) break;
    if (step.kind == router::PlanStep::Kind::kWait) {
      co_await sleep_for(worker.io, step.wait);
      continue;
    }
    const router::Route& route = *step.route;
    if (worker.shared && worker.shared->admits_exactly(route)) {
      // The rpm limit holds exactly across replicas: admission comes from Redis.
      const bool admitted = co_await worker.shared->admit_rpm(route, unix_ms_now());
      if (!admitted) {
        plan.on_denied();
        continue;
      }
    }
    routing.deployment_id = route.deployment->id;
    routing.route_index = route.index;
    routing.api_base = route.reported_base;
    routing.timeout_s = std::chrono::duration<double>(step.timeout.configured).count();
    routing.attempted_retries = plan.attempted_retries();
    routing.attempted_fallbacks = plan.attempted_fallbacks();
    if (!plan.on_requested()) routing.fallback_group = plan.target().name;

    router::AttemptReport report;
    if (step.simulated) {
      report = plan.simulated_failure();
    } else {
      const auto t0 = SteadyClock::now();
      plan.on_call();
      ctx.cost.usage = {};
      ctx.upstream.ttft_s = 0;
      ctx.upstream.stream_failure.reset();
      AttemptResult result = co_await call.attempt(route, plan.target(), step.timeout);
      // Every error of an attempt passes here on its way to the client (streams: relay_stream).
      if (result.error) api::Redactor(route.provider->secrets(*route.deployment)).redact(*result.error);
      report = {.called = true,
                .answered = result.answered,
                .error = std::move(result.error),
                .cls = result.cls,
                .retry_after = result.retry_after,
                .seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count(),
                .ttft_s = ctx.upstream.ttft_s,
                .total_tokens = ctx.cost.usage.present ? std::optional(ctx.cost.usage.total_tokens) : std::nullopt,
                .completion_tokens = ctx.cost.usage.completion_tokens};
      if (ctx.upstream.stream_failure) {
        // The client got the head and some chunks, so no retry; the deployment still failed.
        report.cls = *ctx.upstream.stream_failure;
        report.error = api::make_error(Errc::kUpstreamProtocol, "stream broken");
      }
    }
    const bool called = report.called;
    const bool answered = report.answered;
    const std::optional<unsigned> failed_status =
        report.error ? std::optional<unsigned>(report.error->status) : std::nullopt;
    const router::ErrorClass cls = report.cls;
    const double seconds = report.seconds;
    const std::optional<std::chrono::milliseconds> cooled = plan.on_result(std::move(report), plan_now());
    if (called) record_attempt(worker, *snap, route, fields.stream, failed_status, cls, seconds, cooled, ctx);
    if (answered) co_return std::nullopt;
  }
  routing.attempted_retries = plan.attempted_retries();
  routing.attempted_fallbacks = plan.attempted_fallbacks();
  if (!plan.on_requested()) routing.fallback_group = plan.target().name;
  routing.error_class = plan.error_class();
  co_return plan.take_error();
}

}  // namespace tollgate::proxy
