#pragma once
// The request walk: route by path, authenticate, parse the few fields needed, pick a deployment,
// call the provider (or answer a mock), relay the answer (whole or streamed), log one line.
// See docs/request-lifecycle.md.
//
// Thread safety: one ProxyHandler per worker thread. The Snapshot is immutable and shared.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "tollgate/admin/admin_api.hpp"
#include "tollgate/alerting/alerter.hpp"
#include "tollgate/auth/master_key.hpp"
#include "tollgate/limits/limiter.hpp"
#include "tollgate/proxy/gate.hpp"
#include "tollgate/store/redis.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/proxy/access_log.hpp"
#include "tollgate/router/router.hpp"
#include "tollgate/router/shared_state.hpp"

namespace tollgate::proxy {

namespace asio = boost::asio;

/// Everything a request needs from the configuration, built once per config version.
struct Snapshot {
  /// `control` (null without a master key) and `alerter` (null without alerting) must outlive the snapshot.
  Snapshot(std::shared_ptr<const config::Config> cfg, metrics::Metrics& m, admin::ControlPlane* control = nullptr,
           alerting::Alerter* alerter = nullptr);
  std::shared_ptr<const config::Config> config;
  router::Router router;
  auth::MasterKey master_key;
  Gate gate;
  metrics::Metrics& metrics;
  alerting::Alerter* alerter;  // null without alerting configured
  std::vector<metrics::DeploymentMetrics*> deployment_metrics;  // by route index
  /// The handle for a model group or alias of this config; "other" for anything else.
  metrics::RequestedModelMetrics& model_metrics(std::string_view name) const;

 private:
  std::unordered_map<std::string, metrics::RequestedModelMetrics*, router::NameHash, std::equal_to<>> model_metrics_;
  metrics::RequestedModelMetrics* other_metrics_;
};

// Defined in proxy_handler.cpp.
struct CallOutcome;
struct AttemptResult;
struct AttemptTimeout;

class ProxyHandler final : public http::Handler {
 public:
  /// `tls`, `access_log` and `shared` (null without Redis) must outlive the handler. `limits`:
  /// the process's in-process limit state (the fallback when Redis is configured).
  ProxyHandler(unsigned worker_index, std::shared_ptr<const Snapshot> snapshot, asio::io_context& io,
               asio::ssl::context& tls, AccessLog& access_log, std::shared_ptr<spdlog::logger> log,
               router::SharedState* shared = nullptr, std::shared_ptr<limits::LocalLimitState> limits = nullptr);
  ~ProxyHandler() override;

  asio::awaitable<void> handle(http::Exchange& exchange) override;

 private:
  // Steps return the error to answer with; nullopt means they answered themselves.
  asio::awaitable<std::optional<api::ApiError>> handle_completion(http::Exchange& ex, api::Endpoint endpoint,
                                                                  const auth::Principal& principal, CallOutcome& out);
  // Rate limits and budgets for a request about to be routed to `group`.
  asio::awaitable<std::optional<api::ApiError>> admit_limits(const auth::Principal& principal,
                                                             const api::RequestFields& fields, const router::Target& group,
                                                             std::int64_t estimate, CallOutcome& out);
  asio::awaitable<std::optional<api::ApiError>> handle_admin(http::Exchange& ex, const auth::Principal& principal,
                                                             CallOutcome& out);
  // One call to one deployment; the answer reaches the client unless the attempt failed.
  asio::awaitable<AttemptResult> attempt(http::Exchange& ex, api::Endpoint endpoint, const api::ParsedRequest& parsed,
                                         const router::Route& route, const router::Target& target,
                                         const AttemptTimeout& timeout, CallOutcome& out);
  asio::awaitable<void> sleep_for(std::chrono::milliseconds wait);
  asio::awaitable<std::optional<api::ApiError>> answer_mock(http::Exchange& ex, api::Endpoint endpoint,
                                                            const api::ParsedRequest& req, const std::string& answer,
                                                            CallOutcome& out);
  asio::awaitable<void> relay_stream(http::Exchange& ex, http::UpstreamResponse& response,
                                     const providers::Provider& provider, const api::ParsedRequest& req,
                                     CallOutcome& out);
  asio::awaitable<void> send_error(http::Exchange& ex, const api::ApiError& error, CallOutcome& out);
  asio::awaitable<void> send_json(http::Exchange& ex, std::string&& body, CallOutcome& out);
  asio::awaitable<std::optional<api::ApiError>> list_models(http::Exchange& ex, std::string_view id,
                                                            const auth::Principal& principal, CallOutcome& out);
  std::string new_request_id();
  // Once per LLM request, before its last byte is sent (and at the end for failures): the real
  // cost settles the limiter, the spend event is journaled and queued, spend metrics counted.
  void settle_request(CallOutcome& out, bool success, std::string_view response_body);

  unsigned worker_index_;
  std::shared_ptr<const Snapshot> snapshot_;
  asio::io_context& io_;
  http::UpstreamClient upstream_;
  AccessLog& access_log_;
  std::shared_ptr<spdlog::logger> log_;
  router::SharedState* shared_;
  std::unique_ptr<store::RedisConnection> redis_;  // this worker's, for limits (with Redis configured)
  std::unique_ptr<limits::Limiter> limiter_;      // null without a control plane
  std::minstd_rand rng_;
  std::mt19937_64 id_rng_;
};

}  // namespace tollgate::proxy
