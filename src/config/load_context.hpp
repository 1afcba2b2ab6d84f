#pragma once
// Loader-private: the state of one load (problems found, environment layers, `os.environ/`
// references) and `Section`, a typed reader over one map of the document. Nothing here knows
// about yaml-cpp: the document has already been turned into JSON by yaml_to_json.hpp.
//
// Thread safety: none; one LoadContext per load. Section keeps references to its JSON object and
// its LoadContext, which must outlive it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tollgate/config/loader.hpp"

namespace tollgate::config::detail {

using Json = nlohmann::json;

/// Problems, environment and `os.environ/` bookkeeping for one load.
class LoadContext {
 public:
  explicit LoadContext(const EnvLookup& env) : env_(env) {}

  void error(std::string path, std::string message);
  void warn(std::string path, std::string message);
  std::vector<Problem>& errors() { return errors_; }
  std::vector<Problem>& warnings() { return warnings_; }

  /// `environment_variables:` values, consulted before the process environment.
  void set_overlay(std::map<std::string, std::string> overlay) { overlay_ = std::move(overlay); }
  /// Looks a variable up: overlay first, then the injected environment.
  std::optional<std::string> env(const std::string& name) const;

  /// Records that the value at `path` was `os.environ/var` and var is unset (value left null).
  void note_unset(std::string path, std::string var) { unset_.emplace(std::move(path), std::move(var)); }
  /// Records that the value at `path` was read from a variable (a string that may hold a number).
  void note_from_env(std::string path) { from_env_.insert(std::move(path)); }
  bool is_unset(const std::string& path) const { return unset_.count(path) != 0; }
  bool is_from_env(const std::string& path) const { return from_env_.count(path) != 0; }
  /// Removes and returns the unset variable recorded at exactly `path`.
  std::optional<std::string> take_unset(const std::string& path);
  /// Removes every unset reference at or below `path` (the owner decided they do not matter).
  void drop_unset_under(const std::string& path);
  /// Turns every unset reference nobody claimed into an error naming its path and variable.
  void report_unclaimed_unset();

 private:
  const EnvLookup& env_;
  std::map<std::string, std::string> overlay_;
  std::map<std::string, std::string> unset_;  // path -> variable name
  std::set<std::string> from_env_;
  std::vector<Problem> errors_;
  std::vector<Problem> warnings_;
};

/// "a.b" / "b" when the parent is the document root.
std::string join_path(const std::string& parent, std::string_view key);
/// "a string", "a list", ... for messages.
std::string describe(const Json& value);

/// Reads typed fields out of one JSON object that came from the YAML map at `path`. Every getter
/// returns nullopt when the key is absent or null (an unset `os.environ/` reference is null), and
/// reports a problem with the field's path when the value is present but wrong.
class Section {
 public:
  /// `obj` may be null (an empty YAML block); anything else but an object is reported once.
  Section(const Json& obj, std::string path, LoadContext& ctx);

  bool ok() const { return obj_ != nullptr; }  // false when the block was not a map
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const { return join_path(path_, key); }
  /// The value, or nullptr when absent, null, or the block is not a map.
  const Json* get(std::string_view key) const;

  std::optional<std::string> string(std::string_view key) const;
  std::optional<std::string> required_string(std::string_view key) const;  // absent -> "required"
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<double> number(std::string_view key) const;
  /// A finite number >= min ("must be >= 0, got -1").
  std::optional<double> number_at_least(std::string_view key, double min) const;
  /// A finite number > min ("must be > 0, got 0").
  std::optional<double> number_above(std::string_view key, double min) const;
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) const;
  /// A positive number of seconds (int or float), as milliseconds (at least 1).
  std::optional<std::chrono::milliseconds> seconds(std::string_view key) const;
  /// Like seconds(), but 0 is allowed (and stays 0).
  std::optional<std::chrono::milliseconds> seconds_or_zero(std::string_view key) const;
  /// A list of non-empty strings; with `one_string_ok`, a lone string is a list of one. Items are
  /// reported as `key[i]`; a null item (an unset variable) is skipped and reported elsewhere.
  std::optional<std::vector<std::string>> string_list(std::string_view key, bool one_string_ok = false) const;

  /// Warns `<path>.<key>: unknown key, ignored` for each key in neither list.
  /// An unknown key's unset `os.environ/` references are dropped: the value is never used.
  void check_keys(std::span<const std::string_view> handled,
                  std::span<const std::string_view> accepted = {}) const;

 private:
  std::optional<double> as_number(std::string_view key, const Json& value) const;
  std::optional<std::chrono::milliseconds> duration(std::string_view key, bool zero_ok) const;
  std::optional<double> bounded_number(std::string_view key, double min, bool inclusive) const;

  const Json* obj_ = nullptr;
  std::string path_;
  LoadContext& ctx_;
};

/// Strict scalar parsing shared with the YAML converter: the whole text must match.
std::optional<std::int64_t> parse_int(std::string_view text);
std::optional<double> parse_float(std::string_view text);  // also .inf / .nan spellings
/// true/false/yes/no/on/off/1/0 in any case: how a variable's text spells a boolean.
std::optional<bool> parse_bool_text(std::string_view text);

}  // namespace tollgate::config::detail
