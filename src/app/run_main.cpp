#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tollgate/app/app.hpp"
#include "tollgate/config/loader.hpp"
#include "tollgate/db/store.hpp"

namespace tollgate::app {
namespace {

std::optional<unsigned long> to_number(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) return std::nullopt;
  return std::stoul(s);
}

}  // namespace

std::string usage_text() {
  return "Usage: tollgate [--config FILE] [--host HOST] [--port PORT] [--num_workers N]\n"
         "                [--skip-migrations] [--check-config [FILE]] [--migrate-only] [--version] [--help]\n"
         "  --config, -c       LiteLLM-style config.yaml (default: env CONFIG_FILE_PATH)\n"
         "  --host             listen address (default 0.0.0.0)\n"
         "  --port             listen port (default 4000; 0 picks a free port)\n"
         "  --num_workers      io threads (default: one per core)\n"
         "  --skip-migrations  do not migrate the database; wait (not ready) until its schema is current\n"
         "                     (also env DISABLE_SCHEMA_UPDATE=true; for replicas after a migration job)\n"
         "  --check-config     validate the config, print every problem, exit 0 if valid, 1 if not\n"
         "  --migrate-only     apply the database migrations and exit (0 done, 1 failed)\n"
         "  --version          print the version and exit\n"
         "Signals: SIGTERM/SIGINT drain and stop; SIGHUP reloads the config file.\n";
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
      // `--check-config FILE` as well as `--check-config --config FILE`.
      if (i + 1 < args.size() && !args[i + 1].starts_with("-")) out.config_path = args[++i];
    } else if (a == "--migrate-only") {
      out.migrate_only = true;
    } else if (a == "--skip-migrations") {
      out.skip_migrations = true;
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

namespace {

bool env_true(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return false;
  const std::string s(v);
  return s == "true" || s == "True" || s == "TRUE" || s == "1" || s == "yes";
}

// The config as this process runs it: the file (or none), the environment, then the command line.
config::LoadResult load(const CliOptions& cli) {
  config::LoadResult loaded = cli.config_path.empty() ? config::load_config_text("", config::process_env())
                                                      : config::load_config_file(cli.config_path, config::process_env());
  if (!loaded.config) return loaded;
  config::Config& cfg = *loaded.config;
  if (cli.host) cfg.server.host = *cli.host;
  if (cli.port) cfg.server.port = *cli.port;
  if (cli.num_workers) cfg.server.num_workers = *cli.num_workers;
  if (cli.skip_migrations || env_true("DISABLE_SCHEMA_UPDATE")) cfg.database.apply_migrations = false;
  return loaded;
}

int migrate_only(const config::Config& cfg, spdlog::logger& log) {
  if (cfg.master_key.empty()) {
    // Without a master key there is no control plane, but the database named is migrated anyway:
    // a migration job may run with only DATABASE_URL.
    log.info("msg=\"no master key configured; migrating the configured database anyway\"");
  }
  try {
    const std::string problem = db::apply_migrations(cfg.database, log);
    if (!problem.empty()) {
      std::cerr << "tollgate: " << problem << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "tollgate: " << e.what() << "\n";
    return 1;
  }
  std::cout << "migrations applied (" << (cfg.database.postgres() ? "postgresql" : "sqlite") << ")" << std::endl;
  return 0;
}

}  // namespace

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
  config::LoadResult loaded = load(cli);
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
  if (cli.migrate_only) return migrate_only(cfg, *log);
  log->set_level(spdlog::level::from_str(cfg.log.level));
  if (cfg.master_key.empty()) log->warn("msg=\"no master key configured: every request is accepted without a key\"");

  // Signals are taken synchronously on this thread; workers inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    ConfigSource source;
    if (!cli.config_path.empty()) source = [cli] { return load(cli); };
    const std::string host = cfg.server.host;
    const std::size_t deployments = cfg.model_list.size();
    App app(std::move(cfg), log, std::move(source));
    const std::uint16_t port = app.start();
    std::cout << "tollgate listening on " << host << ":" << port << std::endl;
    log->info("msg=\"started\" version={} port={} deployments={}", TOLLGATE_VERSION, port, deployments);
    int sig = 0;
    // SIGHUP reloads (App::reload logs what it did) and waits again; anything else stops.
    while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
      log->info("msg=\"reloading config\" signal=SIGHUP file=\"{}\"", cli.config_path);
      app.reload();
    }
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
