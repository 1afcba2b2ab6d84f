#pragma once
// One JSON line per request, written off the request path. Each worker appends to its own buffer
// (a mutex only the writer ever contends for); a writer thread swaps the buffers out every 100 ms
// and writes them with one write(2) each. Nothing on the request path makes a system call or wakes
// a thread. If the writer falls behind (a blocked stdout), a shard's buffer stops growing at
// 8 MiB and further lines are dropped and counted, never blocking a request.
// Never contains keys, Authorization headers or bodies.
//
// Thread safety: write(shard, ...) from the worker that owns `shard`; flush() from any thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/api/usage.hpp"

namespace tollgate::proxy {

struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  std::string_view model_group;
  std::string_view deployment_id;
  unsigned status = 0;
  bool stream = false;
  double duration_ms = 0;       // request received → response complete
  double upstream_ms = 0;       // time spent waiting on the provider
  double overhead_ms = 0;       // duration − upstream
  const api::Usage* usage = nullptr;
  std::string_view error_type;  // empty on success
};

class AccessLog {
 public:
  /// `shards`: one per worker thread. Throws std::system_error when the file cannot be opened.
  AccessLog(const config::LogSettings& settings, unsigned shards);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return fd_ >= 0; }
  void write(unsigned shard, const AccessRecord& record);
  /// Writes everything buffered so far, synchronously.
  void flush();
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Shard {
    std::mutex mutex;
    std::string buffer;
  };
  void run_writer();

  int fd_ = -1;
  bool owns_fd_ = false;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::mutex flush_mutex_;  // one writer of the file at a time
  std::atomic<std::uint64_t> dropped_{0};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace tollgate::proxy
