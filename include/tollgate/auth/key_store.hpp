#pragma once
// What auth needs from the database: the stored rows a principal is built from, and the two reads
// the key cache makes (KeyStore). auth declares them; db::Store implements KeyStore and keeps its
// rows in these types (docs/storage.md), so auth never includes db.
//
// Thread safety: KeyStore's methods may be called from any thread concurrently (db::Store's rule).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "tollgate/core/errc.hpp"

namespace tollgate::auth {

/// The kinds of stored row: virtual keys and who they belong to, end users (customers), budgets.
enum class Entity { kKey, kTeam, kUser, kOrganization, kEndUser, kBudget };

/// One row. For keys `id` is the SHA-256 hex of the key (the key itself is never stored).
struct Record {
  std::string id;
  nlohmann::json data = nlohmann::json::object();  // LiteLLM's fields, except spend
  double spend = 0;                                // spend in the current budget window
  std::int64_t budget_reset_at_ms = 0;             // unix ms when the window ends; 0 = no window
  std::int64_t created_at_ms = 0;                  // set by insert() when 0
  std::int64_t updated_at_ms = 0;                  // set by insert()/update()
};

/// Everything the key cache needs to know about one key, read in one job on one connection.
struct KeyBundle {
  Record key;
  std::optional<Record> team;          // the key's team_id row
  std::optional<Record> user;          // the key's user_id row
  std::optional<Record> organization;  // the key's organization_id row, else its team's
  std::optional<std::string> team_role;  // the user's role in the key's team, when a member
  std::vector<std::pair<std::string, double>> model_spend;  // in the key's window
};

/// The key cache's reads. Errors: kDbUnavailable when the database cannot be reached, kDbError
/// for anything else.
class KeyStore {
 public:
  virtual ~KeyStore() = default;

  /// One row; nullopt when there is none with this id.
  virtual boost::asio::awaitable<Result<std::optional<Record>>> get(Entity entity, std::string id) = 0;
  /// A key and what it refers to (one round trip to the store's threads); nullopt when no such key.
  virtual boost::asio::awaitable<Result<std::optional<KeyBundle>>> key_bundle(std::string key_id) = 0;
};

}  // namespace tollgate::auth
