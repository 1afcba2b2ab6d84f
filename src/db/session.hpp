#pragma once
// One blocking database connection (SQLite or PostgreSQL) behind the few operations the store's
// queries need. The SQL is shared by both dialects: parameters are written `$1`, `$2`, ... (native
// in PostgreSQL, named parameters in SQLite), types are the ones both understand (TEXT, BIGINT,
// DOUBLE PRECISION), upserts use `ON CONFLICT ... DO UPDATE`.
//
// Errors map to Errc: kDbUnavailable (cannot connect, connection lost, busy/locked past the
// timeout), kDbConflict (unique or primary key violation), kDbError (anything else).
//
// Thread safety: none. A Session is used by one thread at a time (a WorkerPool thread, or the
// start-up thread before the pool runs any job).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tollgate/core/clock.hpp"
#include "tollgate/core/errc.hpp"

namespace tollgate::db {

/// A parameter or a column value. PostgreSQL (text format) returns every non-null value as a
/// string; SQLite returns its storage class. The accessors below convert either way.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

std::int64_t as_int(const Value& v);  // 0 for NULL or text that is not a number
double as_double(const Value& v);     // 0 for NULL or text that is not a number
std::string as_text(const Value& v);  // "" for NULL
bool is_null(const Value& v);

struct Rows {
  std::vector<std::vector<Value>> rows;  // the last statement's result rows
  std::int64_t affected = 0;             // rows inserted, updated or deleted by the statement
};

class Session {
 public:
  virtual ~Session() = default;
  virtual bool postgres() const = 0;

  /// Makes sure the connection is usable, connecting (again) when needed. No-op for SQLite.
  virtual Result<void> open() = 0;
  /// One statement with parameters `$1..$n` (params[0] is `$1`).
  virtual Result<Rows> query(std::string_view sql, std::span<const Value> params) = 0;
  /// Several statements separated by `;`, no parameters (migrations, BEGIN/COMMIT).
  virtual Result<void> script(std::string_view sql) = 0;
  /// The statement that opens a write transaction: SQLite takes the write lock up front (BEGIN
  /// IMMEDIATE) so that a transaction never fails half-way on a lock upgrade.
  virtual std::string_view begin_sql() const = 0;

  /// The message for the last failure, for logs: the database's own (which may quote the
  /// conflicting id, never other parameter values) or one set by a query helper.
  const std::string& last_error() const { return last_error_; }
  void set_last_error(std::string message) { last_error_ = std::move(message); }

 protected:
  std::string last_error_;
};

/// `ec` as a failed Result<T>. Needed where T is bool: result<bool> does not convert implicitly
/// from an error_code.
template <class T>
Result<T> failure(const boost::system::error_code& ec) {
  return Result<T>(boost::system::in_place_error, ec);
}

/// Runs `fn(session)` inside BEGIN (begin_sql()) ... COMMIT; rolls back when fn fails or throws.
/// last_error() is the failure's, not the rollback's.
template <class Fn>
auto in_transaction(Session& session, Fn&& fn) -> decltype(fn(session)) {
  using R = decltype(fn(session));
  const auto rollback = [&session] {
    std::string message = session.last_error();
    (void)session.script("ROLLBACK");
    session.set_last_error(std::move(message));
  };
  if (Result<void> begun = session.script(session.begin_sql()); !begun)
    return R(boost::system::in_place_error, begun.error());
  try {
    auto result = fn(session);
    if (!result) {
      rollback();
      return result;
    }
    if (Result<void> committed = session.script("COMMIT"); !committed) {
      rollback();
      return R(boost::system::in_place_error, committed.error());
    }
    return result;
  } catch (...) {
    rollback();
    throw;
  }
}

}  // namespace tollgate::db
