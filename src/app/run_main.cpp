#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tollgate/app/app.hpp"
#include "tollgate/config/loader.hpp"

namespace tollgate::app {
namespace {

std::optional<unsigned long> to_number(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) return std::nullopt;
  return std::stoul(s);
}

}  // namespace

std::string usage_text() {
  return "Usage: tollgate [--config FILE] [--host HOST] [--port PORT] [--num_workers N]\n"
         "                [--check-config] [--version] [--help]\n"
         "  --config, -c    LiteLLM-style config.yaml (default: env CONFIG_FILE_PATH)\n"
         "  --host          listen address (default 0.0.0.0)\n"
         "  --port          listen port (default 4000; 0 picks a free port)\n"
         "  --num_workers   io threads (default: one per core)\n"
         "  --check-config  validate the config, print every problem, exit 0 if valid\n";
}

std::optional<std::string> parse_cli(const std::vector<std::string>& args, CliOptions& out) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      (void)name;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      out.help = true;
    } else if (a == "--version") {
      out.version = true;
    } else if (a == "--check-config") {
      out.check_config = true;
    } else if (a == "--config" || a == "-c") {
      auto v = value("--config");
      if (!v) return "--config needs a file path";
      out.config_path = *v;
    } else if (a == "--host") {
      auto v = value("--host");
      if (!v) return "--host needs an address";
      out.host = *v;
    } else if (a == "--port") {
      auto v = value("--port");
      auto n = v ? to_number(*v) : std::nullopt;
      if (!n || *n > 65535) return "--port needs a number from 0 to 65535";
      out.port = static_cast<std::uint16_t>(*n);
    } else if (a == "--num_workers" || a == "--num-workers") {
      auto v = value("--num_workers");
      auto n = v ? to_number(*v) : std::nullopt;
      if (!n || *n == 0 || *n > 1024) return "--num_workers needs a number from 1 to 1024";
      out.num_workers = static_cast<unsigned>(*n);
    } else {
      return "unknown argument '" + a + "'";
    }
  }
  return std::nullopt;
}

int run_main(int argc, char** argv) {
  CliOptions cli;
  if (auto error = parse_cli(std::vector<std::string>(argv + 1, argv + argc), cli)) {
    std::cerr << "tollgate: " << *error << "\n" << usage_text();
    return 2;
  }
  if (cli.help) {
    std::cout << usage_text();
    return 0;
  }
  if (cli.version) {
    std::cout << "tollgate " << TOLLGATE_VERSION << "\n";
    return 0;
  }
  auto log = spdlog::stderr_color_mt("tollgate");
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);

  if (cli.config_path.empty()) {
    if (const char* env = std::getenv("CONFIG_FILE_PATH")) cli.config_path = env;
  }
  config::LoadResult loaded = cli.config_path.empty() ? config::load_config_text("", config::process_env())
                                                      : config::load_config_file(cli.config_path, config::process_env());
  for (const auto& w : loaded.warnings) log->warn("msg=\"config\" problem=\"{}\"", w.to_string());
  for (const auto& e : loaded.errors) log->error("msg=\"config\" problem=\"{}\"", e.to_string());
  if (!loaded.config) {
    std::cerr << "tollgate: invalid config '" << cli.config_path << "' (" << loaded.errors.size() << " problem"
              << (loaded.errors.size() == 1 ? "" : "s") << ")\n";
    for (const auto& e : loaded.errors) std::cerr << "  " << e.to_string() << "\n";
    return 1;
  }
  if (cli.check_config) {
    std::cout << "config OK: " << loaded.config->model_list.size() << " deployments, " << loaded.warnings.size()
              << " warnings\n";
    return 0;
  }
  config::Config cfg = std::move(*loaded.config);
  if (cli.host) cfg.server.host = *cli.host;
  if (cli.port) cfg.server.port = *cli.port;
  if (cli.num_workers) cfg.server.num_workers = *cli.num_workers;
  log->set_level(spdlog::level::from_str(cfg.log.level));
  if (cfg.master_key.empty()) log->warn("msg=\"no master key configured: every request is accepted without a key\"");

  // Signals are taken synchronously on this thread; workers inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    App app(cfg, log);
    const std::uint16_t port = app.start();
    std::cout << "tollgate listening on " << cfg.server.host << ":" << port << std::endl;
    log->info("msg=\"started\" version={} port={} deployments={}", TOLLGATE_VERSION, port, cfg.model_list.size());
    int sig = 0;
    sigwait(&signals, &sig);
    log->info("msg=\"draining\" signal={}", sig);
    const bool clean = app.shutdown();
    log->info("msg=\"stopped\" clean={}", clean);
  } catch (const std::exception& e) {
    log->error("msg=\"fatal\" error=\"{}\"", e.what());
    return 1;
  }
  spdlog::shutdown();
  return 0;
}

}  // namespace tollgate::app
