#pragma once
// The in-process limit state: sliding-minute request and token windows, parallel counters and
// budget counters of every scope seen, for one replica (the in-process limiter) or as the
// fallback of the Redis limiter while Redis is unreachable. Rules: docs/limits.md.
//
// Entries are sharded by scope id (kShards shards, one mutex each); admit() locks the shards of
// its scopes in index order, checks every scope, then charges every scope, so an admission is
// atomic across scopes and two admits with disjoint scopes rarely meet on a lock.
//
// Memory: a shard is swept for idle entries when an admit touches it and it was last swept
// kSweepInterval ago; evict_idle() sweeps all, sweep_if_due() does so at most every
// kSweepInterval. Idle: no charge in
// the window, no parallel slot held, no budget counter left. A budget counter is dropped when its
// window has ended, or when it has no reservation and was not touched for kBudgetIdle (the next
// admit seeds it again from the database's spend).
//
// Thread safety: every member may be called from any thread.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tollgate/limits/limiter.hpp"

namespace tollgate::limits {

class LocalLimitState {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::chrono::milliseconds kSweepInterval{10'000};
  static constexpr std::chrono::milliseconds kBudgetIdle{std::chrono::hours(1)};

  LocalLimitState();
  ~LocalLimitState();
  LocalLimitState(const LocalLimitState&) = delete;
  LocalLimitState& operator=(const LocalLimitState&) = delete;

  /// Checks and charges `scopes` at once (see limiter.hpp); counts the outcome in stats().
  Admission admit(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms);
  /// Gives back what `ticket` charged here; a no-op for an invalid ticket.
  void settle(const Ticket& ticket, std::int64_t tokens, double cost, std::int64_t now_ms) noexcept;

  /// Drops every idle entry and ended or idle budget counter now.
  void evict_idle(std::int64_t now_ms);
  /// evict_idle() when no call to this did it in the last kSweepInterval (one atomic load
  /// otherwise). The Redis limiter calls it so that what an outage left here goes afterwards.
  void sweep_if_due(std::int64_t now_ms);
  /// Scope entries held (each with its windows, parallel count and budget counters).
  std::size_t entries() const;

  LimitStats& stats() { return stats_; }
  const LimitStats& stats() const { return stats_; }

 private:
  struct Shard;
  void settle_locked(const Ticket& ticket, std::int64_t token_delta, std::int64_t actual_nanos,
                     std::int64_t reserved_nanos, std::int64_t now_ms);
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::int64_t> swept_all_ms_{0};
  LimitStats stats_;
};

/// A LocalLimitState for make_local_limiter() and make_redis_limiter().
std::shared_ptr<LocalLimitState> make_local_state();

}  // namespace tollgate::limits
