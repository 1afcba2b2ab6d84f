#include "tollgate/admin/control_plane.hpp"

#include <deque>
#include <future>
#include <set>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/logger.h>

#include "admin/spend_journal.hpp"
#include "tollgate/alerting/alerter.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::admin {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kEventStream = "tollgate:control:events";
constexpr std::chrono::milliseconds kEventPoll{100};
constexpr std::chrono::seconds kFinalFlushWait{5};
constexpr std::chrono::seconds kHealthPing{1};
constexpr std::chrono::milliseconds kJournalSync{100};
constexpr std::chrono::seconds kRetentionSweep{60};
constexpr std::size_t kEventsPerWrite = 5000;     // spend events per transaction
constexpr std::size_t kEarlyFlushAt = 5000;       // queued events that start a write before the interval ends
constexpr std::size_t kPurgeBatch = 1000;         // spend-log rows per retention DELETE
constexpr std::size_t kMaxPurgeBatches = 100;     // per sweep: bounded work, the rest next time

// Spend events between two rotations of the journal: in memory, unless some spilled (queue full),
// in which case the journal's segment is the source and is read back at write time.
struct Segment {
  std::uint64_t seq = 0;                 // journal segment number (0 without a journal)
  std::vector<db::SpendEvent> events;    // in memory
  std::size_t count = 0;                 // events in the segment, in memory or not
  bool spilled = false;                  // some events are only in the journal
};

std::optional<db::Entity> entity_from(std::string_view name) {
  for (db::Entity e : {db::Entity::kKey, db::Entity::kTeam, db::Entity::kUser, db::Entity::kOrganization,
                       db::Entity::kEndUser, db::Entity::kBudget}) {
    if (name == db::entity_name(e)) return e;
  }
  return std::nullopt;
}

}  // namespace

struct ControlPlane::Impl {
  Impl(ControlPlane& o, std::shared_ptr<spdlog::logger> l, metrics::Metrics* m, alerting::Alerter* a)
      : owner(o),
        log(std::move(l)),
        metrics(m),
        alerter(a),
        journal(o.config_->spend.journal_dir, *log),
        work(asio::make_work_guard(io)) {}

  asio::awaitable<void> flush_once();
  asio::awaitable<bool> write_segment(Segment& segment);
  asio::awaitable<void> flush_loop();
  asio::awaitable<void> sync_loop();
  asio::awaitable<void> retention_loop();
  asio::awaitable<void> reset_loop();
  asio::awaitable<void> reset_once();
  asio::awaitable<void> event_loop();
  asio::awaitable<void> health_loop();
  asio::awaitable<void> read_events();
  void publish(db::Entity entity, const std::string& id);
  void report_queue();

  ControlPlane& owner;
  std::shared_ptr<spdlog::logger> log;
  metrics::Metrics* metrics;
  alerting::Alerter* alerter;
  SpendJournal journal;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::unique_ptr<store::RedisConnection> redis;  // created, used and destroyed on `thread`
  std::string last_event_id;                      // empty: not read yet (or missed: invalidate all)
  mutable std::mutex mu;
  Segment current;                                // guarded by mu
  std::deque<Segment> closed;                     // guarded by mu: rotated, waiting for the database
  std::size_t in_memory = 0;                      // events held in memory; guarded by mu
  std::atomic<std::size_t> pending{0};            // events not yet stored
  bool write_failing = false;                     // io thread only
  bool flushing = false;                          // io thread only: a flush_once is under way
  asio::steady_timer* flush_timer = nullptr;      // io thread only: flush_loop's, while it runs
  std::atomic<bool> early_flush{false};           // an early write was asked for and has not started
  std::set<std::pair<std::string, std::int64_t>> soft_alerted;  // guarded by mu
  std::atomic<bool> stopping{false};
  std::vector<asio::steady_timer*> timers;        // of the loops, while they run (io thread only)
  std::thread thread;
};

void ControlPlane::Impl::report_queue() {
  if (metrics) metrics->spend_queue_depth(pending.load(std::memory_order_relaxed));
}

// Stores one segment's events (from memory, or read back from the journal), in transactions of
// kEventsPerWrite; removes its journal file once all are stored. True when the segment is done
// with (stored, or refused as invalid and set aside); false when the database failed (retried).
asio::awaitable<bool> ControlPlane::Impl::write_segment(Segment& segment) {
  // A spilled segment: the journal's events plus those in memory (which may include some the
  // journal failed to take); repeats are stored once (by request id).
  std::vector<db::SpendEvent> from_disk;
  if (segment.spilled) {
    std::size_t skipped = 0;
    from_disk = journal.read(segment.seq, skipped);
    if (skipped > 0) log->warn("msg=\"spend journal lines skipped\" seq={} lines={}", segment.seq, skipped);
    from_disk.insert(from_disk.end(), segment.events.begin(), segment.events.end());
  }
  const std::vector<db::SpendEvent>& events = segment.spilled ? from_disk : segment.events;
  std::size_t stored = 0;
  for (std::size_t begin = 0; begin < events.size(); begin += kEventsPerWrite) {
    const std::size_t end = std::min(events.size(), begin + kEventsPerWrite);
    const std::span<const db::SpendEvent> chunk(events.data() + begin, end - begin);  // events outlive the call
    Result<std::size_t> r = co_await owner.store_->write_spend(chunk);
    owner.db_up_.store(r.has_value() || r.error() != Errc::kDbUnavailable, std::memory_order_relaxed);
    if (!r && r.error() == Errc::kInvalidRequest) {
      // Events the database will never take (a bug, or a journal edited by hand): set aside, so
      // they do not hold back everything recorded after them.
      log->error("msg=\"spend events refused by the database; segment set aside as spend-<seq>.rejected\" seq={} events={}",
                 segment.seq, events.size());
      if (metrics) metrics->spend_write_error();
      journal.quarantine(segment.seq);
      pending.fetch_sub(std::min(segment.count, pending.load()), std::memory_order_relaxed);
      co_return true;
    }
    if (!r) {
      if (metrics) metrics->spend_write_error();
      if (alerter) alerter->spend_write_failed(r.error().message());
      if (!write_failing) {
        log->warn("msg=\"spend write failed; kept for the next attempt\" events={} error=\"{}\"", events.size() - begin,
                  r.error().message());
      }
      write_failing = true;
      co_return false;
    }
    stored += *r;
  }
  if (write_failing) log->info("msg=\"spend writes succeed again\"");
  if (alerter) alerter->spend_write_succeeded();
  write_failing = false;
  journal.remove(segment.seq);
  if (metrics) metrics->spend_written(stored);
  pending.fetch_sub(std::min(segment.count, pending.load()), std::memory_order_relaxed);
  co_return true;
}

asio::awaitable<void> ControlPlane::Impl::flush_once() {
  // One at a time (the loop, an early write and flush() may overlap): later ones wait their turn.
  while (flushing) {
    asio::steady_timer turn(io, std::chrono::milliseconds(5));
    boost::system::error_code ec;
    co_await turn.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  flushing = true;
  early_flush = false;
  std::deque<Segment> batch;
  {
    std::lock_guard lock(mu);
    if (current.count > 0) {
      current.seq = journal.rotate();
      closed.push_back(std::move(current));
      current = Segment{};
    }
    batch.swap(closed);
  }
  journal.sync();  // rotate() leaves the closed segment's fdatasync to here, off the request path
  while (!batch.empty()) {
    const bool stored = co_await write_segment(batch.front());
    if (!stored) break;
    {
      std::lock_guard lock(mu);
      in_memory -= batch.front().events.size();
    }
    batch.pop_front();
  }
  if (!batch.empty()) {
    // Kept, in order, ahead of anything recorded since: the database takes them later.
    std::lock_guard lock(mu);
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) closed.push_front(std::move(*it));
  }
  report_queue();
  flushing = false;
}

asio::awaitable<void> ControlPlane::Impl::flush_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  flush_timer = &wait;
  co_await flush_once();  // what an earlier process left in the journal, without waiting a whole interval
  while (!stopping.load()) {
    if (!early_flush.load()) {  // asked for while the last write ran: no wait
      wait.expires_after(owner.config_->control.batch_write_interval);
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // cancelled: write early
    }
    if (stopping.load()) break;
    co_await flush_once();
  }
  flush_timer = nullptr;
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::sync_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    wait.expires_after(kJournalSync);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    journal.sync();
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::retention_loop() {
  const std::optional<Duration> retention = owner.config_->spend.retention;
  if (!retention) co_return;
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    const Duration back{.count = -retention->count, .unit = retention->unit};
    const std::int64_t cutoff = add_duration(unix_ms_now(), back);
    for (std::size_t i = 0; i < kMaxPurgeBatches && !stopping.load(); ++i) {
      Result<std::size_t> purged = co_await owner.store_->purge_spend_logs(cutoff, kPurgeBatch);
      if (!purged || *purged < kPurgeBatch) break;
    }
    if (stopping.load()) break;
    wait.expires_after(kRetentionSweep);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::reset_once() {
  const std::int64_t now = unix_ms_now();
  for (db::Entity e : {db::Entity::kKey, db::Entity::kTeam, db::Entity::kUser, db::Entity::kOrganization,
                       db::Entity::kEndUser}) {
    auto due = co_await owner.store_->due_for_reset(e, now);
    owner.db_up_.store(due.has_value(), std::memory_order_relaxed);
    if (!due) co_return;
    for (const db::Record& r : *due) {
      const auth::EntityLimits limits = auth::limits_of(r);
      if (!limits.budget_duration) continue;
      const std::int64_t next = auth::current_window_end(r.budget_reset_at_ms, *limits.budget_duration, now);
      auto reset = co_await owner.store_->reset_budget(e, r.id, r.budget_reset_at_ms, next);
      if (reset && *reset) owner.cache_.invalidate(e, r.id);
    }
  }
}

asio::awaitable<void> ControlPlane::Impl::reset_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    co_await reset_once();
    if (stopping.load()) break;  // stop() may have cancelled the timers while the sweep ran
    wait.expires_after(kResetSweep);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::read_events() {
  if (!redis->connected()) {
    // Whatever was published while we could not read is unknown: start over from the stream's end.
    last_event_id.clear();
    co_return;
  }
  if (last_event_id.empty()) {
    std::vector<std::string> argv{"XREVRANGE", std::string(kEventStream), "+", "-", "COUNT", "1"};
    Result<store::RedisReply> tail = co_await redis->command(std::move(argv));
    if (!tail || tail->is_error()) co_return;
    last_event_id = tail->elements.empty() || tail->elements[0].elements.empty() ? "0-0"
                                                                                 : tail->elements[0].elements[0].str;
    // Changes made while this replica was not reading may be cached: drop everything once.
    owner.cache_.invalidate_all();
    co_return;
  }
  std::vector<std::string> argv{"XRANGE", std::string(kEventStream), "(" + last_event_id, "+", "COUNT", "1000"};
  Result<store::RedisReply> reply = co_await redis->command(std::move(argv));
  if (!reply || reply->is_error()) co_return;
  for (const store::RedisReply& entry : reply->elements) {
    if (entry.elements.size() < 2) continue;
    last_event_id = entry.elements[0].str;
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string& v = fields[i + 1].str;
      const auto colon = v.find(':');
      if (colon == std::string::npos) continue;
      if (auto e = entity_from(std::string_view(v).substr(0, colon))) owner.cache_.invalidate(*e, v.substr(colon + 1));
    }
  }
}

asio::awaitable<void> ControlPlane::Impl::event_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    co_await read_events();
    if (stopping.load()) break;
    wait.expires_after(kEventPoll);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::health_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    Result<void> r = co_await owner.store_->ping();
    owner.db_up_.store(r.has_value(), std::memory_order_relaxed);
    if (stopping.load()) break;
    wait.expires_after(kHealthPing);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

void ControlPlane::Impl::publish(db::Entity entity, const std::string& id) {
  if (!redis || !redis->connected()) return;
  std::string value = std::string(db::entity_name(entity)) + ":" + id;
  redis->send({"XADD", std::string(kEventStream), "MAXLEN", "~", "10000", "*", "e", std::move(value)});
}

ControlPlane::ControlPlane(std::shared_ptr<const config::Config> config, std::unique_ptr<db::Store> store,
                           std::shared_ptr<spdlog::logger> log, metrics::Metrics* metrics,
                           alerting::Alerter* alerter)
    : config_(std::move(config)),
      store_(std::move(store)),
      cache_(*store_, config_->control),
      impl_(std::make_shared<Impl>(*this, std::move(log), metrics, alerter)) {
  Impl* impl = impl_.get();
  // Segments an earlier process left (kill -9, a database that never came back): written first.
  for (std::uint64_t seq : impl->journal.leftover()) {
    std::size_t skipped = 0;
    const std::size_t count = impl->journal.read(seq, skipped).size();
    impl->closed.push_back(Segment{.seq = seq, .events = {}, .count = count, .spilled = true});
    impl->pending += count;
    impl->log->info("msg=\"spend journal replayed\" seq={} events={} skipped_lines={}", seq, count, skipped);
  }
  impl->report_queue();
  const config::RedisSettings redis = config_->router.redis;
  impl->thread = std::thread([impl, redis] {
    if (redis.enabled()) {
      impl->redis = std::make_unique<store::RedisConnection>(impl->io, redis, impl->log);
      impl->redis->start();
      asio::co_spawn(impl->io, impl->event_loop(), asio::detached);
    }
    asio::co_spawn(impl->io, impl->flush_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->sync_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->retention_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->reset_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->health_loop(), asio::detached);
    impl->io.run();
    impl->redis.reset();
  });
}

ControlPlane::~ControlPlane() {
  Impl* impl = impl_.get();
  if (!flush()) {
    impl->log->error("msg=\"spend not written at shutdown; kept in the journal for the next start\" events={}",
                     pending_spend());
  }
  impl->stopping = true;
  asio::post(impl->io, [impl] {
    if (impl->redis) impl->redis->stop();
    for (auto* t : impl->timers) t->cancel();
    impl->work.reset();
  });
  impl->thread.join();
}

void ControlPlane::record(db::SpendEvent event) {
  Impl& impl = *impl_;
  if (impl.metrics) impl.metrics->spend_event();
  const std::size_t cap = config_->spend.max_queued_events;
  std::string line;
  if (impl.journal.enabled()) {
    line = SpendJournal::encode(event);  // before the lock: the lock only covers the write
    line += '\n';
  }
  std::lock_guard lock(impl.mu);
  // Journaled first, under the same lock as the queue, so a segment's file and its events agree.
  bool journaled = true;
  impl.current.seq = impl.journal.append(line, journaled);
  if (!journaled && impl.metrics) impl.metrics->spend_journal_error();
  ++impl.current.count;
  ++impl.pending;
  impl.report_queue();
  if (impl.in_memory >= cap && impl.journal.enabled() && journaled) {
    impl.current.spilled = true;  // read back from the journal when written
    if (impl.metrics) impl.metrics->spend_spilled();
    return;
  }
  // Without a journal (or when the write failed), memory is the only copy: it is kept even past the cap.
  impl.current.events.push_back(std::move(event));
  ++impl.in_memory;
  // A busy gateway writes every kEarlyFlushAt events rather than holding a whole interval's worth.
  if (impl.current.events.size() >= kEarlyFlushAt && !impl.early_flush.exchange(true)) {
    asio::post(impl.io, [&impl] {
      if (impl.flush_timer) impl.flush_timer->cancel();  // flush_loop wakes and writes
    });
  }
}

void ControlPlane::changed(db::Entity entity, const std::string& id) {
  cache_.invalidate(entity, id);
  std::shared_ptr<Impl> impl = impl_;
  asio::post(impl->io, [impl, entity, id] { impl->publish(entity, id); });
}

bool ControlPlane::flush() {
  std::shared_ptr<Impl> impl = impl_;
  std::future<void> done = asio::co_spawn(impl->io, impl->flush_once(), asio::use_future);
  if (done.wait_for(kFinalFlushWait) != std::future_status::ready) return false;
  return pending_spend() == 0;
}

bool ControlPlane::first_soft_budget_alert(const std::string& scope, std::int64_t window_ms) {
  constexpr std::size_t kMaxRemembered = 100'000;  // beyond: start over (an alert may repeat)
  std::lock_guard lock(impl_->mu);
  if (impl_->soft_alerted.size() >= kMaxRemembered) impl_->soft_alerted.clear();
  return impl_->soft_alerted.emplace(scope, window_ms).second;
}

std::size_t ControlPlane::pending_spend() const { return impl_->pending.load(std::memory_order_relaxed); }

}  // namespace tollgate::admin
