#include "tollgate/limits/local_state.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "limits/rules.hpp"

namespace tollgate::limits {
namespace {

using detail::MinuteWindow;
using detail::ScopeUsage;

struct BudgetCounter {
  std::int64_t window_ms = 0;
  std::int64_t settled = 0;   // nano-dollars, settled spend of the window
  std::int64_t reserved = 0;  // nano-dollars, outstanding reservations
  std::int64_t touched_ms = 0;
};

struct Entry {
  MinuteWindow requests;
  MinuteWindow tokens;
  std::int64_t parallel = 0;
  std::vector<BudgetCounter> budgets;  // usually one; two around a window change

  BudgetCounter* budget(std::int64_t window_ms) {
    auto it = std::find_if(budgets.begin(), budgets.end(),
                           [&](const BudgetCounter& c) { return c.window_ms == window_ms; });
    return it == budgets.end() ? nullptr : &*it;
  }
};

// The counter's settled spend, raised to the database's when the database knows more (a
// settle lost while Redis was away, a counter that was not used for a while).
std::int64_t settled_of(const BudgetCounter* c, const Scope& s) {
  const std::int64_t seed = detail::to_nanos(s.spend_seed);
  return c == nullptr ? seed : std::max(c->settled, seed);
}

bool expired(const BudgetCounter& c, std::int64_t now_ms) {
  const bool ended = c.window_ms > 0 && now_ms >= c.window_ms;
  const bool idle = c.reserved == 0 && now_ms - c.touched_ms >= LocalLimitState::kBudgetIdle.count();
  return ended || idle;
}

std::optional<Denial> check(const Scope& s, std::size_t index, Entry& e, std::int64_t tokens, std::int64_t cost,
                            std::int64_t now_ms) {
  const std::int64_t request_target = detail::rpm_target(s.rpm);
  if (s.rpm >= 0 && e.requests.sum(now_ms) > request_target) {
    return Denial{.scope = index, .kind = LimitKind::kRpm, .limit = s.rpm,
                  .retry_after = std::chrono::milliseconds(e.requests.ms_until_at_most(now_ms, request_target))};
  }
  const std::int64_t token_target = detail::tpm_target(s.tpm, tokens);
  if (s.tpm >= 0 && e.tokens.sum(now_ms) > token_target) {
    return Denial{.scope = index, .kind = LimitKind::kTpm, .limit = s.tpm,
                  .retry_after = std::chrono::milliseconds(e.tokens.ms_until_at_most(now_ms, token_target))};
  }
  if (s.max_parallel >= 0 && e.parallel + 1 > s.max_parallel) {
    return Denial{.scope = index, .kind = LimitKind::kParallel, .limit = s.max_parallel,
                  .retry_after = std::chrono::milliseconds(detail::kParallelRetryMs)};
  }
  if (s.max_budget >= 0) {
    const BudgetCounter* c = e.budget(s.window_ms);
    const std::int64_t settled = settled_of(c, s);
    const std::int64_t reserved = c == nullptr ? 0 : c->reserved;
    if (!detail::budget_admits(settled, reserved, cost, detail::to_nanos(s.max_budget))) {
      return Denial{.scope = index, .kind = LimitKind::kBudget, .spend = detail::to_dollars(settled + reserved),
                    .max_budget = s.max_budget};
    }
  }
  return std::nullopt;
}

ScopeUsage charge(const Scope& s, Entry& e, std::int64_t tokens, std::int64_t cost, std::int64_t now_ms) {
  ScopeUsage u;
  if (s.rpm >= 0) {
    e.requests.add(now_ms, 1);
    u.requests = e.requests.sum(now_ms);
    u.requests_reset_ms = e.requests.ms_until_oldest_leaves(now_ms);
  }
  if (s.tpm >= 0) {
    e.tokens.add(now_ms, tokens);
    u.tokens = e.tokens.sum(now_ms);
    u.tokens_reset_ms = e.tokens.ms_until_oldest_leaves(now_ms);
  }
  if (s.max_parallel >= 0) ++e.parallel;
  if (s.max_budget >= 0) {
    BudgetCounter* c = e.budget(s.window_ms);
    const std::int64_t settled = settled_of(c, s);
    if (c == nullptr) c = &e.budgets.emplace_back(BudgetCounter{.window_ms = s.window_ms});
    c->settled = settled;
    c->reserved += cost;
    c->touched_ms = now_ms;
    u.settled_nanos = settled;
  }
  return u;
}

}  // namespace

struct alignas(64) LocalLimitState::Shard {
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;
  std::int64_t swept_ms = 0;

  Entry* find(const std::string& id) {
    auto it = entries.find(id);
    return it == entries.end() ? nullptr : &it->second;
  }
  // Returns how many entries and budget counters it dropped.
  std::uint64_t sweep(std::int64_t now_ms) {
    swept_ms = now_ms;
    std::uint64_t dropped = 0;
    for (auto it = entries.begin(); it != entries.end();) {
      Entry& e = it->second;
      dropped += std::erase_if(e.budgets, [&](const BudgetCounter& c) { return expired(c, now_ms); });
      if (e.parallel == 0 && e.budgets.empty() && e.requests.idle(now_ms) && e.tokens.idle(now_ms)) {
        it = entries.erase(it);
        ++dropped;
      } else {
        ++it;
      }
    }
    return dropped;
  }
};

namespace {

// The shards of a list of scopes, locked in index order so that admits sharing scopes cannot
// deadlock.
class ShardLocks {
 public:
  template <class Shard>
  ShardLocks(Shard* shards, const std::vector<Scope>& scopes) {
    index_.reserve(scopes.size());
    for (const Scope& s : scopes) index_.push_back(std::hash<std::string>{}(s.id) % LocalLimitState::kShards);
    std::array<bool, LocalLimitState::kShards> used{};
    for (std::size_t i : index_) used[i] = true;
    for (std::size_t i = 0; i < used.size(); ++i) {
      if (used[i]) locks_[i] = std::unique_lock(shards[i].mu);
    }
  }
  std::size_t shard(std::size_t scope) const { return index_[scope]; }
  bool holds(std::size_t shard) const { return locks_[shard].owns_lock(); }

 private:
  std::vector<std::size_t> index_;  // per scope
  std::array<std::unique_lock<std::mutex>, LocalLimitState::kShards> locks_;
};

}  // namespace

LocalLimitState::LocalLimitState() : shards_(std::make_unique<Shard[]>(kShards)) {}
LocalLimitState::~LocalLimitState() = default;

Admission LocalLimitState::admit(const std::vector<Scope>& scopes, const Demand& requested, std::int64_t now_ms) {
  const Demand demand = detail::normalized(requested);
  const std::int64_t cost = detail::to_nanos(demand.cost);
  ShardLocks locks(shards_.get(), scopes);
  for (std::size_t i = 0; i < kShards; ++i) {
    if (locks.holds(i) && now_ms - shards_[i].swept_ms >= kSweepInterval.count()) {
      stats_.evicted.fetch_add(shards_[i].sweep(now_ms), std::memory_order_relaxed);
    }
  }
  Entry none;
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    Entry* e = shards_[locks.shard(i)].find(scopes[i].id);
    if (std::optional<Denial> d = check(scopes[i], i, e != nullptr ? *e : none, demand.tokens, cost, now_ms)) {
      Admission refused = detail::denied(*d);
      detail::count(stats_, refused);
      return refused;
    }
  }
  std::vector<ScopeUsage> usage(scopes.size());
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    if (!detail::limited(scopes[i])) continue;
    Entry& e = shards_[locks.shard(i)].entries[scopes[i].id];
    usage[i] = charge(scopes[i], e, demand.tokens, cost, now_ms);
  }
  Admission a = detail::admitted(scopes, demand, now_ms, usage, /*via_redis=*/false);
  detail::count(stats_, a);
  return a;
}

void LocalLimitState::settle(const Ticket& ticket, std::int64_t tokens, double cost, std::int64_t now_ms) noexcept {
  if (!ticket.valid) return;
  const std::int64_t token_delta = std::max<std::int64_t>(0, tokens) - ticket.demand.tokens;
  const std::int64_t actual = detail::to_nanos(cost);
  const std::int64_t reserved = detail::to_nanos(ticket.demand.cost);
  try {
    settle_locked(ticket, token_delta, actual, reserved, now_ms);
  } catch (...) {
    // Called from destructors: an allocation failure loses this correction instead of ending
    // the process.
  }
}

void LocalLimitState::settle_locked(const Ticket& ticket, std::int64_t token_delta, std::int64_t actual,
                                    std::int64_t reserved, std::int64_t now_ms) {
  ShardLocks locks(shards_.get(), ticket.scopes);
  for (std::size_t i = 0; i < ticket.scopes.size(); ++i) {
    const Scope& s = ticket.scopes[i];
    Shard& shard = shards_[locks.shard(i)];
    Entry* e = shard.find(s.id);
    // A demand of 0 tokens left nothing in the window to keep the entry: the real count still lands.
    if (e == nullptr && s.tpm >= 0 && token_delta > 0) e = &shard.entries[s.id];
    if (e == nullptr) continue;
    if (s.tpm >= 0) e->tokens.correct(ticket.claimed_ms, now_ms, token_delta);
    if (s.max_parallel >= 0 && e->parallel > 0) --e->parallel;
    if (s.max_budget >= 0) {
      if (BudgetCounter* c = e->budget(s.window_ms)) {
        c->settled += actual;
        c->reserved = std::max<std::int64_t>(0, c->reserved - reserved);
        c->touched_ms = now_ms;
      }
    }
  }
}

void LocalLimitState::evict_idle(std::int64_t now_ms) {
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    stats_.evicted.fetch_add(shards_[i].sweep(now_ms), std::memory_order_relaxed);
  }
}

void LocalLimitState::sweep_if_due(std::int64_t now_ms) {
  std::int64_t last = swept_all_ms_.load(std::memory_order_relaxed);
  if (now_ms - last < kSweepInterval.count()) return;
  if (!swept_all_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) return;  // another did
  evict_idle(now_ms);
}

std::size_t LocalLimitState::entries() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].entries.size();
  }
  return n;
}

std::shared_ptr<LocalLimitState> make_local_state() { return std::make_shared<LocalLimitState>(); }

}  // namespace tollgate::limits
