#include "tollgate/alerting/alerter.hpp"

#include <utility>

#include <spdlog/logger.h>

#include "alerting/webhook_sender.hpp"
#include "tollgate/core/clock.hpp"

namespace tollgate::alerting {
namespace {

// What the destructor gives queued alerts to go out (a clean shutdown should not lose the alert
// that explains it, nor hang on a webhook that does not answer).
constexpr std::chrono::milliseconds kShutdownGrace{2'000};

}  // namespace

Alerter::Alerter(const config::AlertingSettings& settings, const config::UpstreamSettings& upstream,
                 metrics::Metrics& metrics, std::shared_ptr<spdlog::logger> log, const Clock& clock)
    : settings_(settings),
      metrics_(metrics),
      log_(std::move(log)),
      clock_(clock),
      fallback_(settings.fallback_rate_threshold, settings.fallback_rate_window, settings.fallback_rate_min_requests) {
  if (settings_.webhook_url.empty()) return;
  WebhookSender::Options options{.timeout = settings_.webhook_timeout,
                                 .retries = settings_.webhook_retries,
                                 .max_queued = settings_.max_queued};
  sender_ = std::make_unique<WebhookSender>(settings_.webhook_url, std::move(options), upstream, log_,
                                            [this] { metrics_.alert_delivery_failure(); });
}

Alerter::~Alerter() { stop(kShutdownGrace); }

std::int64_t Alerter::now() const { return clock_.unix_ms(); }

void Alerter::soft_budget(std::string_view scope, std::int64_t window_end_ms, double spend, double soft_budget) {
  std::optional<Alert> alert;
  {
    std::lock_guard lock(budget_mu_);
    alert = budget_.soft_budget(scope, window_end_ms, spend, soft_budget, now());
  }
  if (alert) raise(std::move(*alert));
}

void Alerter::budget_exceeded(std::string_view scope, std::int64_t window_end_ms, double spend, double max_budget) {
  std::optional<Alert> alert;
  {
    std::lock_guard lock(budget_mu_);
    alert = budget_.exceeded(scope, window_end_ms, spend, max_budget, now());
  }
  if (alert) raise(std::move(*alert));
}

void Alerter::request_routed(std::string_view model_group, bool fell_back) {
  std::optional<Alert> alert;
  {
    std::lock_guard lock(fallback_mu_);
    alert = fallback_.record(model_group, fell_back, now());
  }
  if (alert) raise(std::move(*alert));
}

void Alerter::deployment_state(const config::Deployment& deployment, metrics::DeploymentState state) {
  std::optional<Alert> alert;
  {
    std::lock_guard lock(outage_mu_);
    alert = outage_.state(deployment, state);
  }
  if (alert) raise(std::move(*alert));
}

void Alerter::spend_write_failed(std::string error) {
  std::optional<Alert> alert;
  {
    std::lock_guard lock(spend_mu_);
    alert = spend_.failed(error);
  }
  if (alert) raise(std::move(*alert));
}

void Alerter::spend_write_succeeded() {
  std::lock_guard lock(spend_mu_);
  spend_.succeeded();
}

void Alerter::raise(Alert alert) {
  if (!alert_type_enabled(settings_.alert_types, alert.type)) return;
  raised_.fetch_add(1, std::memory_order_relaxed);
  metrics_.alert(alert_type_name(alert.type));
  log_->warn("msg=\"alert\" type={} entity={} id={}", alert_type_name(alert.type), alert.entity, alert.id);
  if (!sender_) return;
  if (!sender_->enqueue(alert_payload(alert))) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    metrics_.alert_delivery_failure();
    log_->warn("msg=\"alert dropped: delivery queue full or stopped\" type={}", alert_type_name(alert.type));
  }
}

void Alerter::stop(std::chrono::milliseconds grace) {
  if (sender_) sender_->stop(grace);
}

Alerter::Stats Alerter::stats() const {
  Stats s;
  s.raised = raised_.load(std::memory_order_relaxed);
  s.delivered = sender_ ? sender_->delivered() : 0;
  s.failed = dropped_.load(std::memory_order_relaxed) + (sender_ ? sender_->failed() : 0);
  return s;
}

}  // namespace tollgate::alerting
