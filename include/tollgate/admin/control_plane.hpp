#pragma once
// The control plane's moving parts, wired once per process: the store, the key cache, the spend
// writer (spend::SpendWriter: journal, queue and batched writes, on a thread of its own; see
// docs/spend.md), spend-log retention, budget window resets, database health, and cache
// invalidation across replicas (a Redis stream, when Redis is configured). All but the spend
// writer run on one background thread of their own; request threads only record spend events and
// read the cache. See docs/admin-api.md.
//
// Thread safety: every public method may be called from any thread.
// Lifetime: the destructor first writes queued spend (waiting up to 5 s; what is left stays in the
// journal for the next start), then joins the threads.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/auth/key_cache.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/db/store.hpp"
#include "tollgate/spend/spend_sink.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::metrics {
class Metrics;
}
namespace tollgate::alerting {
class Alerter;
}
namespace tollgate::spend {
class SpendWriter;
class SpendWriterObserver;
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

  /// Where finished requests' spend events go (the spend writer).
  spend::SpendSink& spend();
  /// An admin change: forgotten here at once, on the other replicas within ~100 ms (Redis) or the
  /// cache TTL (no Redis).
  void changed(db::Entity entity, const std::string& id);
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
  std::unique_ptr<spend::SpendWriterObserver> spend_report_;  // metrics, alerts and db_up_ for the writer
  std::unique_ptr<spend::SpendWriter> spend_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::admin
