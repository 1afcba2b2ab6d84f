#include "spend/match_rule.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace tollgate::spend::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct LeafKind {
  std::string_view key;
  MatchRule::Kind kind;
};
constexpr LeafKind kLeaves[] = {
    {"equals", MatchRule::Kind::kEquals},     {"starts_with", MatchRule::Kind::kStartsWith},
    {"ends_with", MatchRule::Kind::kEndsWith}, {"contains", MatchRule::Kind::kContains},
    {"regex", MatchRule::Kind::kRegex},
};

}  // namespace

MatchRule MatchRule::parse(const nlohmann::json& clause, const std::string& path, std::size_t& bad_regexes) {
  if (!clause.is_object() || clause.size() != 1) {
    throw DataError{path + ": a match clause is an object with exactly one key"};
  }
  // items() yields proxies that die with the full expression: keep the iterator instead.
  const auto first = clause.begin();
  const std::string& key = first.key();
  const nlohmann::json& value = first.value();
  MatchRule rule;
  if (key == "or" || key == "and") {
    if (!value.is_array()) throw DataError{path + "." + key + ": expected an array of clauses"};
    rule.kind_ = key == "or" ? Kind::kOr : Kind::kAnd;
    rule.children_.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      rule.children_.push_back(parse(value[i], path + "." + key + "[" + std::to_string(i) + "]", bad_regexes));
    }
    return rule;
  }
  const auto* leaf = std::find_if(std::begin(kLeaves), std::end(kLeaves),
                                  [&key](const LeafKind& l) { return l.key == key; });
  if (leaf == std::end(kLeaves)) throw DataError{path + ": unknown match clause \"" + key + "\""};
  if (!value.is_string()) throw DataError{path + "." + key + ": expected a string"};
  rule.kind_ = leaf->kind;
  if (rule.kind_ != Kind::kRegex) {
    // genai-prices lower-cases the model reference but not its literals, so a few mixed-case
    // literals in the data could never match there; comparing both sides lower-cased fixes that.
    rule.text_ = lower(value.get_ref<const std::string&>());
    return rule;
  }
  rule.text_ = value.get<std::string>();
  try {
    rule.regex_ = std::make_shared<const std::regex>(
        rule.text_, std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
  } catch (const std::regex_error&) {
    rule.kind_ = Kind::kNever;
    ++bad_regexes;
  }
  return rule;
}

bool MatchRule::regex_matches(std::string_view name) const {
  try {
    return std::regex_search(name.begin(), name.end(), *regex_);
  } catch (const std::regex_error&) {
    return false;  // error_complexity / error_stack on pathological input: no match, no crash
  }
}

bool MatchRule::matches(std::string_view name) const {
  switch (kind_) {
    case Kind::kEquals: return name == text_;
    case Kind::kStartsWith: return name.starts_with(text_);
    case Kind::kEndsWith: return name.ends_with(text_);
    case Kind::kContains: return name.find(text_) != std::string_view::npos;
    // Python's re.search: the pattern may match anywhere unless it anchors itself.
    case Kind::kRegex: return regex_matches(name);
    case Kind::kOr:
      return std::any_of(children_.begin(), children_.end(), [&](const MatchRule& c) { return c.matches(name); });
    case Kind::kAnd:
      return std::all_of(children_.begin(), children_.end(), [&](const MatchRule& c) { return c.matches(name); });
    case Kind::kNever: return false;
  }
  return false;
}

}  // namespace tollgate::spend::detail
