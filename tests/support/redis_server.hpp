#pragma once
// A real `redis-server` child process for tests: loopback only, a free port, no persistence, its
// working directory and log file in a fresh temporary directory.
//
// The binary comes from the `redis-server` Debian package (scripts/install-deps --test); when it is
// missing, start() throws std::runtime_error saying so, which fails the test that needed it.
// Thread safety: none; use from the test thread. The destructor kills the server (SIGKILL).

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "support/temp_dir.hpp"

namespace tollgate::testing {

struct RedisServerOptions {
  std::string password;  // non-empty: --requirepass
};

class RedisServer {
 public:
  /// Picks a free port and starts the server; returns once it answers PING.
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }
  /// Starts it again on the same port (after stop()); returns once it answers PING.
  void start();
  /// SIGTERM, then waits for the process to exit.
  void stop();

  /// Runs one command on a fresh blocking connection (authenticated when a password is set) and
  /// returns the reply as text: the string, status or error message, or the integer in decimal.
  std::string command(const std::vector<std::string>& argv) const;

 private:
  bool answers_ping() const;

  RedisServerOptions options_;
  TempDir dir_{"tollgate-redis"};
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tollgate::testing
