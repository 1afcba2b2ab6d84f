#pragma once
// The control plane's moving parts, wired once per process: the store, the key cache, the spend
// writer (spend events journaled on disk, then stored in batches: multi-row spend-log inserts and
// one increment per entity; nothing dropped while the database is away, nothing lost to kill -9),
// spend-log retention, budget window resets, and cache invalidation across replicas (a Redis
// stream, when Redis is configured). They run on one background thread of their own; request
// threads only queue spend events and read the cache. See docs/spend.md and docs/admin-api.md.
//
// Thread safety: every public method may be called from any thread.
// Lifetime: the destructor writes queued spend (waiting up to 5 s; what is left stays in the
// journal for the next start) and joins the thread.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/auth/key_cache.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/db/store.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::metrics {
class Metrics;
}
namespace tollgate::alerting {
class Alerter;
}

namespace tollgate::admin {

class ControlPlane {
 public:
  /// Interval of the budget-reset sweep (a window's spend is also restarted by the first spend
  /// written into the next window; the sweep is for entities without traffic).
  static constexpr std::chrono::seconds kResetSweep{10};

  /// Replays the spend journal left by an earlier process (config.spend.journal_dir). `metrics`
  /// and `alerter` (spend-writer failure alerts) may be null; both must outlive this object.
  /// Throws std::runtime_error when the journal directory is unusable.
  ControlPlane(std::shared_ptr<const config::Config> config, std::unique_ptr<db::Store> store,
               std::shared_ptr<spdlog::logger> log, metrics::Metrics* metrics = nullptr,
               alerting::Alerter* alerter = nullptr);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  db::Store& store() { return *store_; }
  auth::KeyCache& cache() { return cache_; }
  const config::Config& config() const { return *config_; }

  /// Journals a finished request's spend event and queues it for the next batch write. Never
  /// blocks on the database; past spend.max_queued_events the event waits in the journal only.
  void record(db::SpendEvent event);
  /// An admin change: forgotten here at once, on the other replicas within ~100 ms (Redis) or the
  /// cache TTL (no Redis).
  void changed(db::Entity entity, const std::string& id);
  /// Writes queued spend now and waits for it. True when nothing is left queued.
  bool flush();
  /// Spend events not yet in the database (in memory or only in the journal).
  std::size_t pending_spend() const;
  /// True the first time (in this process) a scope's budget window crosses its soft budget, so
  /// the alert is raised once per window, not on every request after.
  bool first_soft_budget_alert(const std::string& scope, std::int64_t window_ms);
  /// Whether the last database round trip (a ping every second, spend writes, sweeps) succeeded.
  bool db_up() const { return db_up_.load(std::memory_order_relaxed); }
  /// The database has been reached and its schema is current (db::Store::schema_ready).
  bool schema_ready() const { return store_->schema_ready(); }
  bool schema_pending() const { return store_->schema_pending(); }

  struct Impl;

 private:
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<db::Store> store_;
  auth::KeyCache cache_;
  std::atomic<bool> db_up_{true};
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::admin
