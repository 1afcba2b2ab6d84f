#pragma once
// When an alert fires: once per crossing, never once per request. Sans-IO: every call takes the
// time as unix milliseconds and answers the alert to raise, if any, so the rules are tested on a
// fake clock without sockets (docs/alerting.md states them).
//
// Thread safety: none; the Alerter guards each tracker with its own mutex.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "tollgate/alerting/alert.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/metrics/metrics.hpp"

namespace tollgate::alerting {

/// Soft budget reached / budget exceeded: once per (type, scope, budget window). `scope` is the
/// limiter's ("key:<hash>", "team:<id>", "key_model:<hash>:<group>", ...); `window_end_ms` the
/// window's end (budget_reset_at), 0 for a budget without windows (alerted once).
class BudgetAlerts {
 public:
  /// Beyond `max_remembered` entries, those of ended windows are forgotten; if that is not
  /// enough, all are (an alert may then repeat once).
  explicit BudgetAlerts(std::size_t max_remembered = 100'000) : max_remembered_(max_remembered) {}

  std::optional<Alert> soft_budget(std::string_view scope, std::int64_t window_end_ms, double spend,
                                   double soft_budget, std::int64_t now_ms);
  std::optional<Alert> exceeded(std::string_view scope, std::int64_t window_end_ms, double spend, double max_budget,
                                std::int64_t now_ms);

 private:
  bool first(AlertType type, std::string_view scope, std::int64_t window_end_ms, std::int64_t now_ms);

  std::size_t max_remembered_;
  std::set<std::tuple<AlertType, std::string, std::int64_t>, std::less<>> seen_;
};

/// The share of a model group's routed requests that needed a fallback, over a sliding window.
/// Fires when the share rises above the threshold (with at least `min_requests` in the window);
/// re-arms only once it is back below the threshold.
class FallbackRateAlerts {
 public:
  FallbackRateAlerts(double threshold, std::chrono::milliseconds window, std::int64_t min_requests);

  std::optional<Alert> record(std::string_view model_group, bool fell_back, std::int64_t now_ms);

 private:
  static constexpr std::size_t kBuckets = 60;
  static constexpr std::size_t kMaxGroups = 1024;  // beyond, new groups are not tracked
  struct Bucket {
    std::int64_t slot = -1;  // now_ms / bucket width when last written
    std::int64_t requests = 0;
    std::int64_t fallbacks = 0;
  };
  struct Group {
    std::array<Bucket, kBuckets> buckets{};
    bool firing = false;
  };

  double threshold_;
  std::int64_t window_ms_;
  std::int64_t width_ms_;      // bucket width
  std::int64_t slots_;         // buckets the window spans (<= kBuckets)
  std::int64_t min_requests_;
  struct NameHash {  // lookups by string_view without a copy
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Group, NameHash, std::equal_to<>> groups_;
};

/// A deployment's state as the router reports it after each call: fires when it enters
/// complete outage; the "recovered" alert (and re-arming) comes when it next reports healthy.
class OutageAlerts {
 public:
  std::optional<Alert> state(const config::Deployment& deployment, metrics::DeploymentState state);

 private:
  static constexpr std::size_t kMaxDeployments = 100'000;
  std::unordered_map<std::string, bool> down_;  // deployment id -> an outage alert is standing
};

/// The spend writer: fires on the first failure after a success (or on the very first write),
/// re-arms on the next success.
class SpendWriterAlerts {
 public:
  std::optional<Alert> failed(std::string_view error);
  void succeeded() { armed_ = true; }

 private:
  bool armed_ = true;
};

}  // namespace tollgate::alerting
