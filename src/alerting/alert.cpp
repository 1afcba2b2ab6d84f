#include "tollgate/alerting/alert.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include <fmt/format.h>

namespace tollgate::alerting {
namespace {

constexpr std::array<std::string_view, kAlertTypeCount> kNames{
    "soft_budget", "budget_exceeded", "fallback_rate", "deployment_outage", "deployment_recovered",
    "spend_write_failure"};

// LiteLLM's alert_types and the types of ours each one turns on.
struct LitellmType {
  std::string_view name;
  std::array<AlertType, 2> types;
};
constexpr std::array<LitellmType, 6> kLitellmTypes{{
    {"budget_alerts", {AlertType::kSoftBudget, AlertType::kBudgetExceeded}},
    {"fallback_reports", {AlertType::kFallbackRate, AlertType::kFallbackRate}},
    {"outage_alerts", {AlertType::kDeploymentOutage, AlertType::kDeploymentRecovered}},
    {"cooldown_deployment", {AlertType::kDeploymentOutage, AlertType::kDeploymentRecovered}},
    {"db_exceptions", {AlertType::kSpendWriteFailure, AlertType::kSpendWriteFailure}},
    {"failed_tracking_spend", {AlertType::kSpendWriteFailure, AlertType::kSpendWriteFailure}},
}};

}  // namespace

std::string_view alert_type_name(AlertType type) { return kNames[static_cast<std::size_t>(type)]; }

bool alert_type_enabled(std::span<const std::string> alert_types, AlertType type) {
  if (alert_types.empty()) return true;
  for (const std::string& name : alert_types) {
    if (name == alert_type_name(type)) return true;
    for (const LitellmType& l : kLitellmTypes) {
      if (name == l.name && std::find(l.types.begin(), l.types.end(), type) != l.types.end()) return true;
    }
  }
  return false;
}

std::string alert_payload(const Alert& alert) {
  nlohmann::json body = {{"text", alert.text},
                         {"tollgate",
                          {{"type", alert_type_name(alert.type)},
                           {"entity", alert.entity},
                           {"id", alert.id},
                           {"values", alert.values}}}};
  // Error text from elsewhere may hold invalid UTF-8: replace it rather than throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string iso8601_utc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

}  // namespace tollgate::alerting
