#pragma once
// The config loader: the only user of yaml-cpp. Reads a LiteLLM config.yaml (plus Tollgate's
// `tollgate_settings`), resolves `os.environ/NAME` references, validates across fields and reports
// every problem with its YAML path. Never throws.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/config/config.hpp"

namespace tollgate::config {

/// One finding, e.g. {"model_list[3].litellm_params.api_base", "not a URL: 'foo'"}.
struct Problem {
  std::string path;
  std::string message;
  std::string to_string() const { return path.empty() ? message : path + ": " + message; }
};

struct LoadResult {
  std::optional<Config> config;     // set when errors is empty
  std::vector<Problem> errors;      // fatal: the config must not be used
  std::vector<Problem> warnings;    // unknown keys, unset optional env vars, disabled deployments
};

/// Environment lookup, injected for tests. Returns nullopt when the variable is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
EnvLookup process_env();

/// Parse YAML text. `source_path` is only recorded in Config::source_path.
LoadResult load_config_text(std::string_view yaml, const EnvLookup& env, std::string source_path = {});

/// Read and parse a file. An unreadable file is one error with an empty path.
LoadResult load_config_file(const std::string& path, const EnvLookup& env);

}  // namespace tollgate::config
