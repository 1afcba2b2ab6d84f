#pragma once
// Prometheus metrics for the whole process, exposed on `/metrics` by the HTTP layer via render().
//
// Exported: LiteLLM's router and proxy metrics under LiteLLM's wire names, so dashboards built
// for LiteLLM work (litellm_deployment_*, litellm_llm_api_*, litellm_proxy_*, litellm_request_*,
// litellm_overhead_*), plus Tollgate's own tollgate_router_* and tollgate_redis_*. Counters carry
// `_total` in their family names, as LiteLLM's Python client writes them on the wire. The full
// table of names and labels is in docs/metrics.md.
//
// Thread safety: one Metrics per process, shared by every io thread. All member functions of
// Metrics, DeploymentMetrics and RequestedModelMetrics may be called concurrently.
//
// Caching rule: resolving a labelled series takes a lock (ours, then prometheus-cpp's per
// family). deployment() and requested_model() do that once per label set and return a handle that
// stays valid for the lifetime of the Metrics object; keep the handle (e.g. beside the route
// table entry) and the hot path is atomic increments only. Handle methods documented as "locks"
// resolve a label on each call and are meant for rare events (cooldowns, fallbacks).
//
// Cardinality: label values come from the config (deployments, model groups) or from fixed sets
// (error classes, HTTP status codes). A requested model the config does not know is reported as
// "other", so clients cannot mint series. No request ids, keys or user text in labels.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/config/config.hpp"
#include "tollgate/core/errc.hpp"
#include "tollgate/metrics/server_metrics.hpp"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace tollgate::metrics {

using Seconds = std::chrono::duration<double>;

/// Value of litellm_deployment_state.
enum class DeploymentState : std::uint8_t { kHealthy = 0, kPartialOutage = 1, kCompleteOutage = 2 };

/// Label value used for requested models the config does not know.
inline constexpr std::string_view kOtherModel = "other";

struct Families;  // the prometheus families; defined in src/metrics/families.hpp

/// Series of one deployment (labels litellm_model_name, model_id, api_base, api_provider and,
/// where LiteLLM has it, requested_model = the deployment's model group). Obtained from
/// Metrics::deployment(); not copyable; lives as long as the Metrics that made it.
class DeploymentMetrics {
 public:
  DeploymentMetrics(Families& f, const config::Deployment& d);
  DeploymentMetrics(const DeploymentMetrics&) = delete;
  DeploymentMetrics& operator=(const DeploymentMetrics&) = delete;

  /// A call that answered: success and total requests, API latency and, when the provider
  /// reported output tokens, latency per output token.
  void success(Seconds api_latency, std::uint64_t output_tokens);
  /// A call that failed with `c`: failure (exception_class) and total requests.
  void failure(config::ErrorClass c);
  /// Time from sending the request to the first streamed chunk.
  void time_to_first_token(Seconds ttft);
  /// The router put this deployment in cooldown because of an HTTP `status`. Locks.
  void cooled_down(int status);
  void set_state(DeploymentState s);

 private:
  prometheus::Counter* success_;
  prometheus::Counter* total_;
  std::array<prometheus::Counter*, config::kErrorClassCount> failure_;
  prometheus::Histogram* api_latency_;
  prometheus::Histogram* per_output_token_;
  prometheus::Histogram* ttft_;
  prometheus::Gauge* state_;
  prometheus::Family<prometheus::Counter>* cooled_down_;
  std::string model_, id_, api_base_, provider_;  // cooled_down's labels
};

/// Series of one requested model (model group) as seen by the proxy and the router: label
/// requested_model (model_group on tollgate_router_*). Obtained from Metrics::requested_model().
class RequestedModelMetrics {
 public:
  RequestedModelMetrics(Families& f, std::string name);
  RequestedModelMetrics(const RequestedModelMetrics&) = delete;
  RequestedModelMetrics& operator=(const RequestedModelMetrics&) = delete;

  /// The label value: the model's name, or "other".
  const std::string& name() const { return name_; }

  /// Every finished client request, with the status sent (litellm_proxy_total_requests_metric).
  /// The first request with a given status locks once to create that series.
  void request(int status_code);
  /// A client request that did not succeed (litellm_proxy_failed_requests_metric).
  void failed(config::ErrorClass c);
  /// Whole-request latency and the part of it spent in the gateway rather than upstream.
  void latency(Seconds total, Seconds overhead);
  void retry();
  /// No deployment could take the request (all cooling down, at capacity, or filtered out).
  void no_deployment();
  /// A fallback group skipped, never called: the caller may not use it
  /// (tollgate_router_fallbacks_denied_total{model_group}; the skipped name is client data, not a label).
  void fallback_denied();
  /// A fallback to `fallback_model` answered / also failed. Locks.
  void fallback(std::string_view fallback_model, bool succeeded);

 private:
  static constexpr std::size_t kStatusSlots = 501;  // 100..599, then one for anything else
  Families& families_;
  std::string name_;
  std::array<std::atomic<prometheus::Counter*>, kStatusSlots> by_status_{};
  std::array<prometheus::Counter*, config::kErrorClassCount> failed_;
  prometheus::Histogram* total_latency_;
  prometheus::Histogram* overhead_;
  prometheus::Counter* retries_;
  prometheus::Counter* no_deployment_;
  prometheus::Counter* fallbacks_denied_;
};

/// Who a request's spend is attributed to on litellm_spend_metric and the token counters. Empty
/// values are exported as "". Label sets are capped (Metrics::kMaxSpendSeries); beyond the cap
/// new combinations are counted under every label "other".
struct SpendLabels {
  std::string_view model;           // the model group
  std::string_view hashed_api_key;  // "" for the master key
  std::string_view api_key_alias;
  std::string_view team;
  std::string_view team_alias;
  std::string_view user;
};

/// The process's registry and every metric in it. Built once in app/, passed by reference.
class Metrics {
 public:
  /// `known_model` says whether a requested model name may be used as a label value as-is
  /// (typically: a model group or alias in the running config). It may be called from any
  /// thread and must outlive this object's use.
  explicit Metrics(std::function<bool(std::string_view)> known_model);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// The handle for a deployment, created on first use. Same labels -> same object.
  DeploymentMetrics& deployment(const config::Deployment& d);
  /// The handle for a requested model; unknown names share the "other" handle.
  RequestedModelMetrics& requested_model(std::string_view name);
  /// The HTTP server's series (tollgate_http_*).
  ServerMetrics& server();

  void redis_error();
  void set_redis_connected(bool connected);
  /// A config reload: tollgate_config_reloads_total{result="applied|rejected"}; when applied,
  /// tollgate_config_version and tollgate_config_last_reload_success_timestamp_seconds.
  void config_reload(bool applied, std::uint64_t version, double unix_seconds);
  /// A request refused by the control plane (tollgate_control_rejections_total{reason}): one of
  /// "auth", "forbidden", "model_access", "rate_limit", "budget", "db_unavailable"; other codes
  /// are not counted here.
  void control_rejection(Errc reason);
  /// A soft budget crossed (once per entity and budget window): tollgate_soft_budget_alerts_total{entity}
  /// with entity one of key, user, team, org, end_user, key_model.
  void soft_budget_alert(std::string_view entity);

  /// Distinct label sets kept for spend and budget series (keys x teams x models in practice).
  static constexpr std::size_t kMaxSpendSeries = 10'000;

  /// A finished request's cost and tokens: litellm_spend_metric_total,
  /// litellm_input_tokens_metric_total, litellm_output_tokens_metric_total. Locks once.
  void request_spend(const SpendLabels& labels, double cost, std::int64_t input_tokens, std::int64_t output_tokens);
  /// litellm_remaining_api_key_budget_metric / litellm_remaining_team_budget_metric (USD). Locks.
  void remaining_key_budget(std::string_view hashed_api_key, std::string_view alias, double remaining);
  void remaining_team_budget(std::string_view team, std::string_view alias, double remaining);

  /// The spend writer (tollgate_spend_*): an event recorded, events stored, a failed write, the
  /// events not yet stored, an event kept only in the journal (queue full), a journal write error.
  void spend_event();
  void spend_written(std::size_t events);
  void spend_write_error();
  void spend_queue_depth(std::size_t events);
  void spend_spilled();
  void spend_journal_error();

  /// Every metric in Prometheus text exposition format 0.0.4.
  std::string render() const;

  /// A request answered by a deployment that has no price (tollgate_unpriced_requests_total{model}),
  /// recorded with spend 0. `model`: the deployment's model name from the config (bounded). Locks.
  void unpriced_request(std::string_view model);
  /// A webhook alert fired: tollgate_alerts_total{type}, type one of soft_budget, budget_exceeded,
  /// fallback_rate, deployment_outage, deployment_recovered, spend_write_failure (others ignored).
  void alert(std::string_view type);
  /// An alert not delivered (retries exhausted, queue full, or shut down before it went out):
  /// tollgate_alert_delivery_failures_total.
  void alert_delivery_failure();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::metrics
