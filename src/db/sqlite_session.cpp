#include "db/sqlite_session.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <sqlite3.h>

namespace tollgate::db {
namespace {

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

int bind(sqlite3_stmt* stmt, int index, const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return sqlite3_bind_int64(stmt, index, *i);
  if (const auto* d = std::get_if<double>(&v)) return sqlite3_bind_double(stmt, index, *d);
  if (const auto* s = std::get_if<std::string>(&v)) {
    return sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  return sqlite3_bind_null(stmt, index);
}

Value column(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return std::int64_t{sqlite3_column_int64(stmt, i)};
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_NULL:
      return std::monostate{};
    default: {
      const auto* text = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      return std::string(text != nullptr ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
  }
}

}  // namespace

SqliteSession::SqliteSession(const std::string& path) {
  // SQLite's own message for a missing directory is "unable to open database file"; say which.
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw std::runtime_error("SQLite database " + path + ": directory " + parent.string() + " does not exist");
  }
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open SQLite database " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(kBusyTimeout.count()));
  // WAL: readers do not block the writer nor the writer readers; NORMAL is durable across an
  // application crash (not a power cut) in WAL mode, and much faster than FULL.
  // Switching a fresh file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once
  // (without the busy handler) when another process or store is opening the same file: retry.
  Result<Rows> mode = query("PRAGMA journal_mode=WAL", {});
  const auto give_up = std::chrono::steady_clock::now() + kBusyTimeout;
  while (!mode && (sqlite3_errcode(db_) & 0xff) == SQLITE_BUSY && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    mode = query("PRAGMA journal_mode=WAL", {});
  }
  // A 64 MiB page cache (default 2 MiB): the spend-log indexes take random inserts (request ids).
  if (!mode || !script("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536")) {
    const std::string message = last_error_;
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot set up SQLite database " + path + ": " + message);
  }
}

SqliteSession::~SqliteSession() {
  for (auto& [text, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

boost::system::error_code SqliteSession::fail(int rc) {
  last_error_ = sqlite3_errmsg(db_);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) return make_error_code(Errc::kDbConflict);
  switch (rc & 0xff) {
    case SQLITE_BUSY:  // another process kept the write lock past the busy timeout
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return make_error_code(Errc::kDbUnavailable);
    default:
      return make_error_code(Errc::kDbError);
  }
}

Result<Rows> SqliteSession::query(std::string_view sql, std::span<const Value> params) {
  // `$n` becomes an anonymous `?` bound to params[n - 1] in the order the text uses them, so a
  // statement may use its parameters in any order or more than once, as PostgreSQL allows.
  // (SQLite's own `$n` / `?NNN` names cost a linear search each, at prepare and at bind: quadratic
  // in the spend writer's wide multi-row inserts.) The SQL texts hold no '$' but their parameters.
  std::string text;
  text.reserve(sql.size());
  std::vector<std::size_t> order;  // parameter number of each '?', in text order
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '$' || i + 1 == sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9') {
      text += sql[i];
      continue;
    }
    std::size_t n = 0;
    while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') n = n * 10 + static_cast<std::size_t>(sql[++i] - '0');
    text += '?';
    order.push_back(n);
  }
  constexpr std::size_t kMaxCachedStatements = 256;
  sqlite3_stmt* stmt = nullptr;
  int rc = SQLITE_OK;
  Statement owned;  // a statement not kept in the cache
  if (auto it = statements_.find(text); it != statements_.end()) {
    stmt = it->second;
  } else {
    rc = sqlite3_prepare_v2(db_, text.data(), static_cast<int>(text.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return fail(rc);
    }
    if (statements_.size() < kMaxCachedStatements) {
      statements_.emplace(std::move(text), stmt);
    } else {
      owned.reset(stmt);
    }
  }
  // Reset on every exit, so a cached SELECT never keeps a read transaction open.
  struct Reset {
    sqlite3_stmt* s;
    ~Reset() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  } const reset{stmt};
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (order[k] == 0 || order[k] > params.size()) continue;  // unbound: NULL
    if ((rc = bind(stmt, static_cast<int>(k + 1), params[order[k] - 1])) != SQLITE_OK) return fail(rc);
  }
  Rows out;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const int n = sqlite3_column_count(stmt);
    std::vector<Value>& row = out.rows.emplace_back();
    row.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) row.push_back(column(stmt, i));
  }
  if (rc != SQLITE_DONE) return fail(rc);
  // sqlite3_changes64() keeps the count of the last write; a read changed nothing.
  out.affected = sqlite3_stmt_readonly(stmt) != 0 ? 0 : sqlite3_changes64(db_);
  return out;
}

Result<void> SqliteSession::script(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(sqlite3_extended_errcode(db_));
  return {};
}

}  // namespace tollgate::db
