#pragma once
// A real PostgreSQL server for tests: a fresh cluster (initdb) in a temporary directory, listening
// on 127.0.0.1 at a free port, its Unix socket in that directory too (never /var/run), fsync off,
// `trust` authentication (loopback, tests only). Each test takes its own database
// (create_database()), so tests sharing one server stay independent.
//
// The binaries come from the Debian `postgresql` package (/usr/lib/postgresql/<version>/bin,
// the highest version found; scripts/install-deps --test). When they are missing the constructor
// throws std::runtime_error naming the package, which fails the test that needed them.
// PostgreSQL refuses to run as root: under root, initdb and the server run as the package's
// `postgres` system user, which is given the directory.
//
// The server is run with pg_ctl, so it is not a child of the test process.
// Thread safety: create_database() and execute() may be called from any thread; start(), stop()
// and destruction from one thread. The destructor stops the server (fast shutdown) and removes
// the directory.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace tollgate::testing {

class PostgresServer {
 public:
  /// initdb, then start(); returns once the server accepts connections.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return running_; }
  /// libpq URL of database `db` as the superuser `postgres`.
  std::string url(const std::string& db = "postgres") const;

  /// Starts the server (again) on the same port and data; returns once it accepts connections.
  void start();
  /// Fast shutdown (open sessions are terminated); returns once the server has exited.
  void stop();

  /// CREATE DATABASE t_<n> (n unique in this server); returns its URL.
  std::string create_database();
  /// Runs `sql` (one or more statements) on database `db`; throws std::runtime_error on failure.
  void execute(const std::string& sql, const std::string& db = "postgres") const;

 private:
  pid_t spawn(const std::vector<std::string>& args, const std::string& log_file) const;
  /// Runs a PostgreSQL program to its end; throws with its output when it fails.
  void run_to_end(const std::vector<std::string>& args, const std::string& log_file) const;

  TempDir dir_{"tollgate-pg"};
  std::string bin_dir_;
  long version_ = 0;  // major
  bool switch_user_ = false;  // running as root: the children run as `postgres`
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::uint16_t port_ = 0;
  bool running_ = false;
  std::atomic<int> databases_{0};
};

}  // namespace tollgate::testing
