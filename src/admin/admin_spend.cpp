// Spend reports over the spend logs (docs/admin-api.md, "Spend"): /spend/logs,
// /global/spend/report|keys|teams|models|savings, /user/daily/activity, /team/daily/activity.
// Every report is one grouped query (Store::spend_summary) folded into LiteLLM's JSON shapes.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <map>

#include "admin/handlers.hpp"
#include "tollgate/auth/budget_window.hpp"
#include "tollgate/auth/principal.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::admin {

namespace asio = boost::asio;
namespace {

using db::SpendColumn;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::size_t kDefaultPageSize = 100;
constexpr std::size_t kMaxPageSize = 1000;

// "YYYY-MM-DD" (a UTC day) or ISO 8601; nullopt when neither.
std::optional<std::int64_t> parse_day(std::string_view text) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    int y = 0;
    unsigned m = 0, d = 0;
    const bool ok = std::from_chars(text.data(), text.data() + 4, y).ec == std::errc() &&
                    std::from_chars(text.data() + 5, text.data() + 7, m).ec == std::errc() &&
                    std::from_chars(text.data() + 8, text.data() + 10, d).ec == std::errc();
    const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
    if (!ok || !ymd.ok()) return std::nullopt;
    return std::chrono::sys_days(ymd).time_since_epoch().count() * kDayMs;
  }
  return auth::parse_iso8601(text);
}

struct Range {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = INT64_MAX;
};

// start_date and end_date, both optional; a plain end day is inclusive (LiteLLM's reading).
api::ApiResult<Range> range_of(const Call& c) {
  Range r;
  const std::string start = c.param("start_date");
  const std::string end = c.param("end_date");
  if (!start.empty()) {
    auto t = parse_day(start);
    if (!t) return api::make_error(Errc::kInvalidRequest, "start_date must be YYYY-MM-DD or ISO 8601.", "start_date");
    r.start_ms = *t;
  }
  if (!end.empty()) {
    auto t = parse_day(end);
    if (!t) return api::make_error(Errc::kInvalidRequest, "end_date must be YYYY-MM-DD or ISO 8601.", "end_date");
    r.end_ms = end.size() == 10 ? *t + kDayMs : *t;
  }
  return r;
}

// `page` (1-based) and `page_size` (at most kMaxPageSize).
api::ApiResult<std::pair<std::size_t, std::size_t>> paging_of(const Call& c) {
  std::size_t page = 1;
  std::size_t size = kDefaultPageSize;
  for (auto [name, out] : {std::pair{"page", &page}, std::pair{"page_size", &size}}) {
    const std::string text = c.param(name);
    if (text.empty()) continue;
    std::size_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || v == 0) {
      return api::make_error(Errc::kInvalidRequest, std::string(name) + " must be a positive integer.", name);
    }
    *out = v;
  }
  return std::pair{page, std::min(size, kMaxPageSize)};
}

// A presented key ("sk-...") or its hash.
std::string key_hash_of(const std::string& text) {
  const bool hashed = text.size() == 64 && std::all_of(text.begin(), text.end(), [](char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
  });
  return hashed ? text : auth::hash_key(text);
}

// Stored metadata text as JSON ({} when it is not an object).
Json metadata_json(const std::string& text) {
  Json j = api::read_json_lenient(text);
  return j.is_object() ? j : Json::object();
}

Json event_json(const db::SpendEvent& e) {
  return {{"request_id", e.request_id},
          {"call_type", e.call_type},
          {"api_key", e.api_key},
          {"spend", e.spend},
          {"counterfactual_spend", e.counterfactual_spend},
          {"total_tokens", e.total_tokens},
          {"prompt_tokens", e.prompt_tokens},
          {"completion_tokens", e.completion_tokens},
          {"cache_read_input_tokens", e.cache_read_input_tokens},
          {"cache_creation_input_tokens", e.cache_creation_input_tokens},
          {"startTime", auth::iso8601(e.start_ms)},
          {"endTime", auth::iso8601(e.end_ms)},
          {"completionStartTime", auth::iso8601(e.completion_start_ms)},
          {"model", e.model},
          {"model_id", e.model_id},
          {"model_group", e.model_group},
          {"custom_llm_provider", e.custom_llm_provider},
          {"api_base", e.api_base},
          {"user", e.user},
          {"team_id", e.team_id},
          {"organization_id", e.organization_id},
          {"end_user", e.end_user},
          {"metadata", metadata_json(e.metadata)},
          {"cache_hit", e.cache_hit ? "True" : "False"},
          {"request_tags", e.request_tags},
          {"status", e.status},
          {"messages", e.messages},
          {"response", e.response}};
}

Json usage_json(const db::SpendSummaryRow& r) {
  return {{"spend", r.spend},
          {"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.total_tokens},
          {"cache_read_input_tokens", r.cache_read_input_tokens},
          {"cache_creation_input_tokens", r.cache_creation_input_tokens},
          {"api_requests", r.requests},
          {"successful_requests", r.successful_requests},
          {"failed_requests", r.requests - r.successful_requests}};
}

void add_usage(Json& into, const db::SpendSummaryRow& r) {
  if (into.is_null()) {
    into = usage_json(r);
    return;
  }
  const Json more = usage_json(r);
  for (auto it = more.begin(); it != more.end(); ++it) {
    Json& slot = into[it.key()];
    if (it->is_number_float() || slot.is_number_float()) {
      slot = slot.get<double>() + it->get<double>();
    } else {
      slot = slot.get<std::int64_t>() + it->get<std::int64_t>();
    }
  }
}

asio::awaitable<api::ApiResult<std::vector<db::SpendSummaryRow>>> summary(Call& c, db::SpendSummaryQuery query) {
  Result<std::vector<db::SpendSummaryRow>> rows = co_await c.control.store().spend_summary(std::move(query));
  if (!rows) co_return store_error(rows.error());
  co_return std::move(*rows);
}

Reply dumped(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

asio::awaitable<Reply> spend_logs(Call& c) {
  auto range = range_of(c);
  if (!range) co_return range.error();
  auto paging = paging_of(c);
  if (!paging) co_return paging.error();
  db::SpendLogFilter filter{.start_ms = range->start_ms, .end_ms = range->end_ms};
  filter.limit = paging->second;
  filter.offset = (paging->first - 1) * paging->second;
  if (const std::string k = c.param("api_key"); !k.empty()) filter.api_key = key_hash_of(k);
  if (const std::string u = c.param("user_id"); !u.empty()) filter.user = u;
  if (const std::string r = c.param("request_id"); !r.empty()) filter.request_id = r;
  if (const std::string t = c.param("team_id"); !t.empty()) filter.team_id = t;
  if (!can_view_all(c.caller)) filter.api_key = c.caller.token;  // a key sees its own requests
  Result<std::vector<db::SpendEvent>> rows = co_await c.control.store().spend_logs(std::move(filter));
  if (!rows) co_return store_error(rows.error());
  Json out = Json::array();
  for (const db::SpendEvent& e : *rows) out.push_back(event_json(e));
  co_return dumped(out);
}

// group_by=team|customer: per day, per team (customer), spend by key and model.
// group_by=api_key (or api_key=/internal_user_id= given): per key, spend by model.
asio::awaitable<Reply> global_report(Call& c, const Range& range) {
  std::string group_by = c.param("group_by");
  const std::string api_key = c.param("api_key");
  const std::string internal_user = c.param("internal_user_id");
  if (group_by.empty()) group_by = !api_key.empty() || !internal_user.empty() ? "api_key" : "team";
  db::SpendSummaryQuery q{.start_ms = range.start_ms, .end_ms = range.end_ms};
  if (!internal_user.empty()) q.user = internal_user;
  if (group_by == "api_key") {
    q.group_by = {SpendColumn::kApiKey, SpendColumn::kModelGroup};
    auto rows = co_await summary(c, q);
    if (!rows) co_return rows.error();
    const std::string only = api_key.empty() ? std::string() : key_hash_of(api_key);
    std::map<std::string, Json> by_key;
    for (const auto& r : *rows) {
      if (!only.empty() && r.keys[0] != only) continue;
      Json& k = by_key[r.keys[0]];
      if (k.is_null()) {
        k = {{"api_key", r.keys[0]}, {"total_cost", 0.0}, {"total_input_tokens", 0}, {"total_output_tokens", 0},
             {"model_details", Json::array()}};
      }
      k["total_cost"] = k["total_cost"].get<double>() + r.spend;
      k["total_input_tokens"] = k["total_input_tokens"].get<std::int64_t>() + r.prompt_tokens;
      k["total_output_tokens"] = k["total_output_tokens"].get<std::int64_t>() + r.completion_tokens;
      k["model_details"].push_back({{"model", r.keys[1]},
                                    {"total_cost", r.spend},
                                    {"total_input_tokens", r.prompt_tokens},
                                    {"total_output_tokens", r.completion_tokens}});
    }
    Json out = Json::array();
    for (auto& [id, k] : by_key) out.push_back(std::move(k));
    co_return dumped(out);
  }
  if (group_by != "team" && group_by != "customer") {
    co_return api::make_error(Errc::kInvalidRequest, "group_by must be team, customer or api_key.", "group_by");
  }
  const bool teams = group_by == "team";
  q.group_by = {SpendColumn::kDay, teams ? SpendColumn::kTeam : SpendColumn::kEndUser, SpendColumn::kApiKey,
                SpendColumn::kModelGroup};
  auto rows = co_await summary(c, q);
  if (!rows) co_return rows.error();
  const char* list = teams ? "teams" : "customers";
  const char* name = teams ? "team_name" : "customer";
  Json out = Json::array();
  for (std::size_t i = 0; i < rows->size();) {
    const std::string day = (*rows)[i].keys[0];
    Json entry = {{"group_by_day", day + "T00:00:00+00:00"}, {list, Json::array()}};
    while (i < rows->size() && (*rows)[i].keys[0] == day) {
      const std::string who = (*rows)[i].keys[1];
      Json group = {{name, who.empty() ? (teams ? "Unassigned Team" : "Unknown Customer") : who},
                    {"total_spend", 0.0},
                    {"metadata", Json::array()}};
      for (; i < rows->size() && (*rows)[i].keys[0] == day && (*rows)[i].keys[1] == who; ++i) {
        const auto& r = (*rows)[i];
        group["total_spend"] = group["total_spend"].get<double>() + r.spend;
        group["metadata"].push_back(
            {{"model", r.keys[3]}, {"spend", r.spend}, {"total_tokens", r.total_tokens}, {"api_key", r.keys[2]}});
      }
      entry[list].push_back(std::move(group));
    }
    out.push_back(std::move(entry));
  }
  co_return dumped(out);
}

// Top spenders by one column: /global/spend/keys|models (LiteLLM's `limit`, default 10).
asio::awaitable<Reply> top_spenders(Call& c, const Range& range, SpendColumn column, const char* field) {
  db::SpendSummaryQuery q{.group_by = {column}, .start_ms = range.start_ms, .end_ms = range.end_ms};
  auto rows = co_await summary(c, q);
  if (!rows) co_return rows.error();
  std::sort(rows->begin(), rows->end(), [](const auto& a, const auto& b) { return a.spend > b.spend; });
  std::size_t limit = 10;
  if (const std::string l = c.param("limit"); !l.empty()) {
    const auto [ptr, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
    if (ec != std::errc() || ptr != l.data() + l.size()) {
      co_return api::make_error(Errc::kInvalidRequest, "limit must be a non-negative integer.", "limit");
    }
  }
  Json out = Json::array();
  for (std::size_t i = 0; i < rows->size() && i < limit; ++i) {
    out.push_back({{field, (*rows)[i].keys[0]}, {"total_spend", (*rows)[i].spend}});
  }
  co_return dumped(out);
}

asio::awaitable<Reply> global_teams(Call& c, const Range& range) {
  db::SpendSummaryQuery q{.group_by = {SpendColumn::kDay, SpendColumn::kTeam}, .start_ms = range.start_ms, .end_ms = range.end_ms};
  auto rows = co_await summary(c, q);
  if (!rows) co_return rows.error();
  std::map<std::string, Json> days;
  std::map<std::string, double> totals;
  for (const auto& r : *rows) {
    const std::string team = r.keys[1].empty() ? "Unassigned Team" : r.keys[1];
    Json& day = days[r.keys[0]];
    if (day.is_null()) day = {{"date", r.keys[0]}};
    day[team] = r.spend;
    totals[team] += r.spend;
  }
  Json out = {{"daily_spend", Json::array()}, {"teams", Json::array()}, {"total_spend_per_team", Json::array()}};
  for (auto& [d, day] : days) out["daily_spend"].push_back(std::move(day));
  for (const auto& [team, total] : totals) {
    out["teams"].push_back(team);
    out["total_spend_per_team"].push_back({{"team_id", team}, {"total_spend", total}});
  }
  co_return dumped(out);
}

// Actual spend against what the baseline model would have cost, grouped by team, key, model or day.
asio::awaitable<Reply> savings(Call& c, const Range& range) {
  const std::string group_by = c.param("group_by").empty() ? "team" : c.param("group_by");
  SpendColumn column = SpendColumn::kTeam;
  if (group_by == "api_key") {
    column = SpendColumn::kApiKey;
  } else if (group_by == "model") {
    column = SpendColumn::kModelGroup;
  } else if (group_by == "day") {
    column = SpendColumn::kDay;
  } else if (group_by != "team") {
    co_return api::make_error(Errc::kInvalidRequest, "group_by must be team, api_key, model or day.", "group_by");
  }
  db::SpendSummaryQuery q{.group_by = {column}, .start_ms = range.start_ms, .end_ms = range.end_ms};
  auto rows = co_await summary(c, q);
  if (!rows) co_return rows.error();
  Json results = Json::array();
  double actual = 0, counterfactual = 0;
  for (const auto& r : *rows) {
    results.push_back({{group_by, r.keys[0]},
                       {"actual_spend", r.spend},
                       {"counterfactual_spend", r.counterfactual_spend},
                       {"savings", r.counterfactual_spend - r.spend},
                       {"api_requests", r.requests}});
    actual += r.spend;
    counterfactual += r.counterfactual_spend;
  }
  const Json out = {{"group_by", group_by},
                    {"baseline_model", c.control.config().spend.baseline_model},
                    {"results", std::move(results)},
                    {"total", {{"actual_spend", actual}, {"counterfactual_spend", counterfactual}, {"savings", counterfactual - actual}}}};
  co_return dumped(out);
}

// LiteLLM's daily activity: per day, metrics and a breakdown by model, provider and key.
asio::awaitable<Reply> daily_activity(Call& c, const Range& range, bool team) {
  db::SpendSummaryQuery q{.group_by = {SpendColumn::kDay, SpendColumn::kModelGroup, SpendColumn::kProvider, SpendColumn::kApiKey},
                          .start_ms = range.start_ms,
                          .end_ms = range.end_ms};
  const bool viewer = can_view_all(c.caller);
  if (team) {
    std::string id = c.param("team_ids");
    if (id.find(',') != std::string::npos) {
      co_return api::make_error(Errc::kInvalidRequest, "team_ids: one team per request.", "team_ids");
    }
    if (!viewer) {
      if (!c.caller.team_admin || (!id.empty() && id != c.caller.team_id())) co_return forbidden("another team's activity");
      id = c.caller.team_id();
    }
    if (!id.empty()) q.team_id = id;
  } else {
    std::string id = c.param("user_id");
    if (!viewer) {
      if (c.caller.user_id().empty() || (!id.empty() && id != c.caller.user_id())) co_return forbidden("another user's activity");
      id = c.caller.user_id();
    }
    if (!id.empty()) q.user = id;
  }
  auto rows = co_await summary(c, q);
  if (!rows) co_return rows.error();
  auto paging = paging_of(c);
  if (!paging) co_return paging.error();
  std::map<std::string, Json> days;
  Json total;
  for (const auto& r : *rows) {
    Json& day = days[r.keys[0]];
    if (day.is_null()) day = {{"date", r.keys[0]}, {"metrics", nullptr}, {"breakdown", {{"models", Json::object()}, {"providers", Json::object()}, {"api_keys", Json::object()}}}};
    add_usage(day["metrics"], r);
    add_usage(day["breakdown"]["models"][r.keys[1]], r);
    add_usage(day["breakdown"]["providers"][r.keys[2]], r);
    add_usage(day["breakdown"]["api_keys"][r.keys[3]], r);
    add_usage(total, r);
  }
  const auto [page, size] = *paging;
  const std::size_t pages = (days.size() + size - 1) / size;
  Json results = Json::array();
  std::size_t index = 0;
  for (auto& [d, day] : days) {
    if (index >= (page - 1) * size && index < page * size) results.push_back(std::move(day));
    ++index;
  }
  Json metadata = {{"total_spend", total.is_null() ? 0.0 : total["spend"].get<double>()},
                   {"total_prompt_tokens", total.is_null() ? 0 : total["prompt_tokens"].get<std::int64_t>()},
                   {"total_completion_tokens", total.is_null() ? 0 : total["completion_tokens"].get<std::int64_t>()},
                   {"total_tokens", total.is_null() ? 0 : total["total_tokens"].get<std::int64_t>()},
                   {"total_api_requests", total.is_null() ? 0 : total["api_requests"].get<std::int64_t>()},
                   {"total_successful_requests", total.is_null() ? 0 : total["successful_requests"].get<std::int64_t>()},
                   {"total_failed_requests", total.is_null() ? 0 : total["failed_requests"].get<std::int64_t>()},
                   {"page", page},
                   {"total_pages", pages},
                   {"has_more", page < pages}};
  co_return dumped(Json{{"results", std::move(results)}, {"metadata", std::move(metadata)}});
}

}  // namespace

bool is_spend_route(std::string_view path) {
  return path == "/spend/logs" || path.starts_with("/global/spend/") || path == "/user/daily/activity" ||
         path == "/team/daily/activity";
}

asio::awaitable<Reply> spend_route(Call& c) {
  const std::string_view path = c.request.path;
  if (c.request.post) co_return api::make_error(Errc::kMethodNotAllowed, "Use GET for " + std::string(path) + ".");
  if (path == "/spend/logs") {
    Reply r = co_await spend_logs(c);
    co_return r;
  }
  auto range = range_of(c);
  if (!range) co_return range.error();
  if (path == "/user/daily/activity" || path == "/team/daily/activity") {
    Reply r = co_await daily_activity(c, *range, path == "/team/daily/activity");
    co_return r;
  }
  if (!can_view_all(c.caller)) co_return forbidden("global spend reports");
  Reply r = api::make_error(Errc::kNotFound, "Route not found: " + std::string(path));
  if (path == "/global/spend/report") {
    r = co_await global_report(c, *range);
  } else if (path == "/global/spend/keys") {
    r = co_await top_spenders(c, *range, SpendColumn::kApiKey, "api_key");
  } else if (path == "/global/spend/models") {
    r = co_await top_spenders(c, *range, SpendColumn::kModelGroup, "model");
  } else if (path == "/global/spend/teams") {
    r = co_await global_teams(c, *range);
  } else if (path == "/global/spend/savings") {
    r = co_await savings(c, *range);
  }
  co_return r;
}

}  // namespace tollgate::admin
