#include "tollgate/proxy/access_log.hpp"

#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace tollgate::proxy {
namespace {

// Strings that came from the client (model names, paths) are escaped as JSON.
std::string quoted(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

AccessLog::AccessLog(const config::LogSettings& settings) {
  if (settings.access_log == "off") return;
  pool_ = std::make_shared<spdlog::details::thread_pool>(16384, 1);
  spdlog::sink_ptr sink;
  if (settings.access_log == "stdout" || settings.access_log.empty()) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.access_log);
  }
  logger_ = std::make_shared<spdlog::async_logger>("access", std::move(sink), pool_,
                                                   spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::info);
}

AccessLog::~AccessLog() { flush(); }

void AccessLog::write(const AccessRecord& r) {
  if (!logger_) return;
  const auto now = std::chrono::system_clock::now();
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line),
                 R"({{"ts":"{:%FT%T}Z","request_id":"{}","method":"{}","path":{},"model_group":{},"deployment_id":{},)"
                 R"("status":{},"stream":{},"duration_ms":{:.3f},"upstream_ms":{:.3f},"overhead_ms":{:.3f})",
                 std::chrono::floor<std::chrono::milliseconds>(now), r.request_id, r.method, quoted(r.path),
                 quoted(r.model_group), quoted(r.deployment_id), r.status, r.stream, r.duration_ms, r.upstream_ms,
                 r.overhead_ms);
  if (r.usage && r.usage->present) {
    fmt::format_to(std::back_inserter(line), R"(,"prompt_tokens":{},"completion_tokens":{},"total_tokens":{})",
                   r.usage->prompt_tokens, r.usage->completion_tokens, r.usage->total_tokens);
  }
  if (!r.error_type.empty()) fmt::format_to(std::back_inserter(line), R"(,"error":{})", quoted(r.error_type));
  line.push_back('}');
  logger_->info(std::string_view(line.data(), line.size()));
}

void AccessLog::flush() {
  if (logger_) logger_->flush();
}

std::size_t AccessLog::dropped() const { return pool_ ? pool_->overrun_counter() : 0; }

}  // namespace tollgate::proxy
