#pragma once
// One alert: what happened, to what, with which numbers, and the Slack text that says it. The
// webhook payload is Slack's incoming-webhook shape plus a structured object for machines:
//   {"text": "...", "tollgate": {"type": "...", "entity": "...", "id": "...", "values": {...}}}
// docs/alerting.md lists every type and its values.
//
// Thread safety: plain values and pure functions.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tollgate::alerting {

enum class AlertType : std::uint8_t {
  kSoftBudget,           // an entity's spend reached its soft_budget (once per entity and window)
  kBudgetExceeded,       // a request was refused: the entity's max_budget is spent (once per entity and window)
  kFallbackRate,         // a model group's share of requests that needed a fallback crossed the threshold
  kDeploymentOutage,     // a deployment went into complete outage (cooling down)
  kDeploymentRecovered,  // a deployment that was alerted as down is healthy again
  kSpendWriteFailure,    // the spend writer failed after having succeeded (or at its first write)
};
inline constexpr std::size_t kAlertTypeCount = 6;

/// "soft_budget", "budget_exceeded", "fallback_rate", "deployment_outage",
/// "deployment_recovered", "spend_write_failure": the `type` label and payload field.
std::string_view alert_type_name(AlertType type);

/// Whether `type` is among `alert_types` (general_settings.alert_types: LiteLLM's names such as
/// "budget_alerts", "outage_alerts", "fallback_reports", "db_exceptions", or ours). An empty
/// list enables every type.
bool alert_type_enabled(std::span<const std::string> alert_types, AlertType type);

struct Alert {
  AlertType type = AlertType::kSoftBudget;
  std::string entity;                             // key, user, team, org, end_user, key_model, model_group, deployment, spend_writer
  std::string id;                                 // the entity's id (a key's is its SHA-256 hash, never the key)
  nlohmann::json values = nlohmann::json::object();  // the numbers behind the alert
  std::string text;                               // the human message (Slack mrkdwn)
};

/// The JSON body posted to the webhook.
std::string alert_payload(const Alert& alert);

/// Unix milliseconds as "2025-01-31T00:00:00Z".
std::string iso8601_utc(std::int64_t unix_ms);

}  // namespace tollgate::alerting
