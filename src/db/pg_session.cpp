#include "db/pg_session.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <stdexcept>

#include <libpq-fe.h>

namespace tollgate::db {
namespace {

using Clock = std::chrono::steady_clock;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Connection failures (class 08) and the server going away (57P01 admin shutdown, 57P02 crash
// shutdown, 57P03 cannot connect now) mean "try again later", not "your statement is wrong".
bool unavailable_state(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

// libpq prints notices ("relation ... already exists, skipping") to stderr by default.
void ignore_notice(void*, const char*) {}

std::int64_t affected_rows(PGresult* r) {
  const std::string_view n = PQcmdTuples(r);
  return as_int(Value{std::string(n)});
}

void collect_rows(PGresult* r, Rows& out) {
  const int rows = PQntuples(r);
  const int cols = PQnfields(r);
  out.rows.clear();
  out.rows.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    std::vector<Value>& row = out.rows.emplace_back();
    row.reserve(static_cast<std::size_t>(cols));
    for (int j = 0; j < cols; ++j) {
      if (PQgetisnull(r, i, j) != 0) {
        row.emplace_back(std::monostate{});
      } else {
        row.emplace_back(std::string(PQgetvalue(r, i, j), static_cast<std::size_t>(PQgetlength(r, i, j))));
      }
    }
  }
}

}  // namespace

PgSession::PgSession(std::string url) : url_(std::move(url)) {}

PgSession::~PgSession() { drop(); }

void PgSession::validate_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    const std::string message = error != nullptr ? trimmed(error) : "out of memory";
    PQfreemem(error);
    throw std::runtime_error("database_url is not a valid PostgreSQL URL: " + message);
  }
  PQconninfoFree(options);
}

void PgSession::drop() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

boost::system::error_code PgSession::lost() {
  if (conn_ != nullptr && last_error_.empty()) last_error_ = trimmed(PQerrorMessage(conn_));
  drop();
  return make_error_code(Errc::kDbUnavailable);
}

bool PgSession::idle_connection_alive() {
  // A server that shuts down sends an error notice to its idle connections and closes them.
  // Whatever is readable on an idle connection is consumed: at EOF libpq marks it bad. A few
  // rounds cover "notice, then EOF" arriving as separate reads.
  for (int round = 0; round < 4 && PQstatus(conn_) == CONNECTION_OK; ++round) {
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (pfd.fd < 0 || ::poll(&pfd, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) return false;
    (void)PQisBusy(conn_);  // parses what was read (notices go to the silent notice processor)
  }
  return PQstatus(conn_) == CONNECTION_OK;
}

Result<void> PgSession::open() {
  last_error_.clear();
  if (conn_ != nullptr) {
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE && idle_connection_alive()) return {};
    drop();
  }
  const std::string timeout = std::to_string(kConnectTimeout.count());
  // `dbname` last: with expand_dbname its URL is expanded in place and overrides what precedes it.
  const char* const keys[] = {"connect_timeout", "client_encoding", "fallback_application_name", "dbname", nullptr};
  const char* const values[] = {timeout.c_str(), "UTF8", "tollgate", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr) last_error_ = "out of memory";
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return lost();
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  return {};
}

bool PgSession::await_result(Clock::time_point deadline) {
  while (PQisBusy(conn_) != 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      last_error_ = "no answer within " + std::to_string(kStatementTimeout.count()) + " s";
      return false;
    }
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (pfd.fd < 0) return false;
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1'000)));
    if (ready < 0 && errno != EINTR) return false;
    if (ready > 0 && PQconsumeInput(conn_) == 0) return false;
  }
  return true;
}

Result<Rows> PgSession::exec(std::string_view sql, std::span<const Value> params, bool multi) {
  last_error_.clear();
  if (conn_ == nullptr) {
    last_error_ = "not connected";
    return make_error_code(Errc::kDbUnavailable);
  }
  const std::string text(sql);
  std::vector<std::string> storage;
  storage.reserve(params.size());
  std::vector<const char*> values;
  for (const Value& p : params) {
    if (is_null(p)) {
      values.push_back(nullptr);
    } else {
      values.push_back(storage.emplace_back(as_text(p)).c_str());
    }
  }
  // PQsendQuery accepts several statements (a migration), PQsendQueryParams exactly one.
  const int sent = multi ? PQsendQuery(conn_, text.c_str())
                         : PQsendQueryParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                             values.data(), nullptr, nullptr, 0);
  if (sent == 0) return lost();

  const auto deadline = Clock::now() + kStatementTimeout;
  Rows out;
  boost::system::error_code error;
  bool broken = false;
  for (;;) {
    if (!await_result(deadline)) return lost();
    const ResultPtr result(PQgetResult(conn_));
    if (!result) break;
    switch (PQresultStatus(result.get())) {
      case PGRES_TUPLES_OK:
        collect_rows(result.get(), out);
        out.affected = affected_rows(result.get());
        break;
      case PGRES_COMMAND_OK:
        out.rows.clear();
        out.affected = affected_rows(result.get());
        break;
      case PGRES_EMPTY_QUERY:
        break;
      default: {
        if (error) break;  // the first error is the one that matters; drain the rest
        last_error_ = trimmed(PQresultErrorMessage(result.get()));
        const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
        const std::string_view code = state != nullptr ? state : "";
        broken = unavailable_state(code);
        error = make_error_code(code == "23505" ? Errc::kDbConflict : Errc::kDbError);
        break;
      }
    }
  }
  if (broken || PQstatus(conn_) != CONNECTION_OK) return lost();
  if (error) return error;
  return out;
}

Result<Rows> PgSession::query(std::string_view sql, std::span<const Value> params) { return exec(sql, params, false); }

Result<void> PgSession::script(std::string_view sql) {
  Result<Rows> r = exec(sql, {}, true);
  if (!r) return r.error();
  return {};
}

}  // namespace tollgate::db
