#include "support/dashboard_metrics.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <sstream>

namespace tollgate::testing {
namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }

// PromQL words that are not series names.
constexpr std::array<std::string_view, 12> kKeywords{"by",    "without", "on",  "ignoring", "group_left", "group_right",
                                                     "bool",  "and",     "or",  "unless",   "offset",     "inf"};
constexpr std::array<std::string_view, 6> kListKeywords{"by", "without", "on", "ignoring", "group_left", "group_right"};

// Aggregations may be followed by `by (...)` before their parenthesis: `sum by (le) (...)`.
constexpr std::array<std::string_view, 12> kAggregations{"sum",    "min",  "max",     "avg",      "count",        "stddev",
                                                         "stdvar", "topk", "bottomk", "quantile", "count_values", "group"};

template <std::size_t N>
bool in(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// Drops string literals, then {...} and [...] (neither nests in PromQL once strings are gone).
std::string strip(std::string_view q) {
  std::string no_strings;
  for (std::size_t i = 0; i < q.size(); ++i) {
    const char c = q[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (++i; i < q.size() && q[i] != c; ++i) {
        if (q[i] == '\\' && c != '`') ++i;
      }
      no_strings += ' ';
      continue;
    }
    no_strings += c;
  }
  std::string out;
  int braces = 0;
  int brackets = 0;
  for (char c : no_strings) {
    if (c == '{') ++braces;
    if (c == '[') ++brackets;
    if (braces == 0 && brackets == 0) out += c;
    if (c == '}' && braces > 0) --braces;
    if (c == ']' && brackets > 0) --brackets;
    if ((c == '}' || c == ']') && braces == 0 && brackets == 0) out += ' ';
  }
  return out;
}

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

}  // namespace

std::set<std::string> metric_names(std::string_view promql) {
  const std::string s = strip(promql);
  std::set<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      // A number or a duration (1e-9, 0.95, 5m): letters after a digit belong to it.
      while (i < s.size() && (ident_char(s[i]) || s[i] == '.' ||
                              ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
        ++i;
      }
      continue;
    }
    if (c == '$') {  // a Grafana variable outside a string: not a series
      ++i;
      while (i < s.size() && (ident_char(s[i]) || s[i] == '{' || s[i] == '}')) ++i;
      continue;
    }
    if (!ident_start(c)) {
      ++i;
      continue;
    }
    const std::size_t begin = i;
    while (i < s.size() && ident_char(s[i])) ++i;
    const std::string word = s.substr(begin, i - begin);
    const std::size_t next = skip_space(s, i);
    if (in(kListKeywords, word)) {
      // by (a, b) / on (x) / group_left (y): a label list, not series.
      if (next < s.size() && s[next] == '(') {
        const std::size_t close = s.find(')', next);
        i = close == std::string::npos ? s.size() : close + 1;
      }
      continue;
    }
    if (next < s.size() && s[next] == '(') continue;  // a function (sum, rate, histogram_quantile, ...)
    if (in(kKeywords, word) || in(kAggregations, word) || word == "nan" || word == "NaN" || word == "Inf") continue;
    out.insert(word);
  }
  return out;
}

std::vector<std::string> dashboard_queries(const nlohmann::json& dashboard) {
  std::vector<std::string> out;
  auto walk = [&](const nlohmann::json& panels, auto& self) -> void {
    if (!panels.is_array()) return;
    for (const auto& p : panels) {
      if (auto t = p.find("targets"); t != p.end() && t->is_array()) {
        for (const auto& target : *t) {
          if (auto e = target.find("expr"); e != target.end() && e->is_string()) out.push_back(e->get<std::string>());
        }
      }
      if (auto nested = p.find("panels"); nested != p.end()) self(*nested, self);
    }
  };
  if (auto panels = dashboard.find("panels"); panels != dashboard.end()) walk(*panels, walk);
  const auto templating = dashboard.find("templating");
  if (templating != dashboard.end() && templating->contains("list")) {
    for (const auto& var : (*templating)["list"]) {
      std::string definition = var.value("definition", std::string());
      if (definition.empty() && var.contains("query") && var["query"].is_object()) {
        definition = var["query"].value("query", std::string());
      }
      constexpr std::string_view kLabelValues = "label_values(";
      if (!definition.starts_with(kLabelValues)) continue;
      // label_values(metric{...}, label): the series selector is the first argument.
      std::string args = definition.substr(kLabelValues.size());
      int depth = 0;
      std::size_t end = 0;
      for (; end < args.size(); ++end) {
        if (args[end] == '{') ++depth;
        if (args[end] == '}') --depth;
        if (depth == 0 && (args[end] == ',' || args[end] == ')')) break;
      }
      if (args.find(',') != std::string::npos) out.push_back(args.substr(0, end));
    }
  }
  return out;
}

Exposition parse_exposition(std::string_view text) {
  Exposition e;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string name;
      words >> name;
      e.types.insert(name);
      continue;
    }
    if (line[0] == '#') continue;
    const std::size_t end = line.find_first_of("{ ");
    e.samples.insert(line.substr(0, end));
  }
  return e;
}

bool exported(const Exposition& e, const std::string& name) {
  if (e.samples.count(name) || e.types.count(name)) return true;
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix) &&
        e.types.count(name.substr(0, name.size() - suffix.size()))) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> panel_id_problems(const nlohmann::json& dashboard) {
  std::vector<std::string> problems;
  std::map<long long, std::string> seen;
  auto walk = [&](const nlohmann::json& panels, auto& self) -> void {
    if (!panels.is_array()) return;
    for (const auto& p : panels) {
      const std::string title = p.value("title", std::string("(untitled)"));
      if (!p.contains("id") || !p["id"].is_number_integer()) {
        problems.push_back("panel '" + title + "': no integer id");
      } else {
        const long long id = p["id"].get<long long>();
        if (auto [it, fresh] = seen.emplace(id, title); !fresh) {
          problems.push_back("panel '" + title + "': id " + std::to_string(id) + " repeated (also '" + it->second + "')");
        }
      }
      if (auto nested = p.find("panels"); nested != p.end()) self(*nested, self);
    }
  };
  if (auto panels = dashboard.find("panels"); panels != dashboard.end()) walk(*panels, walk);
  return problems;
}

}  // namespace tollgate::testing
