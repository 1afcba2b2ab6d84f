#pragma once
// The real `tollgate` binary as a child process on a free loopback port, for tests that need
// separate gateway processes (replicas sharing Redis). Its output goes to a log file in `dir`.
//
// Thread safety: none; use from the test thread. The destructor stops the process (SIGTERM, then
// SIGKILL after 10 s).
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tollgate::testing {

/// How to run the binary beyond its config file, port and log (a deployment's environment).
struct GatewayProcessOptions {
  std::vector<std::string> env;   // more "NAME=value" for the child; they win over the test's own
  std::vector<std::string> args;  // more arguments, after the harness's own (e.g. "--host", "127.0.0.1")
  std::string working_dir;        // the child's current directory; empty: the log file's directory
};

class GatewayProcess {
 public:
  /// Starts `binary --config config_file --port <free> --num_workers 2 <options.args>` and waits
  /// until /health/liveliness answers; throws std::runtime_error (with the log) when it does not.
  GatewayProcess(const std::string& binary, const std::string& config_file, const std::string& log_file,
                 const GatewayProcessOptions& options = {});
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
