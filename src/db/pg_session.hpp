#pragma once
// The PostgreSQL Session: one libpq connection, parameterised statements in text format.
//
// Connection handling: open() connects when there is no connection, and drops and reconnects one
// the server has closed while it sat idle (a restart or failover), so the first statement after
// a recovery does not fail. A statement that loses the connection, or takes longer than
// kStatementTimeout, fails with kDbUnavailable and drops the connection; the next open()
// reconnects. Statements never reconnect by themselves: a transaction is never silently continued
// on a new connection.
//
// Thread safety: see Session. Lifetime: owns the PGconn.
#include <chrono>
#include <string>

#include "db/session.hpp"

struct pg_conn;

namespace tollgate::db {

class PgSession final : public Session {
 public:
  // Added to the conninfo (a `connect_timeout` in the URL wins): an unreachable server fails fast.
  static constexpr std::chrono::seconds kConnectTimeout{3};
  // libpq has no statement deadline; this one bounds a stalled server.
  static constexpr std::chrono::seconds kStatementTimeout{30};

  /// `url`: a libpq URI or conninfo string. Does not connect.
  explicit PgSession(std::string url);
  ~PgSession() override;
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  /// Throws std::runtime_error when `url` is not a valid libpq URI or conninfo string (the message
  /// does not repeat the URL, which may hold a password).
  static void validate_url(const std::string& url);

  bool postgres() const override { return true; }
  Result<void> open() override;
  Result<Rows> query(std::string_view sql, std::span<const Value> params) override;
  Result<void> script(std::string_view sql) override;
  std::string_view begin_sql() const override { return "BEGIN"; }

 private:
  Result<Rows> exec(std::string_view sql, std::span<const Value> params, bool multi);
  bool idle_connection_alive();
  bool await_result(std::chrono::steady_clock::time_point deadline);
  boost::system::error_code lost();
  void drop();

  std::string url_;
  pg_conn* conn_ = nullptr;
};

}  // namespace tollgate::db
