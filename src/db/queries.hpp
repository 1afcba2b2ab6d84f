#pragma once
// The Store's operations as blocking functions over a Session, one SQL text for both dialects.
// Semantics are those of tollgate/db/store.hpp; SqlStore runs these on its worker threads.
//
// Thread safety: plain functions; each uses only the session it is given.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "db/session.hpp"
#include "tollgate/db/store.hpp"

namespace tollgate::db::queries {

Result<std::optional<Record>> get(Session& s, Entity entity, const std::string& id);
Result<Record> insert(Session& s, Entity entity, Record record);
Result<bool> update(Session& s, Entity entity, const Record& record, bool set_spend);
Result<bool> remove(Session& s, Entity entity, const std::string& id);
Result<std::vector<Record>> list(Session& s, Entity entity, const ListFilter& filter);

Result<std::optional<KeyBundle>> key_bundle(Session& s, const std::string& key_id);

Result<void> put_member(Session& s, const Membership& m);
Result<bool> remove_member(Session& s, const std::string& team_id, const std::string& user_id);
Result<std::vector<Membership>> members_of_team(Session& s, const std::string& team_id);
Result<std::vector<Membership>> teams_of_user(Session& s, const std::string& user_id);

Result<void> add_spend(Session& s, const std::vector<SpendDelta>& deltas);
/// kInvalidRequest (with last_error set) when a delta is not finite or names a model on a non-key.
Result<void> check_spend(Session& s, const std::vector<SpendDelta>& deltas);
/// add_spend's statements inside the caller's transaction (deltas already checked).
Result<void> apply_spend(Session& tx, const std::vector<SpendDelta>& deltas);

// Spend logs (spend_queries.cpp).
Result<std::size_t> write_spend(Session& s, std::span<const SpendEvent> events);
Result<std::vector<SpendEvent>> spend_logs(Session& s, const SpendLogFilter& filter);
Result<std::vector<SpendSummaryRow>> spend_summary(Session& s, const SpendSummaryQuery& query);
Result<std::size_t> purge_spend_logs(Session& s, std::int64_t before_ms, std::size_t limit);
Result<std::vector<std::pair<std::string, double>>> model_spend(Session& s, const std::string& key_id,
                                                                std::int64_t window_ms);
Result<std::vector<Record>> due_for_reset(Session& s, Entity entity, std::int64_t now_ms);
Result<bool> reset_budget(Session& s, Entity entity, const std::string& id, std::int64_t expected_ms,
                          std::int64_t next_ms);

Result<void> ping(Session& s);

}  // namespace tollgate::db::queries
