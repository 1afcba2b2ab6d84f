#pragma once
// Module-private: one genai-prices match clause (`equals`, `starts_with`, `ends_with`, `contains`,
// `regex`, or `or`/`and` of clauses), parsed once and evaluated against a lower-cased name.
// Immutable after parse; safe to evaluate from any thread.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tollgate::spend::detail {

/// Thrown by the price-data parsers with the JSON path of the problem; caught in PriceTable::parse.
struct DataError {
  std::string message;  // "[3].models[2].match: unknown clause \"prefix\""
};

class MatchRule {
 public:
  enum class Kind : std::uint8_t { kEquals, kStartsWith, kEndsWith, kContains, kRegex, kOr, kAnd, kNever };

  /// Parses a clause object at `path`; throws DataError on schema violations. A regex that does not
  /// compile (ECMAScript) becomes kNever and increments `bad_regexes`: the data is written for
  /// Python's `re`, and one odd pattern must not cost the whole table.
  static MatchRule parse(const nlohmann::json& clause, const std::string& path, std::size_t& bad_regexes);

  /// `name` must already be lower-case: literals are lower-cased at parse, regexes ignore case.
  bool matches(std::string_view name) const;

  Kind kind() const { return kind_; }

 private:
  bool regex_matches(std::string_view name) const;

  Kind kind_ = Kind::kNever;
  std::string text_;                     // the literal, lower-cased (leaf kinds)
  std::shared_ptr<const std::regex> regex_;  // kRegex only
  std::vector<MatchRule> children_;      // kOr / kAnd
};

}  // namespace tollgate::spend::detail
