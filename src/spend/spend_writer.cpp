#include "tollgate/spend/spend_writer.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

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

#include "spend/spend_journal.hpp"

namespace tollgate::spend {
namespace asio = boost::asio;

namespace {

constexpr std::chrono::seconds kFinalFlushWait{5};
constexpr std::chrono::milliseconds kJournalSync{100};
constexpr std::size_t kEventsPerWrite = 5000;     // spend events per transaction
constexpr std::size_t kEarlyFlushAt = 5000;       // queued events that start a write before the interval ends

// Spend events between two rotations of the journal: in memory, unless some spilled (queue full),
// in which case the journal's segment is the source and is read back at write time.
struct Segment {
  std::uint64_t seq = 0;                 // journal segment number (0 without a journal)
  std::vector<SpendEvent> events;        // in memory
  std::size_t count = 0;                 // events in the segment, in memory or not
  bool spilled = false;                  // some events are only in the journal
};

}  // namespace

struct SpendWriter::Impl {
  Impl(const config::SpendSettings& settings, std::chrono::milliseconds interval, SpendStore& s,
       std::shared_ptr<spdlog::logger> l, SpendWriterObserver* o)
      : max_queued(settings.max_queued_events),
        batch_write_interval(interval),
        store(s),
        log(std::move(l)),
        observer(o),
        journal(settings.journal_dir, *log),
        work(asio::make_work_guard(io)) {}

  asio::awaitable<void> flush_once();
  asio::awaitable<bool> write_segment(Segment& segment);
  asio::awaitable<void> flush_loop();
  asio::awaitable<void> sync_loop();
  void report_queue();

  const std::size_t max_queued;
  const std::chrono::milliseconds batch_write_interval;
  SpendStore& store;
  std::shared_ptr<spdlog::logger> log;
  SpendWriterObserver* observer;
  SpendJournal journal;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  mutable std::mutex mu;
  Segment current;                                // guarded by mu
  std::deque<Segment> closed;                     // guarded by mu: rotated, waiting for the database
  std::size_t in_memory = 0;                      // events held in memory; guarded by mu
  std::atomic<std::size_t> pending{0};            // events not yet stored
  bool write_failing = false;                     // io thread only
  bool flushing = false;                          // io thread only: a flush_once is under way
  asio::steady_timer* flush_timer = nullptr;      // io thread only: flush_loop's, while it runs
  std::atomic<bool> early_flush{false};           // an early write was asked for and has not started
  std::atomic<bool> stopping{false};
  std::vector<asio::steady_timer*> timers;        // of the loops, while they run (io thread only)
  std::thread thread;
};

void SpendWriter::Impl::report_queue() {
  if (observer) observer->queue_depth(pending.load(std::memory_order_relaxed));
}

// Stores one segment's events (from memory, or read back from the journal), in transactions of
// kEventsPerWrite; removes its journal file once all are stored. True when the segment is done
// with (stored, or refused as invalid and set aside); false when the database failed (retried).
asio::awaitable<bool> SpendWriter::Impl::write_segment(Segment& segment) {
  // A spilled segment: the journal's events plus those in memory (which may include some the
  // journal failed to take); repeats are stored once (by request id).
  std::vector<SpendEvent> from_disk;
  if (segment.spilled) {
    std::size_t skipped = 0;
    from_disk = journal.read(segment.seq, skipped);
    if (skipped > 0) log->warn("msg=\"spend journal lines skipped\" seq={} lines={}", segment.seq, skipped);
    from_disk.insert(from_disk.end(), segment.events.begin(), segment.events.end());
  }
  const std::vector<SpendEvent>& events = segment.spilled ? from_disk : segment.events;
  std::size_t stored = 0;
  for (std::size_t begin = 0; begin < events.size(); begin += kEventsPerWrite) {
    const std::size_t end = std::min(events.size(), begin + kEventsPerWrite);
    const std::span<const SpendEvent> chunk(events.data() + begin, end - begin);  // events outlive the call
    Result<std::size_t> r = co_await store.write_spend(chunk);
    if (observer) observer->database_reached(r.has_value() || r.error() != Errc::kDbUnavailable);
    if (!r && r.error() == Errc::kInvalidRequest) {
      // Events the database will never take (a bug, or a journal edited by hand): set aside, so
      // they do not hold back everything recorded after them.
      log->error("msg=\"spend events refused by the database; segment set aside as spend-<seq>.rejected\" seq={} events={}",
                 segment.seq, events.size());
      if (observer) observer->write_refused();
      journal.quarantine(segment.seq);
      pending.fetch_sub(std::min(segment.count, pending.load()), std::memory_order_relaxed);
      report_queue();
      co_return true;
    }
    if (!r) {
      if (observer) observer->write_failed(r.error().message());
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
  write_failing = false;
  journal.remove(segment.seq);
  // Counted as written and taken off the queue depth back to back, so the two gauges' sum (what a
  // reader checks: stored or queued, never neither nor both) is off for no longer than two calls.
  if (observer) observer->stored(stored);
  pending.fetch_sub(std::min(segment.count, pending.load()), std::memory_order_relaxed);
  report_queue();
  co_return true;
}

asio::awaitable<void> SpendWriter::Impl::flush_once() {
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

asio::awaitable<void> SpendWriter::Impl::flush_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  flush_timer = &wait;
  co_await flush_once();  // what an earlier process left in the journal, without waiting a whole interval
  while (!stopping.load()) {
    if (!early_flush.load()) {  // asked for while the last write ran: no wait
      wait.expires_after(batch_write_interval);
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // cancelled: write early
    }
    if (stopping.load()) break;
    co_await flush_once();
  }
  flush_timer = nullptr;
  std::erase(timers, &wait);
}

asio::awaitable<void> SpendWriter::Impl::sync_loop() {
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

SpendWriter::SpendWriter(const config::SpendSettings& settings, std::chrono::milliseconds batch_write_interval,
                         SpendStore& store, std::shared_ptr<spdlog::logger> log, SpendWriterObserver* observer)
    : impl_(std::make_shared<Impl>(settings, batch_write_interval, store, std::move(log), observer)) {
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
  impl->thread = std::thread([impl] {
    asio::co_spawn(impl->io, impl->flush_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->sync_loop(), asio::detached);
    impl->io.run();
  });
}

SpendWriter::~SpendWriter() {
  Impl* impl = impl_.get();
  if (!flush()) {
    impl->log->error("msg=\"spend not written at shutdown; kept in the journal for the next start\" events={}",
                     pending());
  }
  impl->stopping = true;
  asio::post(impl->io, [impl] {
    for (auto* t : impl->timers) t->cancel();
    impl->work.reset();
  });
  impl->thread.join();
}

void SpendWriter::record(SpendEvent event) {
  Impl& impl = *impl_;
  if (impl.observer) impl.observer->recorded();
  std::string line;
  if (impl.journal.enabled()) {
    line = SpendJournal::encode(event);  // before the lock: the lock only covers the write
    line += '\n';
  }
  std::lock_guard lock(impl.mu);
  // Journaled first, under the same lock as the queue, so a segment's file and its events agree.
  bool journaled = true;
  impl.current.seq = impl.journal.append(line, journaled);
  if (!journaled && impl.observer) impl.observer->journal_failed();
  ++impl.current.count;
  ++impl.pending;
  impl.report_queue();
  if (impl.in_memory >= impl.max_queued && impl.journal.enabled() && journaled) {
    impl.current.spilled = true;  // read back from the journal when written
    if (impl.observer) impl.observer->spilled();
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

bool SpendWriter::flush() {
  std::shared_ptr<Impl> impl = impl_;
  std::future<void> done = asio::co_spawn(impl->io, impl->flush_once(), asio::use_future);
  if (done.wait_for(kFinalFlushWait) != std::future_status::ready) return false;
  return pending() == 0;
}

std::size_t SpendWriter::pending() const { return impl_->pending.load(std::memory_order_relaxed); }

}  // namespace tollgate::spend
