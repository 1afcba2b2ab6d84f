#include "db/worker_pool.hpp"

#include <algorithm>

namespace tollgate::db {

WorkerPool::WorkerPool(std::size_t threads) {
  threads_.reserve(std::max<std::size_t>(threads, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    threads_.emplace_back([this, i] { work(i); });
  }
}

WorkerPool::~WorkerPool() {
  std::deque<std::unique_ptr<Job>> abandoned;
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  wake_.notify_all();
  for (auto& job : abandoned) job->abandon();
  for (auto& t : threads_) t.join();
}

void WorkerPool::submit(std::unique_ptr<Job> job) {
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  job->abandon();
}

void WorkerPool::work(std::size_t worker) {
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job->run(worker);
    job.reset();  // its completion handler (and the executor it holds) goes before the pool says idle
    {
      const std::lock_guard lock(mutex_);
      --running_;
    }
    idle_.notify_all();
  }
}

bool WorkerPool::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && running_ == 0; });
}

}  // namespace tollgate::db
