#include "config/settings.hpp"

#include <array>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <vector>

#include "config/alerting_settings.hpp"
#include "config/router_settings.hpp"

namespace tollgate::config::detail {
namespace {

// LiteLLM names from LITELLM_COMPAT.md that later work implements. Until then they load quietly,
// so an operator's existing config.yaml starts without a wall of warnings.
constexpr std::array<std::string_view, 10> kLitellmAccepted{
    "cache", "cache_params", "callbacks", "success_callback", "failure_callback",
    "max_budget", "budget_duration", "default_key_generate_params", "upperbound_key_generate_params",
    "set_verbose"};

constexpr std::array<std::string_view, 4> kGeneralAccepted{
    "disable_spend_logs", "global_max_parallel_requests", "background_health_checks", "health_check_interval"};

constexpr std::array<std::string_view, 9> kGeneralHandled{
    "master_key", "max_request_size_mb", "database_url", "proxy_batch_write_at", "allow_requests_on_db_unavailable",
    "store_prompts_in_spend_logs", "maximum_spend_logs_retention_period", "baseline_model",
    "require_auth_for_metrics_endpoint"};
// require_auth_for_metrics_endpoint: LiteLLM reads it from litellm_settings; general_settings wins.
constexpr std::array<std::string_view, 4> kLitellmHandled{"request_timeout", "ssl_verify", "drop_params",
                                                          "require_auth_for_metrics_endpoint"};
constexpr std::array<std::string_view, 22> kTollgateHandled{
    "spend_journal_dir", "spend_queue_max_events", "database_path", "database_pool_size", "key_cache_ttl_seconds", "host", "port", "num_workers", "max_header_size_kb", "header_timeout_seconds",
    "body_timeout_seconds", "idle_timeout_seconds", "shutdown_timeout_seconds", "shutdown_delay_seconds",
    "max_connections", "reuse_port",
    "upstream_connect_timeout_seconds", "upstream_chunk_timeout_seconds", "upstream_max_idle_per_host",
    "upstream_pool_idle_timeout_seconds", "log_level", "access_log"};

constexpr std::string_view kKeyPrefix = "sk-";
constexpr double kMaxRequestSizeMb = 4096;

void read_master_key(const Section& s, LoadContext& ctx, Config& cfg) {
  const std::string path = s.path_of("master_key");
  std::optional<std::string> unset_var = ctx.take_unset(path);
  std::optional<std::string> from_file = s.string("master_key");
  // An empty variable is how compose files spell "not set".
  if (from_file && from_file->empty() && ctx.is_from_env(path)) from_file.reset();
  // An empty LITELLM_MASTER_KEY counts as unset.
  const std::string from_env = ctx.env("LITELLM_MASTER_KEY").value_or(std::string());

  // Messages never echo the key: they end up in logs.
  if (!from_env.empty()) {
    if (!from_env.starts_with(kKeyPrefix)) {
      ctx.error(path, "environment variable LITELLM_MASTER_KEY must start with 'sk-'");
      return;
    }
    cfg.master_key = from_env;
  } else if (from_file) {
    if (!from_file->starts_with(kKeyPrefix)) {
      ctx.error(path, "must start with 'sk-'");
      return;
    }
    cfg.master_key = *from_file;
  } else if (unset_var) {
    ctx.warn(path, "environment variable " + *unset_var +
                       " is not set; no master key, requests are not authenticated");
  }
}

void read_database(const Section& s, LoadContext& ctx, Config& cfg) {
  std::optional<std::string> url = s.string("database_url");
  if (!url || url->empty()) url = ctx.env("DATABASE_URL");
  if (!url || url->empty()) return;
  if (!url->starts_with("postgresql://") && !url->starts_with("postgres://")) {
    // Never echo the URL: it usually carries a password.
    ctx.error(s.path_of("database_url"), "expected a postgresql:// or postgres:// URL (leave it unset for SQLite)");
    return;
  }
  cfg.database.url = *url;
}

void read_spend(const Section& s, LoadContext& ctx, Config& cfg) {
  if (auto b = s.boolean("store_prompts_in_spend_logs")) cfg.spend.store_prompts = *b;
  if (auto text = s.string("maximum_spend_logs_retention_period")) {
    cfg.spend.retention = parse_duration(*text);
    if (!cfg.spend.retention) {
      ctx.error(s.path_of("maximum_spend_logs_retention_period"),
                "expected a duration such as \"30d\", \"12h\", \"2w\" or \"1mo\", got '" + *text + "'");
    }
  }
  if (auto model = s.string("baseline_model")) cfg.spend.baseline_model = *model;
}

void read_ssl_verify(const Section& s, LoadContext& ctx, Config& cfg) {
  const Json* v = s.get("ssl_verify");
  if (v == nullptr) return;
  if (v->is_boolean()) {
    cfg.upstream.ssl_verify = v->get<bool>();
    return;
  }
  if (!v->is_string()) {
    ctx.error(s.path_of("ssl_verify"), "expected true, false or a CA bundle path, got " + describe(*v));
    return;
  }
  const std::string& text = v->get_ref<const std::string&>();
  // `ssl_verify: os.environ/SSL_VERIFY` arrives as text: "false" still means false.
  if (auto b = parse_bool_text(text)) {
    cfg.upstream.ssl_verify = *b;
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(text, ec)) {
    ctx.error(s.path_of("ssl_verify"), "CA bundle not found: '" + text + "'");
    return;
  }
  cfg.upstream.ca_file = text;
}

}  // namespace

std::span<const std::string_view> accepted_litellm_keys() { return kLitellmAccepted; }
std::span<const std::string_view> accepted_general_keys() { return kGeneralAccepted; }

void read_general_settings(const Json& block, LoadContext& ctx, Config& cfg) {
  Section s(block, "general_settings", ctx);
  std::vector<std::string_view> handled(kGeneralHandled.begin(), kGeneralHandled.end());
  for (std::string_view key : alerting_keys()) handled.push_back(key);
  s.check_keys(handled, kGeneralAccepted);
  read_master_key(s, ctx, cfg);
  if (auto b = s.boolean("require_auth_for_metrics_endpoint")) cfg.require_auth_for_metrics = *b;
  if (cfg.require_auth_for_metrics && cfg.master_key.empty()) {
    ctx.warn(s.path_of("require_auth_for_metrics_endpoint"), "has no effect without a master key: /metrics stays open");
  }
  read_database(s, ctx, cfg);
  read_spend(s, ctx, cfg);
  read_alerting(s, ctx, cfg.alerting);
  if (auto t = s.seconds("proxy_batch_write_at")) cfg.control.batch_write_interval = *t;
  if (auto b = s.boolean("allow_requests_on_db_unavailable")) cfg.control.allow_requests_on_db_unavailable = *b;
  if (auto mb = s.number("max_request_size_mb")) {
    if (*mb <= 0 || *mb > kMaxRequestSizeMb) {
      ctx.error(s.path_of("max_request_size_mb"), "must be above 0 and at most 4096");
    } else {
      cfg.server.max_request_body_bytes = static_cast<std::size_t>(std::llround(*mb * 1024 * 1024));
    }
  }
}

void read_litellm_settings(const Json& block, LoadContext& ctx, Config& cfg) {
  Section s(block, "litellm_settings", ctx);
  // The names shared with router_settings are read by read_router_settings.
  std::vector<std::string_view> handled(kLitellmHandled.begin(), kLitellmHandled.end());
  for (std::string_view key : litellm_router_keys()) handled.push_back(key);
  s.check_keys(handled, kLitellmAccepted);
  if (auto t = s.seconds("request_timeout")) cfg.upstream.default_timeout = *t;
  if (auto b = s.boolean("require_auth_for_metrics_endpoint")) cfg.require_auth_for_metrics = *b;
  read_ssl_verify(s, ctx, cfg);
  // The global default; a deployment's own litellm_params.drop_params wins.
  if (auto drop = s.boolean("drop_params")) {
    for (Deployment& d : cfg.model_list) {
      if (!d.litellm_params.contains("drop_params")) d.litellm_params["drop_params"] = *drop;
    }
  }
}

void read_tollgate_settings(const Json& block, LoadContext& ctx, Config& cfg) {
  Section s(block, "tollgate_settings", ctx);
  s.check_keys(kTollgateHandled);
  ServerSettings& server = cfg.server;
  UpstreamSettings& upstream = cfg.upstream;

  if (auto host = s.string("host")) {
    if (host->empty()) {
      ctx.error(s.path_of("host"), "must not be empty");
    } else {
      server.host = *host;
    }
  }
  if (auto port = s.integer("port", 0, 65535)) server.port = static_cast<std::uint16_t>(*port);
  if (auto n = s.integer("num_workers", 0, 1024)) server.num_workers = static_cast<unsigned>(*n);
  if (auto kb = s.integer("max_header_size_kb", 1, 16 * 1024)) server.max_header_bytes = static_cast<std::size_t>(*kb) * 1024;
  if (auto t = s.seconds("header_timeout_seconds")) server.header_timeout = *t;
  if (auto t = s.seconds("body_timeout_seconds")) server.body_timeout = *t;
  if (auto t = s.seconds("idle_timeout_seconds")) server.idle_timeout = *t;
  if (auto t = s.seconds("shutdown_timeout_seconds")) server.shutdown_timeout = *t;
  if (auto t = s.seconds("shutdown_delay_seconds")) server.shutdown_delay = *t;
  if (auto n = s.integer("max_connections", 0, 10'000'000)) server.max_connections = static_cast<std::size_t>(*n);
  if (auto b = s.boolean("reuse_port")) server.reuse_port = *b;
  if (auto t = s.seconds("upstream_connect_timeout_seconds")) upstream.connect_timeout = *t;
  if (auto t = s.seconds("upstream_chunk_timeout_seconds")) upstream.chunk_timeout = *t;
  if (auto t = s.seconds("upstream_pool_idle_timeout_seconds")) upstream.pool_idle_timeout = *t;
  if (auto n = s.integer("upstream_max_idle_per_host", 0, 100'000)) upstream.max_idle_per_host = static_cast<std::size_t>(*n);
  if (auto path = s.string("database_path")) {
    if (path->empty()) {
      ctx.error(s.path_of("database_path"), "must not be empty");
    } else {
      cfg.database.sqlite_path = *path;
    }
  }
  if (auto n = s.integer("database_pool_size", 1, 64)) cfg.database.pool_size = static_cast<int>(*n);
  if (auto t = s.seconds("key_cache_ttl_seconds")) cfg.control.key_cache_ttl = *t;
  if (auto dir = s.string("spend_journal_dir")) cfg.spend.journal_dir = *dir;
  if (auto n = s.integer("spend_queue_max_events", 1, 100'000'000)) cfg.spend.max_queued_events = static_cast<std::size_t>(*n);
  if (auto level = s.string("log_level")) {
    if (*level == "trace" || *level == "debug" || *level == "info" || *level == "warn" || *level == "error") {
      cfg.log.level = *level;
    } else {
      ctx.error(s.path_of("log_level"), "expected trace, debug, info, warn or error, got '" + *level + "'");
    }
  }
  // `access_log: off` unquoted is a YAML boolean; take false as "off" rather than an error.
  if (const Json* raw = s.get("access_log"); raw && raw->is_boolean() && !raw->get<bool>()) {
    cfg.log.access_log = "off";
  } else if (auto log = s.string("access_log")) {
    if (log->empty()) {
      ctx.error(s.path_of("access_log"), "expected \"stdout\", \"off\" or a file path");
    } else {
      cfg.log.access_log = *log;
    }
  }
}

}  // namespace tollgate::config::detail
