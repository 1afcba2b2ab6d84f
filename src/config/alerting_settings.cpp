#include "config/alerting_settings.hpp"

#include <algorithm>
#include <array>

namespace tollgate::config::detail {
namespace {

constexpr std::array<std::string_view, 5> kKeys{"alerting", "alerting_threshold", "alerting_args",
                                                "alerting_webhook_url", "alert_types"};

// Channels that post to the webhook: both take Slack's `{"text": ...}` payload.
constexpr std::array<std::string_view, 2> kChannels{"slack", "webhook"};

constexpr std::array<std::string_view, 6> kArgs{"fallback_rate_threshold", "fallback_rate_window",
                                                "fallback_rate_min_requests", "webhook_timeout",
                                                "webhook_retries", "max_queued_alerts"};
// LiteLLM's SlackAlertingArgs: accepted quietly, not acted on (their alerts are not Tollgate's).
constexpr std::array<std::string_view, 9> kLitellmArgs{
    "daily_report_frequency", "report_check_interval", "budget_alert_ttl", "outage_alert_ttl",
    "region_outage_alert_ttl", "minor_outage_alert_threshold", "major_outage_alert_threshold",
    "max_outage_alert_list_size", "log_to_console"};

// LiteLLM's alert type names, then Tollgate's own (docs/alerting.md says which fire what).
constexpr std::array<std::string_view, 19> kAlertTypes{
    "llm_exceptions", "llm_too_slow", "llm_requests_hanging", "budget_alerts", "db_exceptions",
    "daily_reports", "spend_reports", "cooldown_deployment", "new_model_added", "outage_alerts",
    "region_outage_alerts", "fallback_reports", "failed_tracking_spend",
    "soft_budget", "budget_exceeded", "fallback_rate", "deployment_outage", "deployment_recovered",
    "spend_write_failure"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool is_http_url(std::string_view url) {
  const bool scheme = url.starts_with("http://") || url.starts_with("https://");
  return scheme && url.find_first_of(" \t\r\n") == std::string_view::npos && url.size() > 8;
}

void read_channels(const Section& s, LoadContext& ctx, AlertingSettings& out) {
  auto list = s.string_list("alerting", /*one_string_ok=*/true);
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string& channel = (*list)[i];
    if (contains(kChannels, channel)) {
      if (std::find(out.channels.begin(), out.channels.end(), channel) == out.channels.end()) {
        out.channels.push_back(channel);
      }
    } else {
      ctx.warn(s.path_of("alerting") + "[" + std::to_string(i) + "]",
               "'" + channel + "' alerts are not supported (slack, webhook); ignored");
    }
  }
}

void read_url(const Section& s, LoadContext& ctx, AlertingSettings& out) {
  if (auto url = s.string("alerting_webhook_url"); url && !url->empty()) {
    if (!is_http_url(*url)) {
      ctx.error(s.path_of("alerting_webhook_url"), "expected an http:// or https:// URL");
      return;
    }
    out.webhook_url = *url;
  } else if (auto env = ctx.env("SLACK_WEBHOOK_URL"); env && !env->empty() && out.enabled()) {
    if (!is_http_url(*env)) {
      ctx.error(s.path_of("alerting"), "environment variable SLACK_WEBHOOK_URL: expected an http:// or https:// URL");
      return;
    }
    out.webhook_url = *env;
  }
  if (out.enabled() && out.webhook_url.empty()) {
    ctx.warn(s.path_of("alerting"), "no webhook URL (set SLACK_WEBHOOK_URL or general_settings.alerting_webhook_url); "
                                    "alerts are logged and counted, not sent");
  } else if (!out.enabled() && !out.webhook_url.empty()) {
    ctx.warn(s.path_of("alerting_webhook_url"), "set, but general_settings.alerting lists neither slack nor "
                                                "webhook; no alerts are sent");
  }
}

void read_args(const Section& s, LoadContext& ctx, AlertingSettings& out) {
  const Json* block = s.get("alerting_args");
  static const Json kNull = nullptr;
  Section args(block ? *block : kNull, s.path_of("alerting_args"), ctx);
  if (!args.ok()) return;
  args.check_keys(kArgs, kLitellmArgs);
  if (auto f = args.number_above("fallback_rate_threshold", 0)) {
    if (*f > 1) {
      ctx.error(args.path_of("fallback_rate_threshold"), "must be a fraction in (0, 1], e.g. 0.2 for 20%");
    } else {
      out.fallback_rate_threshold = *f;
    }
  }
  if (auto t = args.seconds("fallback_rate_window")) {
    if (*t < std::chrono::seconds(1) || *t > std::chrono::hours(24)) {
      ctx.error(args.path_of("fallback_rate_window"), "must be between 1 and 86400 seconds");
    } else {
      out.fallback_rate_window = *t;
    }
  }
  if (auto n = args.integer("fallback_rate_min_requests", 1, 1'000'000'000)) out.fallback_rate_min_requests = *n;
  if (auto t = args.seconds("webhook_timeout")) out.webhook_timeout = *t;
  if (auto n = args.integer("webhook_retries", 0, 10)) out.webhook_retries = static_cast<int>(*n);
  if (auto n = args.integer("max_queued_alerts", 1, 1'000'000)) out.max_queued = static_cast<std::size_t>(*n);
}

void read_alert_types(const Section& s, LoadContext& ctx, AlertingSettings& out) {
  auto types = s.string_list("alert_types");
  if (!types) return;
  for (std::size_t i = 0; i < types->size(); ++i) {
    if (!contains(kAlertTypes, (*types)[i])) {
      ctx.warn(s.path_of("alert_types") + "[" + std::to_string(i) + "]", "unknown alert type '" + (*types)[i] + "', ignored");
    }
  }
  out.alert_types = std::move(*types);
}

}  // namespace

std::span<const std::string_view> alerting_keys() { return kKeys; }

void read_alerting(const Section& general, LoadContext& ctx, AlertingSettings& out) {
  read_channels(general, ctx, out);
  read_url(general, ctx, out);
  read_args(general, ctx, out);
  read_alert_types(general, ctx, out);
  if (auto t = general.seconds("alerting_threshold")) out.slow_request_threshold = *t;
}

}  // namespace tollgate::config::detail
