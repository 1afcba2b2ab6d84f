#include "config/yaml_to_json.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace tollgate::config::detail {
namespace {

constexpr std::string_view kEnvPrefix = "os.environ/";

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string index_path(const std::string& parent, std::size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

// A plain (unquoted) scalar typed the way PyYAML types it, so values mean what they meant to
// LiteLLM. Dates and sexagesimal numbers stay strings, which is what LiteLLM ends up using anyway.
Json typed_plain_scalar(const std::string& text) {
  if (is_one_of(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (is_one_of(text, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})) return true;
  if (is_one_of(text, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})) return false;
  if (auto i = parse_int(text)) return *i;
  if (auto d = parse_float(text)) return *d;
  return text;
}

}  // namespace

Json YamlToJson::convert(const YAML::Node& node, const std::string& path) { return convert(node, path, 0); }

Json YamlToJson::convert(const YAML::Node& node, const std::string& path, int depth) {
  if (++values_ > kMaxValues) {
    if (!too_large_reported_) {
      ctx_.error(path, "document too large (more than " + std::to_string(kMaxValues) +
                           " values after expanding aliases)");
      too_large_reported_ = true;
    }
    return nullptr;
  }
  if (depth > kMaxDepth) {
    ctx_.error(path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return nullptr;
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return scalar(node, path);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      std::size_t i = 0;
      for (const auto& item : node) {
        if (exhausted()) break;
        arr.push_back(convert(item, index_path(path, i), depth + 1));
        ++i;
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (auto& [key, value] : entries(node, path)) {
        if (exhausted()) break;
        std::string child = join_path(path, key);
        obj[key] = convert(value, child, depth + 1);
      }
      return obj;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
  }
  return nullptr;
}

Json YamlToJson::scalar(const YAML::Node& node, const std::string& path) {
  const std::string& text = node.Scalar();
  if (text.starts_with(kEnvPrefix)) {
    std::string var = text.substr(kEnvPrefix.size());
    if (var.empty()) {
      ctx_.error(path, "'os.environ/' needs a variable name");
      return nullptr;
    }
    if (auto value = ctx_.env(var)) {
      ctx_.note_from_env(path);
      return *value;
    }
    ctx_.note_unset(path, var);
    return nullptr;
  }
  // yaml-cpp tags quoted scalars "!" and leaves plain ones "?"; `!!str` is explicit.
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;
  return typed_plain_scalar(text);
}

std::vector<std::pair<std::string, YAML::Node>> YamlToJson::entries(const YAML::Node& map, const std::string& path) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::set<std::string> seen;
  flatten(map, path, 0, out, seen);
  return out;
}

void YamlToJson::flatten(const YAML::Node& map, const std::string& path, int merge_depth,
                         std::vector<std::pair<std::string, YAML::Node>>& out, std::set<std::string>& seen) {
  if (merge_depth > kMaxDepth) {
    ctx_.error(join_path(path, "<<"), "merge keys nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return;
  }
  std::vector<YAML::Node> merges;
  std::set<std::string> here;
  // By value: yaml-cpp's iterator hands out a proxy, so `it->first` must not be held by reference.
  for (const auto& pair : map) {
    const YAML::Node& key = pair.first;
    if (!key.IsScalar()) {
      if (merge_depth == 0) ctx_.error(path, "map keys must be plain strings");
      continue;
    }
    const std::string& name = key.Scalar();
    if (name == "<<" && key.Tag() == "?") {
      merges.push_back(pair.second);
      continue;
    }
    if (!here.insert(name).second) {
      // A merged-in map reports its own duplicates where it is defined, not at every use.
      if (merge_depth == 0) ctx_.error(join_path(path, name), "duplicate key");
      continue;
    }
    // Explicit keys win over merged ones, and earlier merges over later ones (YAML merge rules).
    if (!seen.insert(name).second) continue;
    out.emplace_back(name, pair.second);
  }
  for (const YAML::Node& m : merges) {
    if (m.IsMap()) {
      flatten(m, path, merge_depth + 1, out, seen);
    } else if (m.IsSequence() && std::all_of(m.begin(), m.end(), [](const YAML::Node& e) { return e.IsMap(); })) {
      for (const auto& e : m) flatten(e, path, merge_depth + 1, out, seen);
    } else if (merge_depth == 0) {
      ctx_.error(join_path(path, "<<"), "expected a map or a list of maps to merge");
    }
  }
}

}  // namespace tollgate::config::detail
