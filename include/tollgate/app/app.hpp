#pragma once
// The composition root: the only place that names concrete types. Builds the TLS context,
// access log, config snapshot and one ProxyHandler per worker, and owns the server. Reloads the
// config on request (SIGHUP in run_main, POST /config/reload from any worker).
//
// Thread safety: start and shutdown from the control thread; reload from any thread (serialised).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/config/loader.hpp"
#include "tollgate/config/reload.hpp"

namespace spdlog {
class logger;
}

namespace tollgate {
class Clock;
}

namespace tollgate::alerting {
class Alerter;
}

namespace tollgate::app {

/// Command-line options, LiteLLM's names (`--config`, `--port`, `--host`, `--num_workers`).
struct CliOptions {
  std::string config_path;                 // --config / -c, else env CONFIG_FILE_PATH
  std::optional<std::string> host;         // --host
  std::optional<std::uint16_t> port;       // --port
  std::optional<unsigned> num_workers;     // --num_workers
  bool check_config = false;               // --check-config: validate, print problems, exit
  bool migrate_only = false;               // --migrate-only: apply database migrations, exit
  bool skip_migrations = false;            // --skip-migrations (or env DISABLE_SCHEMA_UPDATE=true)
  bool version = false;                    // --version
  bool help = false;                       // --help
};

/// Parses argv; returns an error message on bad usage.
std::optional<std::string> parse_cli(const std::vector<std::string>& args, CliOptions& out);
std::string usage_text();

/// Reads the config again for a reload (the file, the environment, the command line's overrides).
using ConfigSource = std::function<config::LoadResult()>;

class App {
 public:
  /// `source`: where reload() reads the next config from; empty = reloading is refused.
  /// `clock`: where the request path and the alerter read the time (tests pass a ManualClock);
  /// null: the system's. A clock passed in must outlive the App.
  App(config::Config config, std::shared_ptr<spdlog::logger> log, ConfigSource source = {},
      const Clock* clock = nullptr);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Binds and starts the workers; returns the port.
  std::uint16_t start();
  /// Stops accepting, lets in-flight requests and streams finish up to the shutdown deadline,
  /// flushes the access log, stops. Returns true when everything finished in time.
  bool shutdown();
  std::uint16_t port() const;
  /// Re-reads the config from `source` and, when it is valid, makes it current: requests that
  /// arrive afterwards use it, requests in flight finish on theirs. Settings that cannot change
  /// while running (listener, database, Redis, logging, spend, alerting, upstream TLS) keep their
  /// running values and are named in the outcome's warnings. An invalid config changes nothing.
  config::ReloadOutcome reload();

  /// Requests being handled now, from their first byte to their settling (what shutdown waits for).
  std::size_t active_requests() const;
  /// The alerter, with general_settings.alerting; null otherwise.
  const alerting::Alerter* alerter() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The whole program: parse flags, load config, run until SIGTERM/SIGINT. Returns the exit code.
int run_main(int argc, char** argv);

}  // namespace tollgate::app
