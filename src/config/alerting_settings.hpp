#pragma once
// Loader-private: the alerting keys of `general_settings` (alerting, alerting_threshold,
// alerting_args, alerting_webhook_url, alert_types) and env SLACK_WEBHOOK_URL -> AlertingSettings.
#include <span>
#include <string_view>

#include "config/load_context.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config::detail {

/// The general_settings keys read_alerting() handles.
std::span<const std::string_view> alerting_keys();

/// Reads the alerting keys of `general` (which may be an absent block) and the environment into
/// `out`. Problems never quote a webhook URL: Slack's carry their secret in the path.
void read_alerting(const Section& general, LoadContext& ctx, AlertingSettings& out);

}  // namespace tollgate::config::detail
