#pragma once
// Rate limits and budgets for the entities a request falls under (key, user, team, organization,
// end user, key×model): requests per minute, tokens per minute and parallel requests on sliding
// windows, and spend against a budget with reservations. See docs/limits.md.
//
// The protocol, per request:
//   admit()  — all scopes are checked and, only if every one has room, charged at once: one
//              request on each rpm window, `demand.tokens` reserved on each tpm window, one parallel
//              slot, `demand.cost` reserved against each budget. Nothing is charged when denied.
//   settle() — exactly once per admitted ticket, on every exit path: the parallel slot is freed,
//              the token reservation replaced by the real count (in the second it was claimed),
//              the cost reservation replaced by the real cost.
// So N concurrent requests cannot overshoot a budget or tpm limit by more than the error of their
// estimates, and a burst at a minute boundary is no larger than any other 60 s window allows.
//
// Two implementations with the same semantics: in-process (one replica) and Redis (all replicas;
// one Lua script per admit and per settle, atomic across scopes). When Redis is unreachable the
// Redis limiter answers from the in-process state and counts the error (limits then hold per
// replica until Redis is back).
//
// Budget counters are keyed by (scope, window_ms): a new budget window starts at zero. The first
// time a counter is seen it is seeded with `spend_seed` (the database's spend for that window).
//
// Time is unix milliseconds passed by the caller (fake clocks in tests).
// Thread safety: LocalLimitState is shared by all workers (internally locked); a Limiter belongs
// to one worker thread (the Redis one uses that worker's RedisConnection).
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "tollgate/core/errc.hpp"

namespace spdlog {
class logger;
}
namespace tollgate::store {
class RedisConnection;
}

namespace tollgate::limits {

namespace asio = boost::asio;

inline constexpr std::int64_t kNoLimit = -1;

/// One entity's limits. Ids are stable names, e.g. "key:<sha256>", "team:<id>", "user:<id>",
/// "org:<id>", "end_user:<id>", "key_model:<sha256>:<model>".
struct Scope {
  std::string id;
  std::int64_t rpm = kNoLimit;
  std::int64_t tpm = kNoLimit;
  std::int64_t max_parallel = kNoLimit;
  double max_budget = kNoLimit;  // < 0: none
  double spend_seed = 0;         // database spend of the current window (seeds a new counter)
  std::int64_t window_ms = 0;    // budget window end (budget_reset_at); 0 = no windows
};

/// What a request may use: tokens (prompt estimate + max output) and worst-case cost.
struct Demand {
  std::int64_t tokens = 0;
  double cost = 0;
};

enum class LimitKind { kRpm, kTpm, kParallel, kBudget };

struct Denial {
  std::size_t scope = 0;                  // index into the scopes passed to admit()
  LimitKind kind = LimitKind::kRpm;
  std::int64_t limit = 0;                 // rpm / tpm / max_parallel that was hit
  double spend = 0;                       // kBudget: spend + reservations at the time
  double max_budget = 0;                  // kBudget
  std::chrono::milliseconds retry_after{0};  // when there will be room (rpm/tpm); 1 s for parallel
};

/// For x-ratelimit-{limit,remaining,reset}-{requests,tokens}: the tightest rpm and tpm scope after
/// this request was charged. limit < 0 when no scope has that limit.
struct Headroom {
  std::int64_t limit_requests = kNoLimit;
  std::int64_t remaining_requests = 0;
  std::int64_t limit_tokens = kNoLimit;
  std::int64_t remaining_tokens = 0;
  std::chrono::milliseconds reset{0};     // until the oldest charge leaves the window
};

/// What admit() charged; settle() takes it back. Move-only: a moved-from ticket is invalid, so
/// settling it (again) is a no-op.
struct Ticket {
  std::vector<Scope> scopes;
  Demand demand;
  std::int64_t claimed_ms = 0;
  bool valid = false;
  bool via_redis = false;

  Ticket() = default;
  Ticket(Ticket&& other) noexcept { *this = std::move(other); }
  Ticket& operator=(Ticket&& other) noexcept {
    if (this == &other) return *this;
    scopes = std::move(other.scopes);
    demand = other.demand;
    claimed_ms = other.claimed_ms;
    valid = std::exchange(other.valid, false);
    via_redis = other.via_redis;
    return *this;
  }
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;
};

struct Admission {
  std::optional<Denial> denial;  // set: nothing was charged
  Ticket ticket;                 // valid when admitted
  Headroom headroom;
  std::vector<double> spend;     // per scope: window spend (settled) after admission; for headers/alerts
  bool admitted() const { return !denial.has_value(); }
};

class LocalLimitState;

class Limiter {
 public:
  virtual ~Limiter() = default;
  /// Scope ids must be distinct within one call; `scopes` and `demand` must outlive the call.
  /// Both implementations here always answer (Redis trouble is answered from the local state).
  virtual asio::awaitable<Result<Admission>> admit(const std::vector<Scope>& scopes, const Demand& demand,
                                                   std::int64_t now_ms) = 0;
  /// Not a coroutine, never throws: callable from a destructor. Redis: fire and forget.
  virtual void settle(Ticket ticket, std::int64_t tokens, double cost, std::int64_t now_ms) = 0;
};

/// Counters for the metrics layer, one set per process (held by the LocalLimitState that every
/// limiter of the process shares). Lock-free; read from any thread.
struct LimitStats {
  std::atomic<std::uint64_t> admitted{0};
  std::array<std::atomic<std::uint64_t>, 4> denied{};       // by LimitKind
  std::atomic<std::uint64_t> redis_fallbacks{0};            // admits answered locally: Redis failed
  std::atomic<std::uint64_t> redis_settles_dropped{0};      // settles of Redis tickets not sent
  std::atomic<std::uint64_t> evicted{0};                    // idle entries and budget counters dropped
  std::atomic<bool> redis_degraded{false};                  // the latest Redis admit fell back

  std::uint64_t denials(LimitKind kind) const {
    return denied[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
  }
};

/// The in-process limiter over `state` (shared by all workers).
std::unique_ptr<Limiter> make_local_limiter(std::shared_ptr<LocalLimitState> state);

struct RedisLimiterOptions {
  std::string key_prefix = "tollgate:lim:";  // every key the limiter writes starts with this
  // How long a parallel slot or cost reservation counts when it is never settled (a crashed
  // replica): it is dropped between `lease` and `lease` + 1 minute after the admit. Requests
  // running longer stop holding theirs at that point.
  std::chrono::milliseconds lease{std::chrono::minutes(10)};
};

/// The limiter shared by all replicas through `redis` (this worker's connection; it must outlive
/// the limiter and be used on the same thread). When Redis fails, admits are answered from
/// `fallback` and counted in its stats(); `log` (may be null) gets a line per outage and recovery.
std::unique_ptr<Limiter> make_redis_limiter(store::RedisConnection& redis, std::shared_ptr<LocalLimitState> fallback,
                                            std::shared_ptr<spdlog::logger> log, RedisLimiterOptions options = {});

}  // namespace tollgate::limits
