#pragma once
// The SQLite Session: one connection to a database file in WAL mode (readers never wait for the
// writer), a busy timeout for other processes holding the write lock, extended result codes so
// that a primary key or unique violation is told apart from other constraint failures.
//
// Thread safety: see Session. Lifetime: owns the sqlite3 handle and its prepared statements.
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "db/session.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tollgate::db {

class SqliteSession final : public Session {
 public:
  static constexpr std::chrono::milliseconds kBusyTimeout{5'000};

  /// Opens (creating it when missing) the file at `path` and sets WAL, busy timeout and
  /// synchronous=NORMAL. Throws std::runtime_error naming the path when it cannot, e.g. because
  /// the directory does not exist (it is not created).
  explicit SqliteSession(const std::string& path);
  ~SqliteSession() override;
  SqliteSession(const SqliteSession&) = delete;
  SqliteSession& operator=(const SqliteSession&) = delete;

  bool postgres() const override { return false; }
  Result<void> open() override { return {}; }
  Result<Rows> query(std::string_view sql, std::span<const Value> params) override;
  Result<void> script(std::string_view sql) override;
  std::string_view begin_sql() const override { return "BEGIN IMMEDIATE"; }

 private:
  boost::system::error_code fail(int rc);

  sqlite3* db_ = nullptr;
  // Prepared statements by SQL text, reset after each use: the spend writer's wide inserts are
  // the same text every time, and parsing them was a tenth of its work. Bounded: the texts come
  // from the code, a few dozen shapes.
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace tollgate::db
