#pragma once
// One JSON line per request, written off the request path: records are formatted on the worker
// and handed to spdlog's async logger, whose queue overwrites the oldest entry instead of
// blocking when the writer falls behind (dropped lines are counted by spdlog's thread pool).
// Never contains keys, Authorization headers or bodies.
//
// Thread safety: write() may be called from any worker concurrently.
#include <cstdint>
#include <memory>
#include <string_view>

#include "tollgate/config/config.hpp"
#include "tollgate/providers/provider.hpp"

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

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
  const providers::Usage* usage = nullptr;
  std::string_view error_type;  // empty on success
};

class AccessLog {
 public:
  explicit AccessLog(const config::LogSettings& settings);
  ~AccessLog();
  bool enabled() const { return logger_ != nullptr; }
  void write(const AccessRecord& record);
  void flush();
  std::size_t dropped() const;

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace tollgate::proxy
