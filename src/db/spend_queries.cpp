// Spend logs: idempotent batched writes, listing, grouped sums, retention. One SQL text for both
// dialects (see session.hpp); times are unix ms, a UTC day is "startTime" / 86400000.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

#include "db/queries.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::db::queries {
namespace {

using Json = nlohmann::json;

// Rows per INSERT: SQLite looks `$n` up by name, so very wide statements get slow to bind.
constexpr std::size_t kRowsPerInsert = 50;

// Column order of kColumns is the order of row_values() and of to_event().
constexpr std::string_view kColumns =
    "request_id, call_type, api_key, spend, counterfactual_spend, total_tokens, prompt_tokens, completion_tokens, "
    "cache_read_input_tokens, cache_creation_input_tokens, \"startTime\", \"endTime\", \"completionStartTime\", "
    "model, model_id, model_group, custom_llm_provider, api_base, \"user\", team_id, organization_id, end_user, "
    "metadata, cache_hit, request_tags, status, messages, response";
constexpr std::size_t kColumnCount = 28;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void row_values(const SpendEvent& e, std::vector<Value>& out) {
  out.emplace_back(e.request_id);
  out.emplace_back(e.call_type);
  out.emplace_back(e.api_key);
  out.emplace_back(e.spend);
  out.emplace_back(e.counterfactual_spend);
  out.emplace_back(e.total_tokens);
  out.emplace_back(e.prompt_tokens);
  out.emplace_back(e.completion_tokens);
  out.emplace_back(e.cache_read_input_tokens);
  out.emplace_back(e.cache_creation_input_tokens);
  out.emplace_back(e.start_ms);
  out.emplace_back(e.end_ms);
  out.emplace_back(e.completion_start_ms);
  out.emplace_back(e.model);
  out.emplace_back(e.model_id);
  out.emplace_back(e.model_group);
  out.emplace_back(e.custom_llm_provider);
  out.emplace_back(e.api_base);
  out.emplace_back(e.user);
  out.emplace_back(e.team_id);
  out.emplace_back(e.organization_id);
  out.emplace_back(e.end_user);
  out.emplace_back(e.metadata);
  out.emplace_back(std::int64_t{e.cache_hit ? 1 : 0});
  out.emplace_back(dump(Json(e.request_tags)));
  out.emplace_back(e.status);
  out.emplace_back(e.messages);
  out.emplace_back(e.response);
}

SpendEvent to_event(const std::vector<Value>& row) {
  SpendEvent e;
  std::size_t i = 0;
  e.request_id = as_text(row[i++]);
  e.call_type = as_text(row[i++]);
  e.api_key = as_text(row[i++]);
  e.spend = as_double(row[i++]);
  e.counterfactual_spend = as_double(row[i++]);
  e.total_tokens = as_int(row[i++]);
  e.prompt_tokens = as_int(row[i++]);
  e.completion_tokens = as_int(row[i++]);
  e.cache_read_input_tokens = as_int(row[i++]);
  e.cache_creation_input_tokens = as_int(row[i++]);
  e.start_ms = as_int(row[i++]);
  e.end_ms = as_int(row[i++]);
  e.completion_start_ms = as_int(row[i++]);
  e.model = as_text(row[i++]);
  e.model_id = as_text(row[i++]);
  e.model_group = as_text(row[i++]);
  e.custom_llm_provider = as_text(row[i++]);
  e.api_base = as_text(row[i++]);
  e.user = as_text(row[i++]);
  e.team_id = as_text(row[i++]);
  e.organization_id = as_text(row[i++]);
  e.end_user = as_text(row[i++]);
  e.metadata = as_text(row[i++]);
  e.cache_hit = as_int(row[i++]) != 0;
  const Json tags = api::read_json_lenient(as_text(row[i++]));
  if (tags.is_array()) {
    for (const Json& t : tags) {
      if (t.is_string()) e.request_tags.push_back(t.get<std::string>());
    }
  }
  e.status = as_text(row[i++]);
  e.messages = as_text(row[i++]);
  e.response = as_text(row[i++]);
  return e;
}

std::string placeholders(std::size_t rows) {
  std::string out;
  std::size_t n = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    out += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (c > 0) out += ", ";
      out += fmt::format("${}", ++n);
    }
    out += ")";
  }
  return out;
}

std::string_view column_sql(SpendColumn c) {
  switch (c) {
    case SpendColumn::kDay: return "(\"startTime\" / 86400000)";
    case SpendColumn::kApiKey: return "api_key";
    case SpendColumn::kUser: return "\"user\"";
    case SpendColumn::kTeam: return "team_id";
    case SpendColumn::kOrganization: return "organization_id";
    case SpendColumn::kEndUser: return "end_user";
    case SpendColumn::kModelGroup: return "model_group";
    case SpendColumn::kModel: return "model";
    case SpendColumn::kProvider: return "custom_llm_provider";
  }
  return "''";
}

std::string day_text(std::int64_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

std::int64_t clamp(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

Result<std::size_t> write_spend(Session& s, std::span<const SpendEvent> events) {
  // The first event of each request id counts; a repeat inside the batch is a replay.
  std::vector<const SpendEvent*> unique;
  std::unordered_set<std::string_view> seen;
  for (const SpendEvent& e : events) {
    if (e.request_id.empty() || !std::isfinite(e.spend) || !std::isfinite(e.counterfactual_spend)) {
      s.set_last_error("spend event without a request id or with a spend that is not finite");
      return make_error_code(Errc::kInvalidRequest);
    }
    if (Result<void> valid = check_spend(s, e.deltas); !valid) return valid.error();
    if (seen.insert(e.request_id).second) unique.push_back(&e);
  }
  if (unique.empty()) return std::size_t{0};
  return in_transaction(s, [&](Session& tx) -> Result<std::size_t> {
    std::set<std::string, std::less<>> inserted;
    std::vector<Value> params;
    for (std::size_t begin = 0; begin < unique.size(); begin += kRowsPerInsert) {
      const std::size_t end = std::min(unique.size(), begin + kRowsPerInsert);
      params.clear();
      params.reserve((end - begin) * kColumnCount);
      for (std::size_t i = begin; i < end; ++i) row_values(*unique[i], params);
      const std::string sql = "INSERT INTO tollgate_spend_logs (" + std::string(kColumns) + ") VALUES " +
                              placeholders(end - begin) + " ON CONFLICT (request_id) DO NOTHING RETURNING request_id";
      const Result<Rows> r = tx.query(sql, params);
      if (!r) return r.error();
      for (const auto& row : r->rows) inserted.insert(as_text(row[0]));
    }
    // Entity spend only for the rows this transaction stored: a replayed event adds nothing.
    std::vector<SpendDelta> deltas;
    for (const SpendEvent* e : unique) {
      if (inserted.contains(e->request_id)) deltas.insert(deltas.end(), e->deltas.begin(), e->deltas.end());
    }
    if (Result<void> added = apply_spend(tx, deltas); !added) return added.error();
    return inserted.size();
  });
}

Result<std::vector<SpendEvent>> spend_logs(Session& s, const SpendLogFilter& filter) {
  std::vector<Value> params;
  std::string where;
  const auto add = [&](std::string_view condition, Value value) {
    params.push_back(std::move(value));
    where += where.empty() ? " WHERE " : " AND ";
    where += fmt::format(fmt::runtime(condition), params.size());
  };
  if (filter.api_key) add("api_key = ${}", *filter.api_key);
  if (filter.user) add("\"user\" = ${}", *filter.user);
  if (filter.team_id) add("team_id = ${}", *filter.team_id);
  if (filter.request_id) add("request_id = ${}", *filter.request_id);
  if (filter.start_ms) add("\"startTime\" >= ${}", *filter.start_ms);
  if (filter.end_ms) add("\"startTime\" < ${}", *filter.end_ms);
  params.emplace_back(clamp(filter.limit));
  params.emplace_back(clamp(filter.offset));
  const std::string sql = "SELECT " + std::string(kColumns) + " FROM tollgate_spend_logs" + where +
                          fmt::format(" ORDER BY \"startTime\" DESC, request_id LIMIT ${} OFFSET ${}",
                                      params.size() - 1, params.size());
  const Result<Rows> rows = s.query(sql, params);
  if (!rows) return rows.error();
  std::vector<SpendEvent> out;
  out.reserve(rows->rows.size());
  for (const auto& row : rows->rows) out.push_back(to_event(row));
  return out;
}

Result<std::vector<SpendSummaryRow>> spend_summary(Session& s, const SpendSummaryQuery& query) {
  std::string keys;
  std::string positions;
  for (std::size_t i = 0; i < query.group_by.size(); ++i) {
    keys += std::string(column_sql(query.group_by[i])) + ", ";
    if (i > 0) positions += ", ";
    positions += std::to_string(i + 1);
  }
  std::vector<Value> params{query.start_ms, query.end_ms};
  std::string sql = "SELECT " + keys +
                    "SUM(spend), SUM(counterfactual_spend), SUM(prompt_tokens), SUM(completion_tokens), "
                    "SUM(total_tokens), SUM(cache_read_input_tokens), SUM(cache_creation_input_tokens), COUNT(*), "
                    "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) FROM tollgate_spend_logs "
                    "WHERE \"startTime\" >= $1 AND \"startTime\" < $2";
  if (query.user) {
    params.emplace_back(*query.user);
    sql += fmt::format(" AND \"user\" = ${}", params.size());
  }
  if (query.team_id) {
    params.emplace_back(*query.team_id);
    sql += fmt::format(" AND team_id = ${}", params.size());
  }
  if (!positions.empty()) sql += " GROUP BY " + positions + " ORDER BY " + positions;
  const Result<Rows> rows = s.query(sql, params);
  if (!rows) return rows.error();
  std::vector<SpendSummaryRow> out;
  for (const auto& row : rows->rows) {
    const std::size_t n = query.group_by.size();
    if (n == 0 && as_int(row[7]) == 0) continue;  // SUM over no rows: one row of NULLs
    SpendSummaryRow& r = out.emplace_back();
    for (std::size_t i = 0; i < n; ++i) {
      r.keys.push_back(query.group_by[i] == SpendColumn::kDay ? day_text(as_int(row[i])) : as_text(row[i]));
    }
    r.spend = as_double(row[n]);
    r.counterfactual_spend = as_double(row[n + 1]);
    r.prompt_tokens = as_int(row[n + 2]);
    r.completion_tokens = as_int(row[n + 3]);
    r.total_tokens = as_int(row[n + 4]);
    r.cache_read_input_tokens = as_int(row[n + 5]);
    r.cache_creation_input_tokens = as_int(row[n + 6]);
    r.requests = as_int(row[n + 7]);
    r.successful_requests = as_int(row[n + 8]);
  }
  return out;
}

Result<std::size_t> purge_spend_logs(Session& s, std::int64_t before_ms, std::size_t limit) {
  const std::vector<Value> params{before_ms, clamp(limit)};
  const Result<Rows> r = s.query(
      "DELETE FROM tollgate_spend_logs WHERE request_id IN (SELECT request_id FROM tollgate_spend_logs "
      "WHERE \"startTime\" < $1 ORDER BY \"startTime\" LIMIT $2)",
      params);
  if (!r) return r.error();
  return static_cast<std::size_t>(r->affected);
}

}  // namespace tollgate::db::queries
