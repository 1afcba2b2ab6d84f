#include "tollgate/metrics/metrics.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <map>
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
      router_fallbacks_denied(counter(registry, "tollgate_router_fallbacks_denied_total",
                                      "Fallback groups skipped because the caller's key may not use them")),
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
      spend(counter(registry, "litellm_spend_metric_total", "Spend (USD) of LLM requests")),
      input_tokens(counter(registry, "litellm_input_tokens_metric_total", "Input (prompt) tokens of LLM requests")),
      output_tokens(counter(registry, "litellm_output_tokens_metric_total", "Output (completion) tokens of LLM requests")),
      remaining_key_budget(gauge(registry, "litellm_remaining_api_key_budget_metric",
                                 "Budget (USD) a virtual key has left in its window, as of its last request")),
      remaining_team_budget(gauge(registry, "litellm_remaining_team_budget_metric",
                                  "Budget (USD) a team has left in its window, as of its last request")),
      spend_events(counter(registry, "tollgate_spend_events_total", "Spend events recorded (one per LLM request)").Add({})),
      spend_written(counter(registry, "tollgate_spend_written_total",
                            "Spend events stored in the database (replays of stored ones not counted)").Add({})),
      spend_write_errors(counter(registry, "tollgate_spend_write_errors_total",
                                 "Spend writes the database refused or could not take (retried)").Add({})),
      spend_queue_depth(gauge(registry, "tollgate_spend_queue_depth", "Spend events not yet in the database").Add({})),
      spend_spilled(counter(registry, "tollgate_spend_spilled_total",
                            "Spend events kept only in the journal because the queue was full").Add({})),
      spend_journal_errors(counter(registry, "tollgate_spend_journal_errors_total",
                                   "Spend events the journal could not take (kept in memory only)").Add({})),
      unpriced_requests(counter(registry, "tollgate_unpriced_requests_total",
                                "Requests answered by a deployment without a price, recorded with spend 0")),
      alerts(counter(registry, "tollgate_alerts_total", "Webhook alerts fired, by type")),
      alert_delivery_failures(counter(registry, "tollgate_alert_delivery_failures_total",
                                      "Alerts not delivered to the webhook (retries exhausted, queue full, "
                                      "shutdown)").Add({})),
      redis_errors(counter(registry, "tollgate_redis_errors_total", "Failed Redis commands").Add({})),
      redis_connected(gauge(registry, "tollgate_redis_connected", "1 when Redis is connected").Add({})),
      config_reloads(counter(registry, "tollgate_config_reloads_total",
                             "Config reloads (SIGHUP, POST /config/reload) by result: applied or rejected")),
      config_version(gauge(registry, "tollgate_config_version", "Config version in effect (1 = the one started with)")
                         .Add({})),
      config_reload_time(gauge(registry, "tollgate_config_last_reload_success_timestamp_seconds",
                               "Unix time of the last applied reload (0: none since start)")
                             .Add({})) {
  config_version.Set(1);
}

std::string Families::bounded_model(std::string_view name) const {
  if (!name.empty() && name != kOtherModel && known_model && known_model(name)) return std::string(name);
  return std::string(kOtherModel);
}

// The series of one spend label set.
struct SpendSeries {
  prometheus::Counter* spend;
  prometheus::Counter* input;
  prometheus::Counter* output;
};

struct Metrics::Impl {
  explicit Impl(std::function<bool(std::string_view)> known) : families(std::move(known)) {
    for (std::string_view type : kAlertTypes) families.alerts.Add({{"type", std::string(type)}});
  }

  SpendSeries& spend_series(const SpendLabels& l);
  prometheus::Gauge& budget_gauge(GaugeFamily& family, const char* id_label, std::string_view id, std::string_view alias);

  Families families;
  ServerMetrics server{families.registry};
  std::mutex mutex;  // guards the maps; never held while incrementing
  StringMap<DeploymentMetrics> deployments;
  StringMap<RequestedModelMetrics> models;
  std::unordered_map<std::string, SpendSeries> spend;               // by joined labels
  std::unordered_map<std::string, prometheus::Gauge*> budget_gauges;  // by family, id and alias
};

namespace {

std::string joined(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view p : parts) {
    key += p;
    key += '\0';
  }
  return key;
}

}  // namespace

SpendSeries& Metrics::Impl::spend_series(const SpendLabels& l) {
  std::string key = joined({l.model, l.hashed_api_key, l.api_key_alias, l.team, l.team_alias, l.user});
  std::lock_guard lock(mutex);
  if (auto it = spend.find(key); it != spend.end()) return it->second;
  std::map<std::string, std::string> labels{{"model", std::string(l.model)},
                                            {"hashed_api_key", std::string(l.hashed_api_key)},
                                            {"api_key_alias", std::string(l.api_key_alias)},
                                            {"team", std::string(l.team)},
                                            {"team_alias", std::string(l.team_alias)},
                                            {"user", std::string(l.user)}};
  if (spend.size() >= kMaxSpendSeries) {
    key = std::string(kOtherModel);
    if (auto it = spend.find(key); it != spend.end()) return it->second;
    for (auto& [name, value] : labels) value = kOtherModel;
  }
  SpendSeries series{&families.spend.Add(labels), &families.input_tokens.Add(labels), &families.output_tokens.Add(labels)};
  return spend.emplace(std::move(key), series).first->second;
}

prometheus::Gauge& Metrics::Impl::budget_gauge(GaugeFamily& family, const char* id_label, std::string_view id,
                                               std::string_view alias) {
  const bool key_family = &family == &families.remaining_key_budget;
  std::string key = joined({key_family ? "k" : "t", id, alias});
  std::lock_guard lock(mutex);
  if (auto it = budget_gauges.find(key); it != budget_gauges.end()) return *it->second;
  const char* alias_label = key_family ? "api_key_alias" : "team_alias";
  std::map<std::string, std::string> labels{{id_label, std::string(id)}, {alias_label, std::string(alias)}};
  if (budget_gauges.size() >= kMaxSpendSeries) {
    key = joined({key_family ? "k" : "t", kOtherModel});
    if (auto it = budget_gauges.find(key); it != budget_gauges.end()) return *it->second;
    labels = {{id_label, std::string(kOtherModel)}, {alias_label, std::string(kOtherModel)}};
  }
  prometheus::Gauge& g = family.Add(labels);
  budget_gauges.emplace(std::move(key), &g);
  return g;
}

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

ServerMetrics& Metrics::server() { return impl_->server; }

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

void Metrics::request_spend(const SpendLabels& labels, double cost, std::int64_t input_tokens,
                            std::int64_t output_tokens) {
  SpendSeries& s = impl_->spend_series(labels);
  if (cost > 0) s.spend->Increment(cost);
  if (input_tokens > 0) s.input->Increment(static_cast<double>(input_tokens));
  if (output_tokens > 0) s.output->Increment(static_cast<double>(output_tokens));
}

void Metrics::remaining_key_budget(std::string_view hashed_api_key, std::string_view alias, double remaining) {
  impl_->budget_gauge(impl_->families.remaining_key_budget, "hashed_api_key", hashed_api_key, alias).Set(remaining);
}

void Metrics::remaining_team_budget(std::string_view team, std::string_view alias, double remaining) {
  impl_->budget_gauge(impl_->families.remaining_team_budget, "team", team, alias).Set(remaining);
}

void Metrics::spend_event() { impl_->families.spend_events.Increment(); }
void Metrics::spend_written(std::size_t events) { impl_->families.spend_written.Increment(static_cast<double>(events)); }
void Metrics::spend_write_error() { impl_->families.spend_write_errors.Increment(); }
void Metrics::spend_queue_depth(std::size_t events) { impl_->families.spend_queue_depth.Set(static_cast<double>(events)); }
void Metrics::spend_spilled() { impl_->families.spend_spilled.Increment(); }
void Metrics::spend_journal_error() { impl_->families.spend_journal_errors.Increment(); }
void Metrics::alert(std::string_view type) {
  if (std::find(kAlertTypes.begin(), kAlertTypes.end(), type) == kAlertTypes.end()) return;  // bounded labels
  impl_->families.alerts.Add({{"type", std::string(type)}}).Increment();
}

void Metrics::alert_delivery_failure() { impl_->families.alert_delivery_failures.Increment(); }

void Metrics::config_reload(bool applied, std::uint64_t version, double unix_seconds) {
  impl_->families.config_reloads.Add({{"result", applied ? "applied" : "rejected"}}).Increment();
  if (!applied) return;
  impl_->families.config_version.Set(static_cast<double>(version));
  impl_->families.config_reload_time.Set(unix_seconds);
}

void Metrics::set_redis_connected(bool connected) { impl_->families.redis_connected.Set(connected ? 1 : 0); }

void Metrics::unpriced_request(std::string_view model) {
  impl_->families.unpriced_requests.Add({{"model", std::string(model)}}).Increment();
}

std::string Metrics::render() const {
  return prometheus::TextSerializer{}.Serialize(impl_->families.registry.Collect());
}

}  // namespace tollgate::metrics
