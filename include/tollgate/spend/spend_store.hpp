#pragma once
// What the spend writer needs from the database: one batched write of spend events. Declared here
// (the module that uses it); db::Store implements it.
//
// Thread safety: write_spend() may be called from any thread (db::Store's rule).
#include <cstddef>
#include <span>

#include <boost/asio/awaitable.hpp>

#include "tollgate/core/errc.hpp"
#include "tollgate/spend/spend_event.hpp"

namespace tollgate::spend {

class SpendStore {
 public:
  virtual ~SpendStore() = default;

  /// Stores the events not stored yet (by request_id) and adds their entity spend, all in one
  /// transaction: multi-row inserts and one UPDATE per entity. Returns how many were new.
  /// kInvalidRequest, nothing written, when an event has no request id or a delta is invalid;
  /// kDbUnavailable when the database cannot be reached; kDbError for anything else.
  /// `events` must stay alive until the call completes (the caller awaits it).
  virtual boost::asio::awaitable<Result<std::size_t>> write_spend(std::span<const SpendEvent> events) = 0;
};

}  // namespace tollgate::spend
