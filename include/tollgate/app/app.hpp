#pragma once
// The composition root: the only place that names concrete types. Builds the TLS context,
// access log, config snapshot and one ProxyHandler per worker, and owns the server.
//
// Thread safety: control-thread only (start, shutdown).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/config/config.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::app {

/// Command-line options, LiteLLM's names (`--config`, `--port`, `--host`, `--num_workers`).
struct CliOptions {
  std::string config_path;                 // --config / -c, else env CONFIG_FILE_PATH
  std::optional<std::string> host;         // --host
  std::optional<std::uint16_t> port;       // --port
  std::optional<unsigned> num_workers;     // --num_workers
  bool check_config = false;               // --check-config: validate, print problems, exit
  bool version = false;                    // --version
  bool help = false;                       // --help
};

/// Parses argv; returns an error message on bad usage.
std::optional<std::string> parse_cli(const std::vector<std::string>& args, CliOptions& out);
std::string usage_text();

class App {
 public:
  App(config::Config config, std::shared_ptr<spdlog::logger> log);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Binds and starts the workers; returns the port.
  std::uint16_t start();
  /// Stops accepting, lets in-flight requests and streams finish up to the shutdown deadline,
  /// flushes the access log, stops. Returns true when everything finished in time.
  bool shutdown();
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The whole program: parse flags, load config, run until SIGTERM/SIGINT. Returns the exit code.
int run_main(int argc, char** argv);

}  // namespace tollgate::app
