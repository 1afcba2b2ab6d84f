// The log stage (finish.hpp).
#include "proxy/finish.hpp"

#include <algorithm>

#include "tollgate/alerting/alerter.hpp"

namespace tollgate::proxy {
namespace {

// The class of an error the gateway answered itself (no upstream attempt behind it).
router::ErrorClass class_for_status(unsigned status) {
  switch (status) {
    case 401: case 403: return router::ErrorClass::kAuthentication;
    case 404: return router::ErrorClass::kNotFound;
    case 408: return router::ErrorClass::kTimeout;
    case 429: return router::ErrorClass::kRateLimit;
    default: return status >= 500 ? router::ErrorClass::kServerError : router::ErrorClass::kBadRequest;
  }
}

}  // namespace

void log_request(Worker& worker, const RequestContext& ctx) {
  const Snapshot& snap = *ctx.snapshot;
  const RequestContext::Routing& routing = ctx.routing;
  const unsigned status = ctx.answer.status;
  if (routing.route_index && status < 400 && !ctx.priced()) {
    snap.metrics.unpriced_request(snap.config->model_list[*routing.route_index].model);
  }
  const double total = to_ms(SteadyClock::now() - ctx.timings.started);
  const double upstream = to_ms(ctx.upstream.wait);
  if (!routing.model_group.empty()) {
    metrics::RequestedModelMetrics& mm = snap.model_metrics(routing.model_group);
    mm.request(static_cast<int>(status));
    mm.latency(metrics::Seconds(total / 1000.0), metrics::Seconds(std::max(0.0, total - upstream) / 1000.0));
    if (status >= 400) mm.failed(routing.error_class.value_or(class_for_status(status)));
    const bool routed = !routing.deployment_id.empty() || routing.attempted_fallbacks > 0;
    if (snap.alerter && routed) snap.alerter->request_routed(routing.model_group, routing.attempted_fallbacks > 0);
  }
  worker.access_log.write(worker.index, {.request_id = ctx.identity.request_id,
                                         .method = ctx.identity.method,
                                         .path = ctx.identity.path,
                                         .model_group = routing.model_group,
                                         .deployment_id = routing.deployment_id,
                                         .status = status,
                                         .stream = ctx.call.stream,
                                         .duration_ms = total,
                                         .upstream_ms = upstream,
                                         .overhead_ms = std::max(0.0, total - upstream),
                                         .usage = &ctx.cost.usage,
                                         .error_type = ctx.answer.error_type});
}

}  // namespace tollgate::proxy
