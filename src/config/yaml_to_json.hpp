#pragma once
// Loader-private: turns a parsed YAML node into JSON, resolving `os.environ/NAME` strings through
// LoadContext::env(). Scalars are typed as PyYAML (which reads LiteLLM's configs) types them:
// quoted -> string; plain `null`/`~`/empty -> null; true/false/yes/no/on/off -> bool; integers and
// floats -> numbers; anything else -> string. Merge keys (`<<: *defaults`) are applied; duplicate
// keys are errors. Never throws.
//
// Thread safety: none. Keeps a reference to the LoadContext, which must outlive it.
#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/load_context.hpp"

namespace tollgate::config::detail {

class YamlToJson {
 public:
  static constexpr int kMaxDepth = 64;                     // nesting guard (and alias cycles)
  static constexpr std::size_t kMaxValues = 1'000'000;     // alias-expansion guard ("billion laughs")

  explicit YamlToJson(LoadContext& ctx) : ctx_(ctx) {}

  /// Converts `node`, found at YAML path `path` ("" for the root). Unset variables become null
  /// and are recorded in the context with their path.
  Json convert(const YAML::Node& node, const std::string& path);

  /// True once kMaxValues was exceeded (reported once); later results are incomplete.
  bool exhausted() const { return too_large_reported_; }

  /// A map's entries in document order, merge keys applied, duplicates reported. Used for the
  /// document root so sections can be converted one at a time.
  std::vector<std::pair<std::string, YAML::Node>> entries(const YAML::Node& map, const std::string& path);

 private:
  Json convert(const YAML::Node& node, const std::string& path, int depth);
  Json scalar(const YAML::Node& node, const std::string& path);
  void flatten(const YAML::Node& map, const std::string& path, int merge_depth,
               std::vector<std::pair<std::string, YAML::Node>>& out, std::set<std::string>& seen);

  LoadContext& ctx_;
  std::size_t values_ = 0;
  bool too_large_reported_ = false;
};

}  // namespace tollgate::config::detail
