#pragma once
// What a config reload did (SIGHUP or POST /config/reload; app::App::reload, docs/deployment.md).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tollgate::config {

struct ReloadOutcome {
  bool applied = false;                 // false: the running config is unchanged
  std::uint64_t version = 0;            // the config version in effect afterwards (1 = the one started with)
  std::size_t deployments = 0;          // in the config in effect afterwards
  std::vector<std::string> errors;      // why the new file was refused (each with its YAML path)
  std::vector<std::string> warnings;    // the loader's, and settings that only take effect on restart
};

/// Reloads the config from where the process got it. Blocking (reads and validates a file, builds
/// the snapshot); serialised by its owner.
using ReloadFn = std::function<ReloadOutcome()>;

}  // namespace tollgate::config
