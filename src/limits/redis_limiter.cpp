#include "tollgate/limits/limiter.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "limits/redis_scripts.hpp"
#include "limits/rules.hpp"
#include "tollgate/limits/local_state.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::limits {
namespace {

using store::RedisReply;

std::string flag(bool b) { return b ? "1" : "0"; }

bool all_integers(const RedisReply& reply) {
  return std::all_of(reply.elements.begin(), reply.elements.end(),
                     [](const RedisReply& e) { return e.type == RedisReply::Type::kInteger; });
}

// One worker's limiter across all replicas: each admit is one EVALSHA of the admit script, each
// settle one EVALSHA sent without waiting. Redis trouble at admit: the shared local state answers.
class RedisLimiter final : public Limiter {
 public:
  RedisLimiter(store::RedisConnection& redis, std::shared_ptr<LocalLimitState> fallback,
               std::shared_ptr<spdlog::logger> log, RedisLimiterOptions options)
      : redis_(redis), fallback_(std::move(fallback)), log_(std::move(log)), options_(std::move(options)) {}

  asio::awaitable<Result<Admission>> admit(const std::vector<Scope>& scopes, const Demand& requested,
                                           std::int64_t now_ms) override;
  void settle(Ticket ticket, std::int64_t tokens, double cost, std::int64_t now_ms) override;

 private:
  std::vector<std::string> keys_of(const std::vector<Scope>& scopes) const;
  std::int64_t budget_ttl_ms(const Scope& s, std::int64_t now_ms) const;
  std::optional<Admission> parse(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms,
                                 const RedisReply& reply) const;
  Admission fall_back(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms,
                      std::string_view why);
  void send_settle(const Ticket& ticket, std::int64_t tokens, double cost, std::int64_t now_ms);

  store::RedisConnection& redis_;
  std::shared_ptr<LocalLimitState> fallback_;
  std::shared_ptr<spdlog::logger> log_;
  const RedisLimiterOptions options_;
  // The connection's counters when the settle script was last loaded: settles are sent without
  // waiting (no NOSCRIPT fallback), so the script is loaded again after a reconnect or an error.
  bool settle_loaded_ = false;
  std::uint64_t loaded_errors_ = 0;
  std::uint64_t loaded_reconnects_ = 0;
};

std::vector<std::string> RedisLimiter::keys_of(const std::vector<Scope>& scopes) const {
  std::vector<std::string> keys;
  keys.reserve(scopes.size() * detail::kKeysPerScope);
  for (const Scope& s : scopes) {
    const std::string base = options_.key_prefix + s.id;
    keys.push_back(base + ":req");
    keys.push_back(base + ":tok");
    keys.push_back(base + ":par");
    // ":bn:" (nano-dollars) rather than the micro-dollar counters' ":bud:", so replicas of both
    // versions during a rolling upgrade never read each other's units.
    keys.push_back(base + ":bn:" + std::to_string(s.window_ms));
  }
  return keys;
}

// Idle counters go after kBudgetIdle (the next admit seeds them from the database again); a
// window's counter outlives the window's end by the lease, for the settles still under way.
std::int64_t RedisLimiter::budget_ttl_ms(const Scope& s, std::int64_t now_ms) const {
  const std::int64_t idle = LocalLimitState::kBudgetIdle.count();
  if (s.window_ms <= 0) return idle;
  return std::clamp(s.window_ms - now_ms + options_.lease.count() + detail::kWindowMs, detail::kWindowMs, idle);
}

std::optional<Admission> RedisLimiter::parse(const std::vector<Scope>& scopes, const Demand& demand,
                                             std::int64_t now_ms, const RedisReply& reply) const {
  if (reply.type != RedisReply::Type::kArray || reply.elements.empty() || !all_integers(reply)) return std::nullopt;
  const auto& v = reply.elements;
  if (v[0].integer == 0) {
    if (v.size() != detail::kDeniedReplySize) return std::nullopt;
    const auto index = static_cast<std::size_t>(v[1].integer);
    if (index >= scopes.size() || v[2].integer < 0 || v[2].integer > 3) return std::nullopt;
    Denial d{.scope = index, .kind = static_cast<LimitKind>(v[2].integer), .limit = v[3].integer,
             .retry_after = std::chrono::milliseconds(v[5].integer)};
    if (d.kind == LimitKind::kBudget) {
      d.spend = detail::to_dollars(v[4].integer);
      d.max_budget = scopes[index].max_budget;
    }
    return detail::denied(d);
  }
  if (v.size() != 1 + scopes.size() * detail::kUsagePerScope) return std::nullopt;
  std::vector<detail::ScopeUsage> usage(scopes.size());
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const RedisReply* u = &v[1 + i * detail::kUsagePerScope];
    usage[i] = {.requests = u[0].integer, .requests_reset_ms = u[1].integer, .tokens = u[2].integer,
                .tokens_reset_ms = u[3].integer, .settled_nanos = u[4].integer};
  }
  return detail::admitted(scopes, demand, now_ms, usage, /*via_redis=*/true);
}

Admission RedisLimiter::fall_back(const std::vector<Scope>& scopes, const Demand& demand, std::int64_t now_ms,
                                  std::string_view why) {
  LimitStats& stats = fallback_->stats();
  stats.redis_fallbacks.fetch_add(1, std::memory_order_relaxed);
  if (!stats.redis_degraded.exchange(true, std::memory_order_relaxed) && log_) {
    log_->warn("msg=\"limits: redis failed, enforcing on this replica's state until it is back\" error=\"{}\"", why);
  }
  return fallback_->admit(scopes, demand, now_ms);
}

asio::awaitable<Result<Admission>> RedisLimiter::admit(const std::vector<Scope>& scopes, const Demand& requested,
                                                       std::int64_t now_ms) {
  const Demand demand = detail::normalized(requested);
  // Nothing to count: the local state admits without charging anything, no round trip.
  if (std::none_of(scopes.begin(), scopes.end(), detail::limited)) {
    Result<Admission> unlimited = fallback_->admit(scopes, demand, now_ms);
    co_return unlimited;
  }
  if (!redis_.connected()) {
    Result<Admission> local = fall_back(scopes, demand, now_ms, "not connected");
    co_return local;
  }
  std::vector<std::string> keys = keys_of(scopes);
  std::vector<std::string> args;
  args.reserve(4 + scopes.size() * detail::kAdmitArgsPerScope);
  args.push_back(std::to_string(now_ms));
  args.push_back(std::to_string(options_.lease.count()));
  args.push_back(std::to_string(demand.tokens));
  args.push_back(std::to_string(detail::to_nanos(demand.cost)));
  for (const Scope& s : scopes) {
    args.push_back(std::to_string(s.rpm));
    args.push_back(std::to_string(s.tpm));
    args.push_back(std::to_string(s.max_parallel));
    args.push_back(std::to_string(s.max_budget >= 0 ? detail::to_nanos(s.max_budget) : kNoLimit));
    args.push_back(std::to_string(detail::to_nanos(s.spend_seed)));
    args.push_back(std::to_string(budget_ttl_ms(s, now_ms)));
  }
  const store::RedisScript& script = detail::admit_script();
  Result<RedisReply> reply = co_await redis_.eval(script, std::move(keys), std::move(args));
  std::optional<Admission> answer;
  if (reply) answer = parse(scopes, demand, now_ms, *reply);
  if (!answer) {
    std::string why = "malformed reply";
    if (!reply) {
      why = reply.error().message();
    } else if (reply->is_error()) {
      why = reply->str;
    }
    Result<Admission> local = fall_back(scopes, demand, now_ms, why);
    co_return local;
  }
  LimitStats& stats = fallback_->stats();
  if (stats.redis_degraded.exchange(false, std::memory_order_relaxed) && log_) {
    log_->info("msg=\"limits: redis is back, enforcing across replicas again\"");
  }
  detail::count(stats, *answer);
  fallback_->sweep_if_due(now_ms);
  Result<Admission> shared = std::move(*answer);
  co_return shared;
}

void RedisLimiter::settle(Ticket ticket, std::int64_t tokens, double cost, std::int64_t now_ms) {
  if (!ticket.valid) return;
  // Admitted while Redis was away: it was charged here, so it is given back here.
  if (!ticket.via_redis) {
    fallback_->settle(ticket, tokens, cost, now_ms);
    return;
  }
  try {
    send_settle(ticket, tokens, cost, now_ms);
  } catch (...) {
    // Called from destructors: the reservation then expires with its lease (docs/limits.md).
    fallback_->stats().redis_settles_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

void RedisLimiter::send_settle(const Ticket& ticket, std::int64_t tokens, double cost, std::int64_t now_ms) {
  if (!redis_.connected()) {
    fallback_->stats().redis_settles_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const store::RedisScript& script = detail::settle_script();
  const std::uint64_t errors = redis_.errors();
  const std::uint64_t reconnects = redis_.reconnects();
  if (!settle_loaded_ || errors != loaded_errors_ || reconnects != loaded_reconnects_) {
    // Counted before sending: should the load itself fail, the next settle loads again.
    settle_loaded_ = true;
    loaded_errors_ = errors;
    loaded_reconnects_ = reconnects;
    redis_.send({"SCRIPT", "LOAD", script.source()});  // pipelined: it reaches Redis before the EVALSHA
  }
  const std::vector<Scope>& scopes = ticket.scopes;
  std::vector<std::string> keys = keys_of(scopes);
  std::vector<std::string> argv{"EVALSHA", script.sha1(), std::to_string(keys.size())};
  argv.reserve(argv.size() + keys.size() + 6 + scopes.size() * detail::kSettleArgsPerScope);
  std::move(keys.begin(), keys.end(), std::back_inserter(argv));
  argv.push_back(std::to_string(now_ms));
  argv.push_back(std::to_string(options_.lease.count()));
  argv.push_back(std::to_string(ticket.claimed_ms));
  argv.push_back(std::to_string(std::max<std::int64_t>(0, tokens) - ticket.demand.tokens));
  argv.push_back(std::to_string(detail::to_nanos(cost)));
  argv.push_back(std::to_string(detail::to_nanos(ticket.demand.cost)));
  for (const Scope& s : scopes) {
    argv.push_back(flag(s.tpm >= 0));
    argv.push_back(flag(s.max_parallel >= 0));
    argv.push_back(flag(s.max_budget >= 0));
    argv.push_back(std::to_string(budget_ttl_ms(s, now_ms)));
  }
  redis_.send(std::move(argv));
}

}  // namespace

std::unique_ptr<Limiter> make_redis_limiter(store::RedisConnection& redis, std::shared_ptr<LocalLimitState> fallback,
                                            std::shared_ptr<spdlog::logger> log, RedisLimiterOptions options) {
  return std::make_unique<RedisLimiter>(redis, std::move(fallback), std::move(log), std::move(options));
}

}  // namespace tollgate::limits
