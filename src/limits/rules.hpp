#pragma once
// The parts of the limit rules both limiters share (docs/limits.md): money as integer
// nano-dollars, the admission targets, the sparse sliding-minute window of the in-process state,
// and how an admission's headroom, spend and ticket are put together from what was observed. The
// Redis limiter applies the same rules inside its Lua script (redis_scripts.cpp).
#include <cstdint>
#include <vector>

#include "tollgate/limits/limiter.hpp"

namespace tollgate::limits::detail {

inline constexpr std::int64_t kWindowMs = 60'000;
inline constexpr std::int64_t kParallelRetryMs = 1'000;
inline constexpr std::int64_t kNanosPerDollar = 1'000'000'000;

/// Dollars to nano-dollars, rounded, and any positive amount at least one nano-dollar (so a
/// budget of $1e-10 is a budget, not zero); negative, NaN → 0; clamped to 2^53 − 1 (exact in
/// Lua's doubles): about $9.0 million per counter.
std::int64_t to_nanos(double dollars);
double to_dollars(std::int64_t nanos);

/// Whether the scope has any limit (a scope without one is neither counted nor stored).
inline bool limited(const Scope& s) {
  return s.rpm >= 0 || s.tpm >= 0 || s.max_parallel >= 0 || s.max_budget >= 0;
}
/// The demand as charged: negative token counts are 0.
inline Demand normalized(const Demand& d) { return Demand{.tokens = d.tokens > 0 ? d.tokens : 0, .cost = d.cost}; }

/// rpm: admitted iff the requests in the window are at most this (a limit of 0: never).
inline std::int64_t rpm_target(std::int64_t rpm) { return rpm - 1; }
/// tpm: admitted iff the tokens in the window are at most this. A demand larger than the whole
/// limit is admitted into an empty window (target 0); a limit of 0 never admits (target -1).
inline std::int64_t tpm_target(std::int64_t tpm, std::int64_t demand) {
  if (tpm == 0) return -1;
  return tpm > demand ? tpm - demand : 0;
}
/// budget: settled ≥ max denies; else reservations plus this request must fit, unless nothing is
/// reserved (a lone request may use what is left).
inline bool budget_admits(std::int64_t settled, std::int64_t reserved, std::int64_t cost, std::int64_t max) {
  if (settled >= max) return false;
  return reserved == 0 || settled + reserved + cost <= max;
}

/// Amounts per unix second over the last 60 seconds, holding only the seconds that had a charge
/// (a scope seeing one request a minute keeps one bucket, not 60). A charge made during second s
/// counts at every time in [s, s + 60) seconds. Not thread-safe.
class MinuteWindow {
 public:
  std::int64_t sum(std::int64_t now_ms);
  void add(std::int64_t now_ms, std::int64_t n);
  /// Adds `delta` to the second of `at_ms` while that second is still in the window (never below
  /// zero); nothing once it has left.
  void correct(std::int64_t at_ms, std::int64_t now_ms, std::int64_t delta);
  /// Milliseconds until the sum is at most `target`: 0 when it is, 60 s when it never gets there.
  std::int64_t ms_until_at_most(std::int64_t now_ms, std::int64_t target);
  /// Milliseconds until the oldest non-zero second leaves the window; 0 when there is none.
  std::int64_t ms_until_oldest_leaves(std::int64_t now_ms);
  /// Nothing left in the window.
  bool idle(std::int64_t now_ms) { return sum(now_ms) == 0; }

 private:
  struct Bucket {
    std::int64_t second = 0;
    std::int64_t amount = 0;
  };
  void expire(std::int64_t now_ms);
  std::vector<Bucket> buckets_;  // ascending seconds, amounts > 0
  std::int64_t total_ = 0;
};

/// What one scope looks like right after a successful admission.
struct ScopeUsage {
  std::int64_t requests = 0;           // in the window, this request included (rpm scopes)
  std::int64_t requests_reset_ms = 0;  // until the oldest of them leaves
  std::int64_t tokens = 0;             // in the window, this demand included (tpm scopes)
  std::int64_t tokens_reset_ms = 0;
  std::int64_t settled_nanos = 0;     // budget scopes: settled spend of the window
};

/// An admitted request: ticket, headroom and spend from the per-scope usage (same order as scopes).
Admission admitted(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms,
                   const std::vector<ScopeUsage>& usage, bool via_redis);
Admission denied(Denial denial);
/// Counts the outcome in `stats`.
void count(LimitStats& stats, const Admission& admission);

}  // namespace tollgate::limits::detail
