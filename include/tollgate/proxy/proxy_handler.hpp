#pragma once
// The request path: dispatch by path, then the stages of an LLM request — authenticate → parse
// (the front end) → access and admission → decide → cache lookup → attempt plan and upstream call
// → settle → log, and the shadow hook after. See docs/request-lifecycle.md; the stages live in
// src/proxy/ (one unit each) and src/frontend/.
//
// Thread safety: one ProxyHandler per worker thread. Snapshots are immutable and shared; each
// request holds the one current when it arrived (proxy/snapshot.hpp).
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <spdlog/logger.h>

#include "tollgate/core/clock.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/limits/local_state.hpp"
#include "tollgate/proxy/access_log.hpp"
#include "tollgate/proxy/hooks.hpp"
#include "tollgate/proxy/snapshot.hpp"
#include "tollgate/router/shared_state.hpp"

namespace tollgate::proxy {

struct Worker;          // proxy/worker.hpp (module-private)
struct RequestContext;  // proxy/request_context.hpp (module-private)

class ProxyHandler final : public http::Handler {
 public:
  /// `snapshots`, `tls`, `access_log`, `clock` and `shared` (null without Redis) must outlive the
  /// handler. `limits`: the process's in-process limit state (the fallback when Redis is
  /// configured). `reload`: POST /config/reload (empty: the endpoint answers that reloading is not
  /// available). `hooks`: the cache and shadow seams (none by default).
  ProxyHandler(unsigned worker_index, const SnapshotHolder& snapshots, boost::asio::io_context& io,
               boost::asio::ssl::context& tls, AccessLog& access_log, std::shared_ptr<spdlog::logger> log,
               const tollgate::Clock& clock, router::SharedState* shared = nullptr,
               std::shared_ptr<limits::LocalLimitState> limits = nullptr, config::ReloadFn reload = {},
               Hooks hooks = {});
  ~ProxyHandler() override;

  boost::asio::awaitable<void> handle(http::Exchange& exchange) override;
  void cut_inflight() override;

 private:
  // The LLM endpoints of every front end: parse → access → decide → admission → cache → attempts.
  boost::asio::awaitable<std::optional<api::ApiError>> serve_llm(http::Exchange& ex, std::string_view path,
                                                                 api::Endpoint endpoint,
                                                                 const auth::Principal& principal,
                                                                 RequestContext& ctx);
  // The snapshot for a request arriving now (picks up a reload).
  const std::shared_ptr<const Snapshot>& current_snapshot();

  std::unique_ptr<Worker> worker_;
  std::uint64_t snapshot_version_ = 0;        // of snapshot_
  std::shared_ptr<const Snapshot> snapshot_;  // the newest this worker has seen; requests copy it
};

}  // namespace tollgate::proxy
