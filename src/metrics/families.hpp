#pragma once
// Module-private: the prometheus families behind Metrics and its handles. The only header of the
// project that includes prometheus-cpp, so only src/metrics/*.cpp pay for it.
#include <functional>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tollgate::metrics {

using CounterFamily = prometheus::Family<prometheus::Counter>;
using GaugeFamily = prometheus::Family<prometheus::Gauge>;
using HistogramFamily = prometheus::Family<prometheus::Histogram>;

struct Families {
  explicit Families(std::function<bool(std::string_view)> known);

  /// `name` if the config knows it, else "other".
  std::string bounded_model(std::string_view name) const;

  std::function<bool(std::string_view)> known_model;
  prometheus::Registry registry;

  // Deployments (router).
  CounterFamily& deployment_success;
  CounterFamily& deployment_failure;
  CounterFamily& deployment_total;
  HistogramFamily& latency_per_output_token;
  HistogramFamily& llm_api_latency;
  HistogramFamily& time_to_first_token;
  CounterFamily& deployment_cooled_down;
  GaugeFamily& deployment_state;
  CounterFamily& successful_fallbacks;
  CounterFamily& failed_fallbacks;
  CounterFamily& router_retries;
  CounterFamily& router_no_deployment;
  CounterFamily& router_fallbacks_denied;
  // Proxy.
  CounterFamily& proxy_total_requests;
  CounterFamily& proxy_failed_requests;
  HistogramFamily& request_total_latency;
  HistogramFamily& overhead_latency;
  CounterFamily& control_rejections;
  CounterFamily& soft_budget_alerts;
  // Spend.
  CounterFamily& spend;
  CounterFamily& input_tokens;
  CounterFamily& output_tokens;
  GaugeFamily& remaining_key_budget;
  GaugeFamily& remaining_team_budget;
  prometheus::Counter& spend_events;
  prometheus::Counter& spend_written;
  prometheus::Counter& spend_write_errors;
  prometheus::Gauge& spend_queue_depth;
  prometheus::Counter& spend_spilled;
  prometheus::Counter& spend_journal_errors;
  CounterFamily& unpriced_requests;
  // Alerting.
  CounterFamily& alerts;
  prometheus::Counter& alert_delivery_failures;
  // Stores.
  prometheus::Counter& redis_errors;
  prometheus::Gauge& redis_connected;
  // Config reloads.
  CounterFamily& config_reloads;
  prometheus::Gauge& config_version;
  prometheus::Gauge& config_reload_time;
};

// Bucket boundaries, in seconds.
const prometheus::Histogram::BucketBoundaries& latency_buckets();
const prometheus::Histogram::BucketBoundaries& overhead_buckets();
const prometheus::Histogram::BucketBoundaries& per_token_buckets();

}  // namespace tollgate::metrics
