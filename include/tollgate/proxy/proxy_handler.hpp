#pragma once
// The request walk: route by path, authenticate, parse the few fields needed, pick a deployment,
// call the provider (or answer a mock), relay the answer (whole or streamed), log one line.
// See docs/request-lifecycle.md.
//
// Thread safety: one ProxyHandler per worker thread. Snapshots are immutable and shared; each
// request holds the one current when it arrived (CallOutcome::snapshot, proxy/snapshot.hpp).
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
#include "tollgate/core/clock.hpp"
#include "tollgate/limits/limiter.hpp"
#include "tollgate/proxy/gate.hpp"
#include "tollgate/store/redis.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/proxy/access_log.hpp"
#include "tollgate/proxy/snapshot.hpp"
#include "tollgate/router/attempt_plan.hpp"
#include "tollgate/router/router.hpp"
#include "tollgate/router/shared_state.hpp"

namespace tollgate::proxy {

namespace asio = boost::asio;

struct CallOutcome;    // proxy/call_outcome.hpp (module-private)
struct AttemptResult;  // proxy_handler.cpp

class ProxyHandler final : public http::Handler {
 public:
  /// `snapshots`, `tls`, `access_log` and `shared` (null without Redis) must outlive the handler.
  /// `limits`: the process's in-process limit state (the fallback when Redis is configured).
  /// `reload`: POST /config/reload (empty: the endpoint answers that reloading is not available).
  /// `clock` (must outlive the handler): the time of key expiry, admin timestamps, limits and budget windows.
  ProxyHandler(unsigned worker_index, const SnapshotHolder& snapshots, asio::io_context& io, asio::ssl::context& tls,
               AccessLog& access_log, std::shared_ptr<spdlog::logger> log, const tollgate::Clock& clock,
               router::SharedState* shared = nullptr, std::shared_ptr<limits::LocalLimitState> limits = nullptr,
               config::ReloadFn reload = {});
  ~ProxyHandler() override;

  asio::awaitable<void> handle(http::Exchange& exchange) override;
  void cut_inflight() override { upstream_.cut_all(); }

 private:
  // Steps return the error to answer with; nullopt means they answered themselves.
  // `body`: the OpenAI-format request (the client's, or translated from /v1/messages).
  asio::awaitable<std::optional<api::ApiError>> handle_completion(http::Exchange& ex, api::Endpoint endpoint,
                                                                  std::string_view body,
                                                                  const auth::Principal& principal, CallOutcome& out);
  // POST /v1/messages and /v1/messages/count_tokens: the Anthropic front end.
  asio::awaitable<std::optional<api::ApiError>> handle_messages(http::Exchange& ex, const auth::Principal& principal,
                                                                CallOutcome& out);
  asio::awaitable<std::optional<api::ApiError>> count_tokens(http::Exchange& ex, const auth::Principal& principal,
                                                             CallOutcome& out);
  // Rate limits and budgets for a request about to be routed to `group`.
  asio::awaitable<std::optional<api::ApiError>> admit_limits(const auth::Principal& principal,
                                                             const api::RequestFields& fields, const router::Target& group,
                                                             std::int64_t estimate, CallOutcome& out);
  asio::awaitable<std::optional<api::ApiError>> handle_admin(http::Exchange& ex, const auth::Principal& principal,
                                                             CallOutcome& out);
  // POST /config/reload (master key only).
  asio::awaitable<std::optional<api::ApiError>> reload_config(http::Exchange& ex, const auth::Principal& principal,
                                                              CallOutcome& out);
  // GET /health/readiness.
  asio::awaitable<void> readiness(http::Exchange& ex, CallOutcome& out);
  // GET /metrics. `principal`: who asked, when require_auth_for_metrics_endpoint is set (only an
  // admin may read every key's spend); null when the endpoint is open.
  asio::awaitable<std::optional<api::ApiError>> serve_metrics(http::Exchange& ex, const auth::Principal* principal,
                                                              CallOutcome& out);
  // The snapshot for a request arriving now (picks up a reload).
  const std::shared_ptr<const Snapshot>& current_snapshot();
  // One call to one deployment; the answer reaches the client unless the attempt failed.
  asio::awaitable<AttemptResult> attempt(http::Exchange& ex, api::Endpoint endpoint, const api::ParsedRequest& parsed,
                                         const router::Route& route, const router::Target& target,
                                         const router::AttemptTimeout& timeout, CallOutcome& out);
  // The deployment metrics, cooldown broadcast and health of an attempt that called `route`.
  void record_attempt(const Snapshot& snap, const router::Route& route, bool stream,
                      std::optional<unsigned> failed_status, router::ErrorClass cls, double seconds,
                      std::optional<std::chrono::milliseconds> cooled, const CallOutcome& out);
  asio::awaitable<void> sleep_for(std::chrono::milliseconds wait);
  // Sends the provider's token request (Provider::token_request said one is needed) and hands
  // the answer to Provider::accept_token; an error is the attempt's authentication failure.
  asio::awaitable<std::optional<api::ApiError>> fetch_token(const providers::Provider& provider,
                                                            const config::Deployment& deployment,
                                                            http::UpstreamRequest request, std::int64_t now_s,
                                                            CallOutcome& out);
  asio::awaitable<std::optional<api::ApiError>> answer_mock(http::Exchange& ex, api::Endpoint endpoint,
                                                            const api::ParsedRequest& req, const std::string& answer,
                                                            CallOutcome& out);
  // `passthrough`: the vendor's own bytes reach the client (a /v1/messages call to an Anthropic
  // deployment); the translator still reads them for usage and the stream's end.
  asio::awaitable<void> relay_stream(http::Exchange& ex, http::UpstreamResponse& response,
                                     const providers::Provider& provider, const api::ParsedRequest& req,
                                     CallOutcome& out, bool passthrough);
  asio::awaitable<void> send_error(http::Exchange& ex, const api::ApiError& error, CallOutcome& out);
  asio::awaitable<void> send_json(http::Exchange& ex, std::string&& body, CallOutcome& out);
  asio::awaitable<std::optional<api::ApiError>> list_models(http::Exchange& ex, std::string_view id,
                                                            const auth::Principal& principal, CallOutcome& out);
  std::string new_request_id();
  // Once per LLM request, before its last byte is sent (and at the end for failures): the real
  // cost settles the limiter, the spend event is journaled and queued, spend metrics counted.
  void settle_request(CallOutcome& out, bool success, std::string_view response_body);

  unsigned worker_index_;
  const SnapshotHolder& snapshots_;
  std::uint64_t snapshot_version_ = 0;        // of snapshot_
  std::shared_ptr<const Snapshot> snapshot_;  // the newest this worker has seen; requests copy it
  config::ReloadFn reload_;
  asio::io_context& io_;
  http::UpstreamClient upstream_;
  AccessLog& access_log_;
  std::shared_ptr<spdlog::logger> log_;
  const tollgate::Clock& clock_;
  router::SharedState* shared_;
  std::unique_ptr<store::RedisConnection> redis_;  // this worker's, for limits (with Redis configured)
  std::unique_ptr<limits::Limiter> limiter_;      // null without a control plane
  std::minstd_rand rng_;
  std::mt19937_64 id_rng_;
};

}  // namespace tollgate::proxy
