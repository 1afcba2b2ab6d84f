#pragma once
// The schema, as a list of versioned migrations applied in order. A migration, once released, is
// never edited: a change is a new entry at the end of the list (docs/storage.md).
//
// Each pending migration runs in its own transaction together with its row in
// tollgate_schema_migrations, so a failure leaves the schema at the previous version. On
// PostgreSQL the transaction first takes an advisory lock, so replicas starting together apply
// each migration once; on SQLite BEGIN IMMEDIATE serialises processes sharing the file.
//
// Thread safety: plain functions; migrate() uses the session it is given.
#include <string>
#include <vector>

#include "db/session.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::db {

struct Migration {
  int version;
  std::string description;
  std::string sql;           // run by both dialects, unless postgres_sql is set
  std::string postgres_sql;  // PostgreSQL's own text, when the dialects differ
};

/// Every migration, ascending versions.
const std::vector<Migration>& migrations();

/// Applies the migrations of `list` that the database has not recorded yet. Idempotent.
Result<void> migrate(Session& session, const std::vector<Migration>& list, spdlog::logger& log);

/// Whether the database has recorded every migration of `list` (changes nothing). False when the
/// bookkeeping table does not exist yet; kDbUnavailable when the database cannot be reached.
Result<bool> migrated(Session& session, const std::vector<Migration>& list);

}  // namespace tollgate::db
