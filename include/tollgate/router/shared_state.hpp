#pragma once
// Router state shared by every replica through Redis: cooldowns, requests and tokens per sliding
// minute, in-flight counts, and exact rpm admission for usage-based routing. Exact rules and
// their error bounds: docs/routing.md ("Shared state").
//
// The hot path stays local: picks read the DeploymentState atomics, which a sync loop refreshes
// from Redis every kSyncInterval (one Lua call for all deployments: push this replica's deltas,
// read everyone's totals, read cooldowns). Only two things talk to Redis per request: a cooldown
// that starts (fire and forget) and, under usage-based routing, the admission of a request to a
// deployment whose `rpm` is at most kExactRpmLimit (one atomic Lua call, so the limit is exact
// across replicas). Larger rpm limits are checked against the synced totals: across replicas they
// can be passed by what the others start within one sync interval (under 0.2 % of the limit per
// other replica running at the limit).
//
// Redis unreachable: the sync loop and admissions fail fast (the client's own timeout), every replica
// routes on its local state, errors are counted (tollgate_redis_errors_total) and logged once per
// outage; when Redis returns, the next sync merges again.
//
// Thread safety: one SharedState per process with its own thread and io_context; every public
// member may be called from any thread.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/router/router.hpp"

namespace spdlog {
class logger;
}
namespace tollgate::metrics {
class Metrics;
}

namespace tollgate::router {

class SharedState {
 public:
  static constexpr std::chrono::milliseconds kSyncInterval{100};
  /// rpm limits up to this (100 requests per second) are admitted through Redis one by one.
  static constexpr std::int64_t kExactRpmLimit = 6000;

  /// Starts the Redis thread and connection. `router`'s deployment states are what is
  /// synchronised; `metrics` must outlive this object.
  SharedState(const config::RedisSettings& redis, std::shared_ptr<const Router> router, metrics::Metrics& metrics,
              std::shared_ptr<spdlog::logger> log);
  ~SharedState();  // stops the thread
  SharedState(const SharedState&) = delete;
  SharedState& operator=(const SharedState&) = delete;

  bool connected() const;
  /// A config reload: sync `router`'s deployments from the next sync on. Deployments it shares
  /// with the previous router share their states (Router's `previous`), so nothing is lost.
  void set_router(std::shared_ptr<const Router> router);
  /// A cooldown started on this replica: tell the others (no wait).
  void publish_cooldown(const Route& route, std::int64_t until_ms);
  /// Whether requests to `route` must be admitted through admit_rpm() (usage-based routing and
  /// an rpm limit of at most kExactRpmLimit).
  bool admits_exactly(const Route& route) const;
  /// Admits one request to `route`'s rpm limit across all replicas. True also when Redis is
  /// unreachable (the local claim already made stands).
  boost::asio::awaitable<bool> admit_rpm(const Route& route, std::int64_t now_ms);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::router
