#pragma once
// The real `tollgate` binary as a child process on a free loopback port, for tests that need
// separate gateway processes (replicas sharing Redis). Its output goes to a log file in `dir`.
//
// Thread safety: none; use from the test thread. The destructor stops the process (SIGTERM, then
// SIGKILL after 10 s).
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tollgate::testing {

class GatewayProcess {
 public:
  /// Starts `binary --config config_file --port <free> --num_workers 2` and waits until
  /// /health/liveliness answers; throws std::runtime_error (with the log) when it does not.
  GatewayProcess(const std::string& binary, const std::string& config_file, const std::string& log_file);
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  /// SIGTERM and wait; returns the exit status (as waitpid reports it).
  int stop();
  /// SIGKILL (no shutdown work at all) and reap.
  void kill_hard();

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string log_file_;
};

}  // namespace tollgate::testing
