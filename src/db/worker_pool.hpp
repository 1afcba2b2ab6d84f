#pragma once
// A fixed set of threads that run blocking database work, so that no io thread ever waits on
// SQLite or libpq. Thread `i` always passes `i` to the jobs it runs: a store keeps one connection
// per thread and indexes it with that number, so a connection is only ever used by its thread.
//
// Jobs are taken first come, first served by whichever thread is idle. Destruction stops taking
// jobs: queued ones are abandoned (Job::abandon(), which completes the waiter with an error),
// running ones finish, then the threads are joined.
//
// Thread safety: submit() may be called from any thread, concurrently.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tollgate::db {

class WorkerPool {
 public:
  class Job {
   public:
    virtual ~Job() = default;
    /// Runs on pool thread number `worker`. Must not throw.
    virtual void run(std::size_t worker) = 0;
    /// Called instead of run() when the pool is destroyed first; may run on any thread.
    virtual void abandon() = 0;
  };

  explicit WorkerPool(std::size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  std::size_t size() const { return threads_.size(); }
  void submit(std::unique_ptr<Job> job);
  /// Waits until no job is queued or running (new ones may arrive after), at most `timeout`.
  /// True when the pool was idle in time.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  void work(std::size_t worker);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tollgate::db
