#include "tollgate/metrics/metrics.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <prometheus/text_serializer.h>

#include "metrics/families.hpp"

namespace tollgate::metrics {
namespace {

// LLM calls take from milliseconds (cached, tiny models) to minutes (long generations, reasoning
// models); the upper buckets are there so a 10-minute stream is not just "+Inf".
const prometheus::Histogram::BucketBoundaries kLatency = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15,
    20, 30, 45, 60, 90, 120, 180, 300, 600};
// The gateway's own share of a request aims at tens of microseconds; start below that so the
// histogram can show it, and stop at 1 s where anything is an incident.
const prometheus::Histogram::BucketBoundaries kOverhead = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
// Decode speed: 1 ms per token (fast hosted models) to 1 s per token (overloaded or CPU).
const prometheus::Histogram::BucketBoundaries kPerToken = {
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1};

CounterFamily& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
GaugeFamily& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
HistogramFamily& histogram(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

// Transparent hashing so lookups by string_view do not allocate.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// tollgate_alerts_total's `type` values (alerting::AlertType), each series created at 0.
constexpr std::array<std::string_view, 6> kAlertTypes{"soft_budget",       "budget_exceeded",      "fallback_rate",
                                                      "deployment_outage", "deployment_recovered", "spend_write_failure"};

template <class T>
using StringMap = std::unordered_map<std::string, std::unique_ptr<T>, StringHash, std::equal_to<>>;

}  // namespace

const prometheus::Histogram::BucketBoundaries& latency_buckets() { return kLatency; }
const prometheus::Histogram::BucketBoundaries& overhead_buckets() { return kOverhead; }
const prometheus::Histogram::BucketBoundaries& per_token_buckets() { return kPerToken; }

Families::Families(std::function<bool(std::string_view)> known)
    : known_model(std::move(known)),
      deployment_success(counter(registry, "litellm_deployment_success_responses_total",
                                 "LLM deployment analytics: successful LLM API calls")),
      deployment_failure(counter(registry, "litellm_deployment_failure_responses_total",
                                 "LLM deployment analytics: failed LLM API calls, by exception class")),
      deployment_total(counter(registry, "litellm_deployment_total_requests_total",
                               "LLM deployment analytics: LLM API calls, successful or not")),
      latency_per_output_token(histogram(registry, "litellm_deployment_latency_per_output_token",
                                         "LLM API latency divided by output tokens (seconds)")),
      llm_api_latency(histogram(registry, "litellm_llm_api_latency_metric",
                                "Latency (seconds) of a model's LLM API call")),
      time_to_first_token(histogram(registry, "litellm_llm_api_time_to_first_token_metric",
                                    "Time (seconds) to the first streamed chunk of an LLM API call")),
      deployment_cooled_down(counter(registry, "litellm_deployment_cooled_down_total",
                                     "Times the router put a deployment in cooldown, by the HTTP "
                                     "status that caused it")),
      deployment_state(gauge(registry, "litellm_deployment_state",
                             "Deployment state: 0 healthy, 1 partial outage, 2 complete outage")),
      successful_fallbacks(counter(registry, "litellm_deployment_successful_fallbacks_total",
                                   "Fallbacks from requested_model to fallback_model that answered")),
      failed_fallbacks(counter(registry, "litellm_deployment_failed_fallbacks_total",
                               "Fallbacks from requested_model to fallback_model that failed too")),
      router_retries(counter(registry, "tollgate_router_retries_total",
                             "Retries the router made within a model group")),
      router_no_deployment(counter(registry, "tollgate_router_no_deployment_total",
                                   "Requests for which no deployment of the group was available")),
      proxy_total_requests(counter(registry, "litellm_proxy_total_requests_metric_total",
                                   "Client requests to the proxy, by the status they got")),
      proxy_failed_requests(counter(registry, "litellm_proxy_failed_requests_metric_total",
                                    "Client requests that did not get a success response")),
      request_total_latency(histogram(registry, "litellm_request_total_latency_metric",
                                      "Total latency (seconds) of a request to the proxy")),
      overhead_latency(histogram(registry, "litellm_overhead_latency_metric",
                                 "Latency (seconds) the proxy added to a request, upstream excluded")),
      control_rejections(counter(registry, "tollgate_control_rejections_total",
                                 "Requests refused by the control plane, by reason")),
      soft_budget_alerts(counter(registry, "tollgate_soft_budget_alerts_total",
                                 "Soft budgets crossed, once per entity and budget window")),
      alerts(counter(registry, "tollgate_alerts_total", "Webhook alerts fired, by type")),
      alert_delivery_failures(counter(registry, "tollgate_alert_delivery_failures_total",
                                      "Alerts not delivered to the webhook (retries exhausted, queue full, "
                                      "shutdown)").Add({})),
      redis_errors(counter(registry, "tollgate_redis_errors_total", "Failed Redis commands").Add({})),
      redis_connected(gauge(registry, "tollgate_redis_connected", "1 when Redis is connected").Add({})) {}

std::string Families::bounded_model(std::string_view name) const {
  if (!name.empty() && name != kOtherModel && known_model && known_model(name)) return std::string(name);
  return std::string(kOtherModel);
}

struct Metrics::Impl {
  explicit Impl(std::function<bool(std::string_view)> known) : families(std::move(known)) {
    for (std::string_view type : kAlertTypes) families.alerts.Add({{"type", std::string(type)}});
  }

  Families families;
  std::mutex mutex;  // guards the two maps; never held while incrementing
  StringMap<DeploymentMetrics> deployments;
  StringMap<RequestedModelMetrics> models;
};

Metrics::Metrics(std::function<bool(std::string_view)> known_model)
    : impl_(std::make_unique<Impl>(std::move(known_model))) {}

Metrics::~Metrics() = default;

DeploymentMetrics& Metrics::deployment(const config::Deployment& d) {
  // Keyed by every label, not the id alone: a reload that changes a deployment's api_base under
  // the same id gets its own series instead of writing to the old ones.
  std::string key;
  key.reserve(d.id.size() + d.model_name.size() + d.model.size() + d.api_base.size() + d.provider.size() + 4);
  for (const std::string* part : {&d.id, &d.model_name, &d.model, &d.api_base, &d.provider}) {
    key += *part;
    key += '\0';
  }
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->deployments[std::move(key)];
  if (!slot) slot = std::make_unique<DeploymentMetrics>(impl_->families, d);
  return *slot;
}

RequestedModelMetrics& Metrics::requested_model(std::string_view name) {
  std::string bounded = impl_->families.bounded_model(name);  // the predicate runs unlocked
  std::lock_guard lock(impl_->mutex);
  if (auto it = impl_->models.find(std::string_view(bounded)); it != impl_->models.end()) return *it->second;
  auto handle = std::make_unique<RequestedModelMetrics>(impl_->families, bounded);
  auto& ref = *handle;
  impl_->models.emplace(std::move(bounded), std::move(handle));
  return ref;
}

void Metrics::redis_error() { impl_->families.redis_errors.Increment(); }

void Metrics::control_rejection(Errc reason) {
  const char* label = nullptr;
  switch (reason) {
    case Errc::kUnauthorized: label = "auth"; break;
    case Errc::kForbidden: label = "forbidden"; break;
    case Errc::kModelAccessDenied: label = "model_access"; break;
    case Errc::kRateLimited: label = "rate_limit"; break;
    case Errc::kBudgetExceeded: label = "budget"; break;
    case Errc::kDbUnavailable: label = "db_unavailable"; break;
    default: return;
  }
  impl_->families.control_rejections.Add({{"reason", label}}).Increment();
}

void Metrics::soft_budget_alert(std::string_view entity) {
  static constexpr std::array<std::string_view, 6> kEntities{"key", "user", "team", "org", "end_user", "key_model"};
  if (std::find(kEntities.begin(), kEntities.end(), entity) == kEntities.end()) return;  // bounded labels
  impl_->families.soft_budget_alerts.Add({{"entity", std::string(entity)}}).Increment();
}

void Metrics::alert(std::string_view type) {
  if (std::find(kAlertTypes.begin(), kAlertTypes.end(), type) == kAlertTypes.end()) return;  // bounded labels
  impl_->families.alerts.Add({{"type", std::string(type)}}).Increment();
}

void Metrics::alert_delivery_failure() { impl_->families.alert_delivery_failures.Increment(); }

void Metrics::set_redis_connected(bool connected) { impl_->families.redis_connected.Set(connected ? 1 : 0); }

std::string Metrics::render() const {
  return prometheus::TextSerializer{}.Serialize(impl_->families.registry.Collect());
}

}  // namespace tollgate::metrics
