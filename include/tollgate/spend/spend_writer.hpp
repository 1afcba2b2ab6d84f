#pragma once
// The spend writer: the request path's SpendSink. Every event is journaled on disk (one write(2))
// and queued in memory; a thread of its own writes the queue to the database in batches
// (multi-row spend-log inserts and one increment per entity). Nothing is dropped while the
// database is away and nothing is lost to kill -9: the next start replays the journal. See
// docs/spend.md.
//
// Thread safety: every public method may be called from any thread. The observer's recorded(),
// spilled(), journal_failed() and queue_depth() run on the thread that calls record(); the others
// on the writer's thread (queue_depth() there too).
// Lifetime: the store and the observer must outlive the writer. The destructor writes queued
// spend (waiting up to 5 s; what is left stays in the journal for the next start) and joins the
// thread.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "tollgate/config/config.hpp"
#include "tollgate/spend/spend_sink.hpp"
#include "tollgate/spend/spend_store.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::spend {

/// What the writer reports as it works, for metrics, alerts and database health. The owner wires
/// it (admin::ControlPlane: metrics::Metrics, alerting::Alerter, its db_up flag).
class SpendWriterObserver {
 public:
  virtual ~SpendWriterObserver() = default;
  virtual void recorded() = 0;                        // record() took an event
  virtual void spilled() = 0;                         // past the queue's cap: kept in the journal only
  virtual void journal_failed() = 0;                  // the journal did not take an event (kept in memory)
  virtual void queue_depth(std::size_t events) = 0;   // events not yet in the database
  virtual void database_reached(bool up) = 0;         // after each write: whether the database answered
  virtual void stored(std::size_t events) = 0;        // a segment is in the database (`events` of it new)
  virtual void write_failed(const std::string& error) = 0;  // a write failed; kept for the next attempt
  virtual void write_refused() = 0;                   // the database refused a segment; set aside
};

class SpendWriter final : public SpendSink {
 public:
  /// Replays the journal an earlier process left (settings.journal_dir) and starts the thread:
  /// a write at once, then every `batch_write_interval`. `observer` may be null.
  /// Throws std::runtime_error when the journal directory is unusable.
  SpendWriter(const config::SpendSettings& settings, std::chrono::milliseconds batch_write_interval, SpendStore& store,
              std::shared_ptr<spdlog::logger> log, SpendWriterObserver* observer = nullptr);
  ~SpendWriter() override;
  SpendWriter(const SpendWriter&) = delete;
  SpendWriter& operator=(const SpendWriter&) = delete;

  /// Journals the event and queues it for the next batch write. Never blocks on the database;
  /// past spend.max_queued_events the event waits in the journal only.
  void record(SpendEvent event) override;
  /// Writes queued spend now and waits for it (up to 5 s). True when nothing is left queued.
  bool flush();
  /// Spend events not yet in the database (in memory or only in the journal).
  std::size_t pending() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::spend
