#pragma once
// Webhook alerts (docs/alerting.md): budget thresholds, fallback-rate spikes, deployment outages
// and spend-writer failures, posted as Slack-compatible JSON to general_settings'
// alerting_webhook_url / env SLACK_WEBHOOK_URL.
//
// The request path reports what it already knows (a soft budget crossed, a budget refusal, a
// routed request and whether it fell back, a deployment's state after a call); the rules
// (alert_rules.hpp) decide whether that is a new crossing. An alert is counted
// (tollgate_alerts_total{type}), logged, and queued for a thread of the Alerter's own, which
// posts it with a timeout and a few retries. The queue is bounded: when it is full the alert is
// dropped and counted (tollgate_alert_delivery_failures_total), the caller never waits.
//
// Thread safety: every member function but stop() may be called from any thread; stop() and the
// destructor from the owner's. The rules are guarded by
// one mutex per rule, held for a few map operations, never across I/O.
// Lifetime: keeps references to `metrics` and `clock`, which must outlive the Alerter. The
// destructor stops delivery (see stop()).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "tollgate/alerting/alert.hpp"
#include "tollgate/alerting/alert_rules.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/metrics/metrics.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::alerting {

class WebhookSender;  // src/alerting/webhook_sender.hpp

class Alerter {
 public:
  /// Starts the delivery thread when `settings.webhook_url` is set; without it alerts are only
  /// counted and logged. `upstream` supplies the TLS verification settings. `clock`: the time
  /// the rules' windows (the fallback rate's) are measured in.
  Alerter(const config::AlertingSettings& settings, const config::UpstreamSettings& upstream,
          metrics::Metrics& metrics, std::shared_ptr<spdlog::logger> log, const Clock& clock);
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  /// A scope's spend reached its soft budget (scope "key:<hash>", "team:<id>", ...).
  void soft_budget(std::string_view scope, std::int64_t window_end_ms, double spend, double soft_budget);
  /// A request was refused with 400 budget_exceeded because of `scope`.
  void budget_exceeded(std::string_view scope, std::int64_t window_end_ms, double spend, double max_budget);
  /// A request to `model_group` was routed (it reached a deployment or a fallback); `fell_back`
  /// when at least one fallback group was tried.
  void request_routed(std::string_view model_group, bool fell_back);
  /// The router's view of a deployment after a call (what litellm_deployment_state shows).
  void deployment_state(const config::Deployment& deployment, metrics::DeploymentState state);
  /// The spend writer's outcomes; `error` must not hold secrets (it is posted as is, capped).
  void spend_write_failed(std::string error);
  void spend_write_succeeded();

  /// Counts, logs and queues `alert` when its type is enabled (the rules call this; tests may too).
  void raise(Alert alert);

  /// Stops taking alerts, gives queued ones up to `grace` to be delivered, and joins the
  /// delivery thread. Idempotent; the destructor calls it with a short grace.
  void stop(std::chrono::milliseconds grace);

  struct Stats {
    std::uint64_t raised = 0;     // alerts that fired (and were enabled)
    std::uint64_t delivered = 0;  // answered 2xx by the webhook
    std::uint64_t failed = 0;     // not delivered: retries exhausted, or dropped (queue full, stopped)
  };
  Stats stats() const;

 private:
  std::int64_t now() const;

  config::AlertingSettings settings_;
  metrics::Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  const Clock& clock_;
  std::mutex budget_mu_;
  BudgetAlerts budget_;
  std::mutex fallback_mu_;
  FallbackRateAlerts fallback_;
  std::mutex outage_mu_;
  OutageAlerts outage_;
  std::mutex spend_mu_;
  SpendWriterAlerts spend_;
  std::atomic<std::uint64_t> raised_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::unique_ptr<WebhookSender> sender_;  // null without a webhook URL
};

}  // namespace tollgate::alerting
