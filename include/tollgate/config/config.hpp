#pragma once
// Plain configuration structs. Built by the loader (config/loader.hpp) from a LiteLLM-style
// config.yaml plus Tollgate's own `tollgate_settings` block. A loaded Config is immutable: the
// running gateway holds it as std::shared_ptr<const Config> and swaps the pointer on reload.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
  std::optional<std::string> mock_response;  // answer with this text, never call the provider
  std::optional<milliseconds> timeout;         // whole-request deadline (litellm_params.timeout)
  std::optional<milliseconds> stream_timeout;  // time to first byte for streams
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
  milliseconds header_timeout{30'000};        // to read a request's headers once bytes arrive
  milliseconds body_timeout{120'000};         // to read a request's body
  milliseconds idle_timeout{120'000};         // keep-alive connection idle before close
  milliseconds shutdown_timeout{30'000};      // drain deadline on SIGTERM
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
};

/// Logging.
struct LogSettings {
  std::string level = "info";                 // trace|debug|info|warn|error
  std::string access_log = "stdout";          // "stdout", "off", or a file path
};

struct Config {
  std::vector<Deployment> model_list;
  std::string master_key;                     // general_settings.master_key or env LITELLM_MASTER_KEY; empty = no auth
  ServerSettings server;
  UpstreamSettings upstream;
  LogSettings log;
  std::string source_path;                    // file it was loaded from ("" when built in code)
};

}  // namespace tollgate::config
