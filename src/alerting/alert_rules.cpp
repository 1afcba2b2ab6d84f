#include "tollgate/alerting/alert_rules.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace tollgate::alerting {
namespace {

constexpr std::size_t kMaxErrorText = 500;

// Dollars as people read them: cents from $1 up, four significant digits below.
std::string money(double usd) { return usd >= 1 || usd == 0 ? fmt::format("${:.2f}", usd) : fmt::format("${:.4g}", usd); }

std::string percent(double fraction) { return fmt::format("{:.0f}%", fraction * 100); }

struct Scope {
  std::string_view entity;  // "key", "team", ...
  std::string_view id;      // the rest; "<hash>:<group>" for key_model
};

Scope split_scope(std::string_view scope) {
  const auto colon = scope.find(':');
  if (colon == std::string_view::npos) return {"budget", scope};
  return {scope.substr(0, colon), scope.substr(colon + 1)};
}

std::string_view entity_words(std::string_view entity) {
  if (entity == "org") return "organization";
  if (entity == "end_user") return "end user";
  if (entity == "key_model") return "key (per-model budget)";
  return entity;
}

Alert budget_alert(AlertType type, std::string_view scope, std::int64_t window_end_ms, double spend,
                   std::string_view limit_name, double limit) {
  const Scope s = split_scope(scope);
  Alert a;
  a.type = type;
  a.entity = std::string(s.entity);
  a.id = std::string(s.id);
  a.values = {{"spend", spend}, {std::string(limit_name), limit}};
  a.values["budget_reset_at"] = window_end_ms > 0 ? nlohmann::json(iso8601_utc(window_end_ms)) : nlohmann::json();
  const std::string window =
      window_end_ms > 0 ? fmt::format(" in the budget window ending {}", iso8601_utc(window_end_ms)) : std::string();
  if (type == AlertType::kSoftBudget) {
    a.text = fmt::format(":warning: Soft budget reached: {} `{}` has spent {} of its {} soft budget{}.",
                         entity_words(s.entity), s.id, money(spend), money(limit), window);
  } else {
    a.text = fmt::format(":no_entry: Budget exceeded: {} `{}` has spent {} of its {} max budget{}; its requests are "
                         "refused until the budget {}.",
                         entity_words(s.entity), s.id, money(spend), money(limit), window,
                         window_end_ms > 0 ? "resets" : "is raised");
  }
  return a;
}

}  // namespace

// ---- BudgetAlerts ------------------------------------------------------------------------------

bool BudgetAlerts::first(AlertType type, std::string_view scope, std::int64_t window_end_ms, std::int64_t now_ms) {
  // The key as stored (not a string_view tuple): clang 14 cannot compare tuples of string_view
  // and string with libstdc++ 12.
  auto key = std::make_tuple(type, std::string(scope), window_end_ms);
  if (seen_.contains(key)) return false;
  if (seen_.size() >= max_remembered_) {
    std::erase_if(seen_, [now_ms](const auto& entry) {
      const std::int64_t end = std::get<2>(entry);
      return end > 0 && end <= now_ms;
    });
    if (seen_.size() >= max_remembered_) seen_.clear();
  }
  seen_.insert(std::move(key));
  return true;
}

std::optional<Alert> BudgetAlerts::soft_budget(std::string_view scope, std::int64_t window_end_ms, double spend,
                                               double soft_budget, std::int64_t now_ms) {
  if (!first(AlertType::kSoftBudget, scope, window_end_ms, now_ms)) return std::nullopt;
  return budget_alert(AlertType::kSoftBudget, scope, window_end_ms, spend, "soft_budget", soft_budget);
}

std::optional<Alert> BudgetAlerts::exceeded(std::string_view scope, std::int64_t window_end_ms, double spend,
                                            double max_budget, std::int64_t now_ms) {
  if (!first(AlertType::kBudgetExceeded, scope, window_end_ms, now_ms)) return std::nullopt;
  return budget_alert(AlertType::kBudgetExceeded, scope, window_end_ms, spend, "max_budget", max_budget);
}

// ---- FallbackRateAlerts ------------------------------------------------------------------------

FallbackRateAlerts::FallbackRateAlerts(double threshold, std::chrono::milliseconds window, std::int64_t min_requests)
    : threshold_(threshold),
      window_ms_(std::max<std::int64_t>(1000, window.count())),
      min_requests_(std::max<std::int64_t>(1, min_requests)) {
  const auto buckets = static_cast<std::int64_t>(kBuckets);
  width_ms_ = std::max<std::int64_t>(1000, (window_ms_ + buckets - 1) / buckets);
  slots_ = std::clamp<std::int64_t>((window_ms_ + width_ms_ - 1) / width_ms_, 1, buckets);
}

std::optional<Alert> FallbackRateAlerts::record(std::string_view model_group, bool fell_back, std::int64_t now_ms) {
  auto it = groups_.find(model_group);
  if (it == groups_.end()) {
    if (groups_.size() >= kMaxGroups) return std::nullopt;
    it = groups_.emplace(std::string(model_group), Group{}).first;
  }
  Group& g = it->second;
  const std::int64_t slot = std::max<std::int64_t>(0, now_ms) / width_ms_;
  Bucket& b = g.buckets[static_cast<std::size_t>(slot) % kBuckets];
  if (b.slot != slot) b = Bucket{.slot = slot};
  ++b.requests;
  if (fell_back) ++b.fallbacks;

  std::int64_t requests = 0;
  std::int64_t fallbacks = 0;
  for (const Bucket& x : g.buckets) {
    if (x.slot > slot - slots_ && x.slot <= slot) {
      requests += x.requests;
      fallbacks += x.fallbacks;
    }
  }
  const double rate = requests > 0 ? static_cast<double>(fallbacks) / static_cast<double>(requests) : 0.0;
  if (g.firing) {
    if (rate < threshold_) g.firing = false;  // back below: the next crossing alerts again
    return std::nullopt;
  }
  if (requests < min_requests_ || rate <= threshold_) return std::nullopt;
  g.firing = true;
  Alert a;
  a.type = AlertType::kFallbackRate;
  a.entity = "model_group";
  a.id = std::string(model_group);
  const double window_s = static_cast<double>(window_ms_) / 1000.0;
  a.values = {{"fallback_rate", rate},  {"fallbacks", fallbacks},      {"requests", requests},
              {"threshold", threshold_}, {"window_seconds", window_s}};
  a.text = fmt::format(":twisted_rightwards_arrows: Fallback rate high: model group `{}` needed a fallback on {} of "
                       "its requests ({} of {}) in the last {:g} s, above the {} threshold.",
                       model_group, percent(rate), fallbacks, requests, window_s, percent(threshold_));
  return a;
}

// ---- OutageAlerts ------------------------------------------------------------------------------

std::optional<Alert> OutageAlerts::state(const config::Deployment& d, metrics::DeploymentState state) {
  // Called after every call to a deployment: decide before building anything.
  auto it = down_.find(d.id);
  const bool down = state == metrics::DeploymentState::kCompleteOutage;
  if (down) {
    if (it != down_.end() && it->second) return std::nullopt;
    if (it == down_.end()) {
      if (down_.size() >= kMaxDeployments) return std::nullopt;
      it = down_.emplace(d.id, false).first;
    }
    it->second = true;
  } else {
    if (state != metrics::DeploymentState::kHealthy || it == down_.end() || !it->second) return std::nullopt;
    it->second = false;
  }
  Alert a;
  a.entity = "deployment";
  a.id = d.id;
  a.values = {{"model_group", d.model_name},
              {"model", d.model},
              {"provider", d.provider},
              {"state", static_cast<int>(state)}};
  if (down) {
    a.type = AlertType::kDeploymentOutage;
    a.text = fmt::format(":red_circle: Deployment outage: `{}` (model group `{}`, {}/{}) is in complete outage; the "
                         "router is cooling it down and sends its requests elsewhere.",
                         d.id, d.model_name, d.provider, d.model);
    return a;
  }
  a.type = AlertType::kDeploymentRecovered;
  a.text = fmt::format(":large_green_circle: Deployment recovered: `{}` (model group `{}`, {}/{}) is healthy again.",
                       d.id, d.model_name, d.provider, d.model);
  return a;
}

// ---- SpendWriterAlerts -------------------------------------------------------------------------

std::optional<Alert> SpendWriterAlerts::failed(std::string_view error) {
  if (!armed_) return std::nullopt;
  armed_ = false;
  std::string text(error.substr(0, kMaxErrorText));
  Alert a;
  a.type = AlertType::kSpendWriteFailure;
  a.entity = "spend_writer";
  a.id = "database";
  a.values = {{"error", text}};
  a.text = fmt::format(":floppy_disk: Spend writes are failing: {}. Spend records and budgets lag behind until a "
                       "write succeeds again.",
                       text);
  return a;
}

}  // namespace tollgate::alerting
