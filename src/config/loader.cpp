// The public face of the config loader: parse, walk the sections in dependency order, collect
// problems. The one place yaml-cpp exceptions are caught.
#include "tollgate/config/loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "config/deployments.hpp"
#include "config/load_context.hpp"
#include "config/router_settings.hpp"
#include "config/settings.hpp"
#include "config/yaml_to_json.hpp"

namespace tollgate::config {
namespace {

using detail::Json;
using detail::LoadContext;

constexpr std::array<std::string_view, 6> kSections{
    "model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables",
    "tollgate_settings"};

constexpr std::uintmax_t kMaxFileBytes = 16u << 20;

// yaml-cpp parses nested collections recursively: 100,000 `[` (or as many `- ` or indentation
// levels) overflow the stack inside YAML::Load, before YamlToJson's own depth guard sees a node.
// This pass bounds the nesting yaml-cpp can be asked to descend: open flow brackets plus the
// indentation (leading spaces and compact `- ` / `? ` indicators) of each line. It never skips
// quoted text or comments — a guess about where they end that differed from yaml-cpp's would
// under-count — so a bracket inside a string counts too, and the bound is generous for that.
constexpr std::size_t kMaxYamlNesting = 256;

bool nesting_within_bound(std::string_view text) {
  std::size_t flow = 0;
  std::size_t indent = 0;
  bool line_start = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      line_start = true;
      indent = 0;
      continue;
    }
    if (line_start) {
      const bool indicator =
          (c == '-' || c == '?') && i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\t');
      if (c == ' ' || c == '\t' || indicator) {
        indent += indicator ? 2 : 1;
        if (indicator) ++i;
        if (indent + flow > kMaxYamlNesting) return false;
        continue;
      }
      line_start = false;
    }
    if (c == '[' || c == '{') {
      if (++flow + indent > kMaxYamlNesting) return false;
    } else if ((c == ']' || c == '}') && flow > 0) {
      --flow;
    }
  }
  return true;
}

// `environment_variables:` values are layered over the process environment for every later
// `os.environ/` lookup; the process environment itself is left alone.
std::map<std::string, std::string> read_environment_variables(const Json& block, LoadContext& ctx) {
  std::map<std::string, std::string> vars;
  if (block.is_null()) return vars;
  if (!block.is_object()) {
    ctx.error("environment_variables", "expected a map, got " + detail::describe(block));
    return vars;
  }
  for (const auto& [name, value] : block.items()) {
    if (value.is_string()) {
      vars[name] = value.get<std::string>();
    } else if (value.is_number() || value.is_boolean()) {
      vars[name] = value.dump();
    } else if (!ctx.is_unset("environment_variables." + name)) {
      ctx.error("environment_variables." + name, "expected a string, got " + detail::describe(value));
    }
  }
  return vars;
}

void read_document(const YAML::Node& root, LoadContext& ctx, Config& cfg) {
  std::map<std::string, Json, std::less<>> sections;
  if (root.IsMap()) {
    detail::YamlToJson converter(ctx);
    auto entries = converter.entries(root, "");
    // environment_variables first: the rest of the file may refer to what it defines.
    for (const auto& [name, node] : entries) {
      if (name == "environment_variables") ctx.set_overlay(read_environment_variables(converter.convert(node, name), ctx));
    }
    for (const auto& [name, node] : entries) {
      if (name == "environment_variables") continue;
      if (std::find(kSections.begin(), kSections.end(), name) == kSections.end()) {
        ctx.warn(name, "unknown key, ignored");
        continue;
      }
      sections[name] = converter.convert(node, name);
    }
    if (converter.exhausted()) return;  // reported; validating a truncated document only adds noise
  } else if (!root.IsNull()) {
    ctx.error("", "expected a map of sections (model_list, router_settings, ...) at the top level");
  }
  auto section = [&](std::string_view name) -> const Json& {
    static const Json kAbsent = nullptr;
    auto it = sections.find(name);
    return it == sections.end() ? kAbsent : it->second;
  };

  detail::read_model_list(section("model_list"), ctx, cfg.model_list);
  detail::read_litellm_settings(section("litellm_settings"), ctx, cfg);
  detail::read_router_settings(section("router_settings"), section("litellm_settings"),
                               detail::declared_groups(section("model_list")), ctx, cfg);
  detail::read_general_settings(section("general_settings"), ctx, cfg);
  detail::read_tollgate_settings(section("tollgate_settings"), ctx, cfg);
  if (cfg.upstream.ca_file.empty()) {
    if (auto file = ctx.env("SSL_CERT_FILE"); file && !file->empty()) cfg.upstream.ca_file = *file;
  }
  ctx.report_unclaimed_unset();
  if (cfg.model_list.empty() && ctx.errors().empty()) ctx.warn("model_list", "no deployments configured");
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LoadResult load_config_text(std::string_view yaml, const EnvLookup& env, std::string source_path) {
  LoadContext ctx(env);
  Config cfg;
  cfg.source_path = std::move(source_path);
  try {
    if (!nesting_within_bound(yaml)) {
      throw std::runtime_error("nested deeper than " + std::to_string(kMaxYamlNesting) + " levels");
    }
    read_document(YAML::Load(std::string(yaml)), ctx, cfg);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? std::string()
                                         : "line " + std::to_string(e.mark.line + 1) + ", column " +
                                               std::to_string(e.mark.column + 1) + ": ";
    ctx.error("", "YAML syntax error at " + where + e.msg);
  } catch (const std::exception& e) {
    ctx.error("", std::string("could not load the config: ") + e.what());
  }
  LoadResult result;
  result.errors = std::move(ctx.errors());
  result.warnings = std::move(ctx.warnings());
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

LoadResult load_config_file(const std::string& path, const EnvLookup& env) {
  auto fail = [&](const std::string& why) {
    LoadResult result;
    result.errors.push_back(Problem{"", "cannot read '" + path + "': " + why});
    return result;
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return fail(std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  }
  if (auto size = std::filesystem::file_size(path, ec); !ec && size > kMaxFileBytes) {
    return fail("larger than 16 MB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail("read error");
  return load_config_text(text, env, path);
}

}  // namespace tollgate::config
