#include "limits/rules.hpp"

#include <algorithm>
#include <cmath>

namespace tollgate::limits::detail {
namespace {

constexpr std::int64_t kMaxNanos = (std::int64_t{1} << 53) - 1;
constexpr std::int64_t kWindowSeconds = kWindowMs / 1000;

std::int64_t second_of(std::int64_t ms) { return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); }

// When a charge made during `second` leaves the window, from `now_ms`.
std::int64_t leaves_in(std::int64_t second, std::int64_t now_ms) { return (second + kWindowSeconds) * 1000 - now_ms; }

// The tightest scope for one kind of limit: least remaining, then smallest limit.
struct Tightest {
  std::int64_t limit = kNoLimit;
  std::int64_t remaining = 0;
  std::int64_t reset_ms = 0;
  void offer(std::int64_t l, std::int64_t used, std::int64_t reset) {
    const std::int64_t left = std::max<std::int64_t>(0, l - used);
    if (limit != kNoLimit && (left > remaining || (left == remaining && l >= limit))) return;
    limit = l;
    remaining = left;
    reset_ms = reset;
  }
};

}  // namespace

std::int64_t to_nanos(double dollars) {
  if (!(dollars > 0)) return 0;
  const double nanos = std::max(1.0, std::round(dollars * static_cast<double>(kNanosPerDollar)));
  return nanos >= static_cast<double>(kMaxNanos) ? kMaxNanos : static_cast<std::int64_t>(nanos);
}

double to_dollars(std::int64_t nanos) { return static_cast<double>(nanos) / static_cast<double>(kNanosPerDollar); }

void MinuteWindow::expire(std::int64_t now_ms) {
  const std::int64_t oldest_kept = second_of(now_ms) - kWindowSeconds + 1;
  auto first_kept = buckets_.begin();
  while (first_kept != buckets_.end() && first_kept->second < oldest_kept) {
    total_ -= first_kept->amount;
    ++first_kept;
  }
  buckets_.erase(buckets_.begin(), first_kept);
}

std::int64_t MinuteWindow::sum(std::int64_t now_ms) {
  expire(now_ms);
  return total_;
}

void MinuteWindow::add(std::int64_t now_ms, std::int64_t n) { correct(now_ms, now_ms, n); }

void MinuteWindow::correct(std::int64_t at_ms, std::int64_t now_ms, std::int64_t delta) {
  expire(now_ms);
  const std::int64_t at = second_of(at_ms);
  if (delta == 0 || at <= second_of(now_ms) - kWindowSeconds) return;
  // Usually the newest second; a thread whose clock read came a moment earlier may land before it.
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), at,
                             [](const Bucket& b, std::int64_t s) { return b.second < s; });
  if (it == buckets_.end() || it->second != at) {
    if (delta < 0) return;
    buckets_.insert(it, Bucket{at, delta});
    total_ += delta;
    return;
  }
  const std::int64_t amount = std::max<std::int64_t>(0, it->amount + delta);
  total_ += amount - it->amount;
  if (amount == 0) {
    buckets_.erase(it);
  } else {
    it->amount = amount;
  }
}

std::int64_t MinuteWindow::ms_until_at_most(std::int64_t now_ms, std::int64_t target) {
  std::int64_t total = sum(now_ms);
  if (total <= target) return 0;
  for (const Bucket& b : buckets_) {
    total -= b.amount;
    if (total <= target) return leaves_in(b.second, now_ms);
  }
  return kWindowMs;
}

std::int64_t MinuteWindow::ms_until_oldest_leaves(std::int64_t now_ms) {
  expire(now_ms);
  return buckets_.empty() ? 0 : leaves_in(buckets_.front().second, now_ms);
}

Admission admitted(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms,
                   const std::vector<ScopeUsage>& usage, bool via_redis) {
  Admission a;
  Tightest requests;
  Tightest tokens;
  a.spend.reserve(scopes.size());
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const Scope& s = scopes[i];
    const ScopeUsage& u = usage[i];
    if (s.rpm >= 0) requests.offer(s.rpm, u.requests, u.requests_reset_ms);
    if (s.tpm >= 0) tokens.offer(s.tpm, u.tokens, u.tokens_reset_ms);
    a.spend.push_back(s.max_budget >= 0 ? to_dollars(u.settled_nanos) : s.spend_seed);
  }
  a.headroom.limit_requests = requests.limit;
  a.headroom.remaining_requests = requests.remaining;
  a.headroom.limit_tokens = tokens.limit;
  a.headroom.remaining_tokens = tokens.remaining;
  // The first moment either kind of headroom grows again (an empty window has nothing to wait for).
  std::int64_t reset = 0;
  for (std::int64_t r : {requests.reset_ms, tokens.reset_ms}) {
    if (r > 0 && (reset == 0 || r < reset)) reset = r;
  }
  a.headroom.reset = std::chrono::milliseconds(reset);
  a.ticket.scopes = scopes;
  a.ticket.demand = demand;
  a.ticket.claimed_ms = now_ms;
  a.ticket.valid = true;
  a.ticket.via_redis = via_redis;
  return a;
}

Admission denied(Denial denial) {
  Admission a;
  a.denial = denial;
  return a;
}

void count(LimitStats& stats, const Admission& admission) {
  if (admission.denial) {
    stats.denied[static_cast<std::size_t>(admission.denial->kind)].fetch_add(1, std::memory_order_relaxed);
  } else {
    stats.admitted.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace tollgate::limits::detail
