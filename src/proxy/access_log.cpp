#include "tollgate/proxy/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "tollgate/api/json_text.hpp"

namespace tollgate::proxy {
namespace {

constexpr std::size_t kMaxShardBytes = 8u << 20;
constexpr auto kFlushInterval = std::chrono::milliseconds(100);

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing log; the lines are lost
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

AccessLog::AccessLog(const config::LogSettings& settings, unsigned shards) {
  if (settings.access_log == "off") return;
  if (settings.access_log == "stdout" || settings.access_log.empty()) {
    fd_ = STDOUT_FILENO;
  } else {
    fd_ = ::open(settings.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open access log " + settings.access_log);
    owns_fd_ = true;
  }
  for (unsigned i = 0; i < std::max(1u, shards); ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->buffer.reserve(64 * 1024);
  }
  writer_ = std::thread([this] { run_writer(); });
}

AccessLog::~AccessLog() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(stop_mutex_);
      stop_ = true;
    }
    stop_cv_.notify_one();
    writer_.join();
  }
  flush();
  if (owns_fd_) ::close(fd_);
}

void AccessLog::run_writer() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_) {
    stop_cv_.wait_for(lock, kFlushInterval);
    lock.unlock();
    flush();
    lock.lock();
  }
}

void AccessLog::flush() {
  if (fd_ < 0) return;
  std::lock_guard file_lock(flush_mutex_);
  std::string batch;
  for (auto& shard : shards_) {
    {
      std::lock_guard lock(shard->mutex);
      if (shard->buffer.empty()) continue;
      batch.swap(shard->buffer);
      shard->buffer.reserve(batch.capacity());
    }
    write_all(fd_, batch);
    batch.clear();
  }
}

void AccessLog::write(unsigned shard, const AccessRecord& r) {
  if (fd_ < 0) return;
  std::string line;
  line.reserve(384);
  const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  fmt::format_to(std::back_inserter(line), R"({{"ts":"{:%FT%T}Z","request_id":"{}","method":"{}","path":)", now,
                 r.request_id, r.method);
  api::append_json_string(line, r.path);
  line.append(",\"model_group\":");
  api::append_json_string(line, r.model_group);
  line.append(",\"deployment_id\":");
  api::append_json_string(line, r.deployment_id);
  fmt::format_to(std::back_inserter(line),
                 R"(,"status":{},"stream":{},"duration_ms":{:.3f},"upstream_ms":{:.3f},"overhead_ms":{:.3f})", r.status,
                 r.stream, r.duration_ms, r.upstream_ms, r.overhead_ms);
  if (r.usage && r.usage->present) {
    fmt::format_to(std::back_inserter(line), R"(,"prompt_tokens":{},"completion_tokens":{},"total_tokens":{})",
                   r.usage->prompt_tokens, r.usage->completion_tokens, r.usage->total_tokens);
  }
  if (!r.error_type.empty()) {
    line.append(",\"error\":");
    api::append_json_string(line, r.error_type);
  }
  line.append("}\n");

  Shard& s = *shards_[shard % shards_.size()];
  std::lock_guard lock(s.mutex);
  if (s.buffer.size() + line.size() > kMaxShardBytes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  s.buffer.append(line);
}

}  // namespace tollgate::proxy
