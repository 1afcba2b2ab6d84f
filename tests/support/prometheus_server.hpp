#pragma once
// A real Prometheus server for tests: a child process on a free loopback port, its TSDB and
// configuration file in a fresh temporary directory, the lifecycle API on (so a new configuration
// is applied with reload()). Used to check what a monitoring stack scrapes from gateway replicas.
//
// The binary comes from the Debian `prometheus` package (scripts/install-deps --test); when it is
// missing the constructor throws std::runtime_error saying so, which fails the test that needed it.
// Prometheus applies new targets through its discovery manager, which sends updates at most every
// 5 s: after start or reload(), expect targets in active_targets() within about that.
//
// Thread safety: query(), active_targets() and port() from any thread; construction, reload()
// and destruction from one. The destructor stops the server (SIGTERM, SIGKILL after 10 s) and
// removes the directory.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

namespace tollgate::testing {

class PrometheusServer {
 public:
  /// Writes `config_yaml` as its configuration file, starts `prometheus` from $PATH and returns
  /// once /-/ready answers 200. Throws std::runtime_error (with its log) when it does not.
  explicit PrometheusServer(const std::string& config_yaml);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::uint16_t port() const { return port_; }

  /// Replaces the configuration file and applies it (POST /-/reload); throws std::runtime_error
  /// with Prometheus's reason when it refuses the file.
  void reload(const std::string& config_yaml);

  /// `data.activeTargets` of GET /api/v1/targets. Throws std::runtime_error on a failed call.
  nlohmann::json active_targets() const;
  /// `data.result` of the instant query `promql` (GET /api/v1/query). Throws std::runtime_error
  /// on a failed call, with Prometheus's error.
  nlohmann::json query(const std::string& promql) const;

 private:
  nlohmann::json api_get(const std::string& target) const;
  void stop();

  TempDir dir_{"tollgate-prometheus"};
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// `config_yaml`, a Prometheus configuration, with job `job` scraping `targets` (static targets
/// in its first `static_configs` entry, the others dropped) every `interval` (scrape_timeout the
/// same); every other setting kept. Relative `rule_files` are made absolute against `base_dir`
/// (the directory the configuration came from), since the copy is run from elsewhere. Throws
/// std::runtime_error when it does not parse or has no such job.
std::string with_job_targets(const std::string& config_yaml, const std::string& job,
                             const std::vector<std::string>& targets, std::chrono::seconds interval,
                             const std::string& base_dir);

}  // namespace tollgate::testing
