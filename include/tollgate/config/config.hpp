#pragma once
// Plain configuration structs. Built by the loader (config/loader.hpp) from a LiteLLM-style
// config.yaml plus Tollgate's own `tollgate_settings` block. A loaded Config is immutable: the
// running gateway holds it as std::shared_ptr<const Config> and swaps the pointer on reload.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tollgate/core/duration.hpp"

namespace tollgate::config {

using std::chrono::milliseconds;

/// One entry of `model_list`: a deployment of a model group.
struct Deployment {
  std::string id;             // model_info.id; else a stable hash of litellm_params (hex, 16 chars)
  std::string model_name;     // the group name clients ask for
  std::string provider;       // prefix of litellm_params.model ("openai", "hosted_vllm", ...)
  std::string model;          // litellm_params.model after the provider prefix: sent upstream
  std::string api_base;       // base URL incl. version path, no trailing slash ("https://api.openai.com/v1")
  std::string api_key;        // resolved secret; empty when the provider needs none
  std::string organization;   // OpenAI-Organization header when set
  std::string api_version;    // Azure's api-version: litellm_params.api_version, else env AZURE_API_VERSION (azure only); empty = adapter default
  std::optional<std::string> mock_response;  // answer with this text, never call the provider
  std::optional<milliseconds> timeout;         // whole-request deadline (litellm_params.timeout)
  std::optional<milliseconds> stream_timeout;  // time to first byte for streams
  // Router inputs (litellm_params, except where noted). Unset = not configured.
  std::optional<double> weight;               // simple-shuffle weight (> 0)
  std::optional<std::int64_t> rpm;            // requests per sliding minute this deployment may take
  std::optional<std::int64_t> tpm;            // tokens per sliding minute
  std::optional<int> order;                   // lower is tried first (>= 1)
  std::vector<std::string> tags;              // tag filtering; "default" serves untagged requests
  std::optional<int> max_parallel_requests;   // in-flight cap for this deployment (>= 1)
  std::optional<milliseconds> cooldown_time;  // overrides upstream retry-after and the router default
  std::optional<int> num_retries;             // num_retries, or max_retries as LiteLLM also spells it
  std::optional<double> input_cost_per_token;   // USD; litellm_params or model_info (litellm_params wins)
  std::optional<double> output_cost_per_token;  // USD; litellm_params or model_info
  std::optional<double> cache_read_input_token_cost;      // USD per cached prompt token; as above
  std::optional<double> cache_creation_input_token_cost;  // USD per prompt token written to a cache; as above
  std::string base_model;                       // model_info.base_model: the model priced, when the name is not it
  std::optional<std::int64_t> max_input_tokens; // model_info.max_input_tokens (pre-call checks)
  std::optional<std::int64_t> max_output_tokens;  // model_info.max_output_tokens (or LiteLLM's max_tokens): the largest max_tokens accepted
  std::vector<std::string> access_groups;       // model_info.access_groups
  nlohmann::json litellm_params = nlohmann::json::object();  // raw, env-resolved, for later modules
  nlohmann::json model_info = nlohmann::json::object();      // raw, env-resolved
};

/// How the listener and sessions behave. Tollgate's own block `tollgate_settings`.
struct ServerSettings {
  std::string host = "0.0.0.0";               // listen address
  std::uint16_t port = 4000;                  // 0 = pick a free port (tests)
  unsigned num_workers = 0;                   // io threads; 0 = one per core
  std::size_t max_request_body_bytes = 32u << 20;  // general_settings.max_request_size_mb (32 MB)
  std::size_t max_header_bytes = 64u << 10;   // request header block limit
  milliseconds header_timeout{30'000};        // total for a request's headers: from the accept (first request) or first byte
  milliseconds body_timeout{120'000};         // total for a request's body, from the end of its headers
  milliseconds idle_timeout{120'000};         // keep-alive connection idle before close
  milliseconds shutdown_timeout{30'000};      // drain deadline on SIGTERM
  milliseconds shutdown_delay{0};             // SIGTERM: serve this long with readiness 503 before draining (load balancers)
  std::size_t max_connections = 0;            // open client connections per process; 0 = from RLIMIT_NOFILE (docs/configuration.md)
  bool reuse_port = false;                    // share the port with other processes (SO_REUSEPORT); false = refuse to start if taken
  bool operator==(const ServerSettings&) const = default;  // a reload compares what it cannot apply
};

/// Upstream (provider) connections.
struct UpstreamSettings {
  milliseconds connect_timeout{10'000};       // TCP connect + TLS handshake
  milliseconds default_timeout{600'000};      // router_settings.timeout / litellm_settings.request_timeout
  std::optional<milliseconds> default_stream_timeout;  // router_settings.stream_timeout
  milliseconds chunk_timeout{120'000};        // max silence between two stream chunks
  bool ssl_verify = true;                     // litellm_settings.ssl_verify: false disables checks
  std::string ca_file;                        // ssl_verify as a path, else env SSL_CERT_FILE; empty = system store
  std::size_t max_idle_per_host = 64;         // pooled keep-alive connections per io thread and host
  milliseconds pool_idle_timeout{60'000};     // pooled connection unused this long is closed
  bool operator==(const UpstreamSettings&) const = default;  // a reload compares what it cannot apply
};

/// Error classes the router distinguishes (retry_policy / allowed_fails_policy keys in LiteLLM's
/// names: BadRequestErrorRetries, AuthenticationErrorRetries, TimeoutErrorRetries,
/// RateLimitErrorRetries, ContentPolicyViolationErrorRetries, InternalServerErrorRetries; the same
/// with "AllowedFails" for allowed_fails_policy).
enum class ErrorClass : std::uint8_t {
  kBadRequest,       // 400/422 that is none of the below: the caller's fault
  kAuthentication,   // 401/403 from the provider: the deployment's credentials
  kTimeout,          // no (complete) answer in time, 408
  kRateLimit,        // 429
  kContentPolicy,    // the provider refused the content
  kServerError,      // 5xx
  kContextWindow,    // the prompt is longer than the model accepts
  kNotFound,         // 404: model or route unknown to the provider
  kConnection,       // could not connect / connection dropped before an answer
};
inline constexpr std::size_t kErrorClassCount = 9;

/// LiteLLM's exception class name ("RateLimitError", ...): metrics labels and logs.
std::string_view exception_class_name(ErrorClass cls);

/// Per-class overrides; unset classes use the router's defaults (docs/routing.md).
using PerClass = std::array<std::optional<int>, kErrorClassCount>;

enum class RoutingStrategy : std::uint8_t { kSimpleShuffle, kLeastBusy, kLatency, kCost, kUsage };

/// One fallback list: requests for `model_group` that fail go to `targets`, in order.
using FallbackMap = std::map<std::string, std::vector<std::string>, std::less<>>;

/// Where shared router (and later limit) state lives. Unset host = in-process only.
struct RedisSettings {
  std::string host;                           // redis_host / redis_url / env REDIS_HOST
  std::uint16_t port = 6379;                  // redis_port / env REDIS_PORT
  std::string username;                       // from redis_url or env REDIS_USERNAME
  std::string password;                       // redis_password / env REDIS_PASSWORD
  int db = 0;                                 // from redis_url path
  bool enabled() const { return !host.empty(); }
  bool operator==(const RedisSettings&) const = default;  // a reload compares what it cannot apply
};

/// router_settings (and the litellm_settings names it shares; router_settings wins).
struct RouterSettings {
  RoutingStrategy strategy = RoutingStrategy::kSimpleShuffle;
  double lowest_latency_buffer = 0;           // routing_strategy_args.lowest_latency_buffer (>= 0)
  int num_retries = 2;                        // retries per model group after the first attempt
  PerClass retry_policy;                      // retry_policy: retries by error class
  milliseconds retry_after{0};                // router_settings.retry_after: minimum backoff
  int allowed_fails = 3;                      // failures per sliding minute before a cooldown
  PerClass allowed_fails_policy;              // allowed_fails_policy: by error class
  milliseconds cooldown_time{5'000};          // default cooldown length
  bool disable_cooldowns = false;
  FallbackMap fallbacks;                      // fallbacks
  std::vector<std::string> default_fallbacks; // default_fallbacks: for any group without its own
  FallbackMap context_window_fallbacks;
  FallbackMap content_policy_fallbacks;
  int max_fallbacks = 5;
  struct Alias {
    std::string model;                        // the group the alias stands for
    bool hidden = false;                      // not listed in /v1/models
  };
  std::map<std::string, Alias, std::less<>> model_group_alias;
  bool enable_pre_call_checks = false;
  bool enable_tag_filtering = false;
  std::optional<int> default_max_parallel_requests;
  RedisSettings redis;
};

/// Where keys, teams, users, budgets and spend live (docs/admin-api.md). Used only when a master
/// key is set: without one there is no authentication and no control plane.
struct DatabaseSettings {
  /// general_settings.database_url or env DATABASE_URL: `postgresql://...` / `postgres://...`
  /// selects PostgreSQL; empty selects SQLite at `sqlite_path`.
  std::string url;
  std::string sqlite_path = "tollgate.db";    // tollgate_settings.database_path
  int pool_size = 4;                          // tollgate_settings.database_pool_size: connections (PostgreSQL)
  /// false: `--skip-migrations` / env DISABLE_SCHEMA_UPDATE=true (replicas after a migration job):
  /// wait for the schema instead of applying migrations.
  bool apply_migrations = true;
  bool postgres() const { return !url.empty(); }
  bool operator==(const DatabaseSettings&) const = default;  // a reload compares what it cannot apply
};

/// The control plane: key cache, spend writes, what happens when the database is down.
struct ControlSettings {
  milliseconds batch_write_interval{10'000};  // general_settings.proxy_batch_write_at (seconds)
  bool allow_requests_on_db_unavailable = false;
  milliseconds key_cache_ttl{30'000};         // tollgate_settings.key_cache_ttl_seconds (backstop; Redis invalidates sooner)
  milliseconds negative_cache_ttl{2'000};     // unknown keys are remembered this long
  bool operator==(const ControlSettings&) const = default;  // a reload compares what it cannot apply
};

/// Spend logs and the spend writer (docs/spend.md).
struct SpendSettings {
  bool store_prompts = false;                 // general_settings.store_prompts_in_spend_logs
  std::optional<Duration> retention;          // general_settings.maximum_spend_logs_retention_period; unset = keep all
  std::string baseline_model;                 // general_settings.baseline_model: model group (or provider/model) for counterfactual cost
  std::string journal_dir = "spend-journal";  // tollgate_settings.spend_journal_dir; "" = no journal (kill -9 loses queued spend)
  std::size_t max_queued_events = 100'000;    // tollgate_settings.spend_queue_max_events: beyond, events wait in the journal only
  bool operator==(const SpendSettings&) const = default;  // a reload compares what it cannot apply
};

/// Webhook alerts (general_settings.alerting*; docs/alerting.md). Alerts are sent only when
/// `alerting` lists "slack" or "webhook".
struct AlertingSettings {
  std::vector<std::string> channels;          // alerting: the supported ones given ("slack", "webhook")
  std::string webhook_url;                    // alerting_webhook_url, else env SLACK_WEBHOOK_URL; empty = log only
  std::vector<std::string> alert_types;       // alert_types: LiteLLM's names or ours; empty = every type
  milliseconds slow_request_threshold{300'000};  // alerting_threshold (seconds): parsed; no slow-request alerts yet
  double fallback_rate_threshold = 0.2;       // alerting_args.fallback_rate_threshold: fraction in (0, 1]
  milliseconds fallback_rate_window{60'000};  // alerting_args.fallback_rate_window (seconds): sliding window
  std::int64_t fallback_rate_min_requests = 20;  // alerting_args.fallback_rate_min_requests in the window
  milliseconds webhook_timeout{10'000};       // alerting_args.webhook_timeout (seconds): per delivery attempt
  int webhook_retries = 2;                    // alerting_args.webhook_retries: after the first attempt
  std::size_t max_queued = 1000;              // alerting_args.max_queued_alerts: beyond, alerts are dropped
  bool enabled() const { return !channels.empty(); }
  bool operator==(const AlertingSettings&) const = default;  // a reload compares what it cannot apply
};

/// Logging.
struct LogSettings {
  std::string level = "info";                 // trace|debug|info|warn|error
  std::string access_log = "stdout";          // "stdout", "off", or a file path
  bool operator==(const LogSettings&) const = default;  // a reload compares what it cannot apply
};

struct Config {
  std::vector<Deployment> model_list;
  std::string master_key;                     // general_settings.master_key or env LITELLM_MASTER_KEY; empty = no auth
  bool require_auth_for_metrics = false;      // require_auth_for_metrics_endpoint: /metrics needs an admin key
  ServerSettings server;
  UpstreamSettings upstream;
  RouterSettings router;
  DatabaseSettings database;
  ControlSettings control;
  SpendSettings spend;
  LogSettings log;
  AlertingSettings alerting;
  std::string source_path;                    // file it was loaded from ("" when built in code)
};

}  // namespace tollgate::config
