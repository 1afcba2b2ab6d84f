#include "tollgate/router/shared_state.hpp"

#include <algorithm>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include "tollgate/core/clock.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::router {
namespace {

namespace asio = boost::asio;
using store::RedisReply;

// One call per sync for every deployment. KEYS: 4 per deployment (requests hash, tokens hash,
// in-flight hash, cooldown key). ARGV: now_ms, replica id, then 3 per deployment (requests to
// add, tokens to add, this replica's in-flight). Hash fields are unix seconds; fields older than
// the minute are dropped as they are met. Returns 4 numbers per deployment: requests and tokens
// in the sliding minute (all replicas), in-flight on the other replicas, cooldown end (ms, 0 none).
constexpr std::string_view kSyncLua = R"lua(
local now = tonumber(ARGV[1])
local sec = math.floor(now / 1000)
local replica = ARGV[2]
local out = {}
local function window(key)
  local total = 0
  local all = redis.call('HGETALL', key)
  for j = 1, #all, 2 do
    if tonumber(all[j]) <= sec - 60 then redis.call('HDEL', key, all[j]) else total = total + tonumber(all[j + 1]) end
  end
  return total
end
for i = 0, #KEYS / 4 - 1 do
  local req, tok, inf, cd = KEYS[i * 4 + 1], KEYS[i * 4 + 2], KEYS[i * 4 + 3], KEYS[i * 4 + 4]
  local dreq, dtok, mine = tonumber(ARGV[3 + i * 3]), tonumber(ARGV[4 + i * 3]), tonumber(ARGV[5 + i * 3])
  if dreq ~= 0 then redis.call('HINCRBY', req, sec, dreq); redis.call('PEXPIRE', req, 61000) end
  if dtok ~= 0 then redis.call('HINCRBY', tok, sec, dtok); redis.call('PEXPIRE', tok, 61000) end
  redis.call('HSET', inf, replica, mine .. ':' .. (now + 3000))
  redis.call('PEXPIRE', inf, 10000)
  local others = 0
  local all = redis.call('HGETALL', inf)
  for j = 1, #all, 2 do
    local sep = string.find(all[j + 1], ':', 1, true)
    local count, expires = tonumber(string.sub(all[j + 1], 1, sep - 1)), tonumber(string.sub(all[j + 1], sep + 1))
    if expires < now then redis.call('HDEL', inf, all[j]) elseif all[j] ~= replica then others = others + count end
  end
  out[#out + 1] = window(req)
  out[#out + 1] = window(tok)
  out[#out + 1] = others
  out[#out + 1] = tonumber(redis.call('GET', cd) or '0')
end
return out
)lua";

// Admits one request against the limit ARGV[2] in the sliding minute at ARGV[1] (ms).
// Returns {1 admitted | 0 refused, requests in the minute}.
constexpr std::string_view kAdmitLua = R"lua(
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local sec = math.floor(now / 1000)
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for j = 1, #all, 2 do
  if tonumber(all[j]) <= sec - 60 then redis.call('HDEL', KEYS[1], all[j]) else total = total + tonumber(all[j + 1]) end
end
if total + 1 > limit then return {0, total} end
redis.call('HINCRBY', KEYS[1], sec, 1)
redis.call('PEXPIRE', KEYS[1], 61000)
return {1, total + 1}
)lua";

// Extends a deployment's cooldown to ARGV[1] (ms) unless a longer one is already there.
constexpr std::string_view kCooldownLua = R"lua(
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local untilms, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if untilms > cur then redis.call('SET', KEYS[1], untilms, 'PX', math.max(1, untilms - now)) end
return 1
)lua";

constexpr std::string_view kKeyPrefix = "tollgate:router:";
constexpr std::chrono::milliseconds kStartupRetry{10};
constexpr std::chrono::milliseconds kStartupWait{2000};

std::string replica_id() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

}  // namespace

struct SharedState::Impl {
  Impl(const config::RedisSettings& s, std::shared_ptr<const Router> r, metrics::Metrics& m,
       std::shared_ptr<spdlog::logger> l)
      : settings(s),
        usage_strategy(r->settings().strategy == config::RoutingStrategy::kUsage),
        latest_router(std::move(r)),
        metrics(m),
        log(std::move(l)),
        replica(replica_id()),
        sync_script(std::string(kSyncLua)),
        admit_script(std::string(kAdmitLua)),
        work(asio::make_work_guard(io)) {}

  std::string key(const Route& route, std::string_view what) const {
    return std::string(kKeyPrefix) + route.deployment->id + ":" + std::string(what);
  }
  // Deployments whose every request is admitted by Redis (and counted there by the admission).
  bool exact(const Route& route) const {
    return usage_strategy.load(std::memory_order_relaxed) && route.deployment->rpm &&
           *route.deployment->rpm <= kExactRpmLimit;
  }
  std::shared_ptr<const Router> current_router() const {
    const std::lock_guard lock(router_mu);
    return latest_router;
  }

  asio::awaitable<void> sync_once();
  // Without a fresh picture from Redis, route on local state alone: the other replicas' last
  // numbers would otherwise hold deployments "full" for the whole outage.
  void forget_remote(const Router& router) {
    for (const Route& r : router.routes()) {
      DeploymentState& s = router.state(r);
      s.remote_in_flight.store(0, std::memory_order_relaxed);
      s.remote_requests.store(0, std::memory_order_relaxed);
      s.remote_tokens.store(0, std::memory_order_relaxed);
    }
  }
  asio::awaitable<void> loop();

  config::RedisSettings settings;
  std::atomic<bool> usage_strategy;
  mutable std::mutex router_mu;
  std::shared_ptr<const Router> latest_router;  // guarded by router_mu; swapped by a config reload
  metrics::Metrics& metrics;
  std::shared_ptr<spdlog::logger> log;
  const std::string replica;
  const store::RedisScript sync_script;
  const store::RedisScript admit_script;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::unique_ptr<store::RedisConnection> conn;  // created, used and destroyed on `thread`
  asio::steady_timer* timer = nullptr;           // the sync loop's, while it runs
  std::promise<void> first_sync;                 // set by the first sync that reached Redis
  bool synced_once = false;
  std::atomic<bool> up{false};
  std::atomic<bool> stopping{false};
  std::thread thread;
};

asio::awaitable<void> SharedState::Impl::sync_once() {
  // One router for the whole sync: indices and states stay consistent across a reload.
  const std::shared_ptr<const Router> held = current_router();
  const Router& router = *held;
  const auto& routes = router.routes();
  const bool is_up = conn->connected();
  up.store(is_up, std::memory_order_relaxed);
  metrics.set_redis_connected(is_up);
  if (routes.empty()) co_return;
  const std::int64_t now = unix_ms_now();
  std::vector<std::int64_t> pushed_requests(routes.size());
  std::vector<std::int64_t> pushed_tokens(routes.size());
  std::vector<std::string> keys;
  std::vector<std::string> args;
  keys.reserve(routes.size() * 4);
  args.reserve(2 + routes.size() * 3);
  args.push_back(std::to_string(now));
  args.push_back(replica);
  for (const Route& r : routes) {
    DeploymentState& s = router.state(r);
    // While Redis is away the deltas are dropped: the local windows still hold them, and the
    // shared totals resume from the next sync after it returns.
    pushed_requests[r.index] = s.unsynced_requests.exchange(0, std::memory_order_relaxed);
    pushed_tokens[r.index] = s.unsynced_tokens.exchange(0, std::memory_order_relaxed);
    if (exact(r)) pushed_requests[r.index] = 0;
    keys.push_back(key(r, "req"));
    keys.push_back(key(r, "tok"));
    keys.push_back(key(r, "inflight"));
    keys.push_back(key(r, "cooldown"));
    args.push_back(std::to_string(pushed_requests[r.index]));
    args.push_back(std::to_string(pushed_tokens[r.index]));
    args.push_back(std::to_string(s.in_flight.load(std::memory_order_relaxed)));
  }
  if (!is_up) {
    forget_remote(router);
    co_return;
  }
  Result<RedisReply> reply = co_await conn->eval(sync_script, std::move(keys), std::move(args));
  if (!reply || reply->type != RedisReply::Type::kArray || reply->elements.size() != routes.size() * 4) {
    metrics.redis_error();
    forget_remote(router);
    // Not applied: push them with the next sync.
    for (const Route& r : routes) {
      router.state(r).unsynced_requests.fetch_add(pushed_requests[r.index], std::memory_order_relaxed);
      router.state(r).unsynced_tokens.fetch_add(pushed_tokens[r.index], std::memory_order_relaxed);
    }
    co_return;
  }
  if (!synced_once) {
    synced_once = true;
    first_sync.set_value();
  }
  const std::int64_t after = unix_ms_now();
  for (const Route& r : routes) {
    DeploymentState& s = router.state(r);
    const auto* v = &reply->elements[r.index * 4];
    std::int64_t local_requests = 0;
    std::int64_t local_tokens = 0;
    {
      std::lock_guard lock(s.mu);
      local_requests = s.requests.sum(after);
      local_tokens = s.tokens.sum(after);
    }
    s.remote_requests.store(std::max<std::int64_t>(0, v[0].integer - local_requests), std::memory_order_relaxed);
    s.remote_tokens.store(std::max<std::int64_t>(0, v[1].integer - local_tokens), std::memory_order_relaxed);
    s.remote_in_flight.store(static_cast<std::int32_t>(std::max<std::int64_t>(0, v[2].integer)),
                             std::memory_order_relaxed);
    std::int64_t cur = s.cooldown_until_ms.load(std::memory_order_relaxed);
    const std::int64_t theirs = v[3].integer;
    while (theirs > cur && !s.cooldown_until_ms.compare_exchange_weak(cur, theirs, std::memory_order_relaxed)) {
    }
  }
}

asio::awaitable<void> SharedState::Impl::loop() {
  asio::steady_timer wait(io);
  timer = &wait;
  while (!stopping.load(std::memory_order_relaxed)) {
    try {
      co_await sync_once();
    } catch (const std::exception& e) {
      // A bug or bad_alloc must not end syncing for the life of the process.
      metrics.redis_error();
      forget_remote(*current_router());
      log->error("msg=\"router sync failed\" error=\"{}\"", e.what());
    }
    if (stopping.load(std::memory_order_relaxed)) break;
    // Until Redis has answered once, look again soon: start-up should not route blind for long.
    wait.expires_after(synced_once ? kSyncInterval : kStartupRetry);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  timer = nullptr;
}

SharedState::SharedState(const config::RedisSettings& redis, std::shared_ptr<const Router> router,
                         metrics::Metrics& metrics, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<Impl>(redis, std::move(router), metrics, std::move(log))) {
  Impl* impl = impl_.get();
  std::future<void> synced = impl->first_sync.get_future();
  impl->thread = std::thread([impl] {
    impl->conn = std::make_unique<store::RedisConnection>(impl->io, impl->settings, impl->log);
    impl->conn->start();
    asio::co_spawn(impl->io, impl->loop(), asio::detached);
    impl->io.run();
    impl->conn.reset();
  });
  // Start with the shared picture when Redis is there; without it, start anyway (local state).
  if (synced.wait_for(kStartupWait) != std::future_status::ready) {
    impl->log->warn("msg=\"redis not reachable at start; routing on local state until it is\" host={} port={}",
                    impl->settings.host, impl->settings.port);
  }
}

SharedState::~SharedState() {
  impl_->stopping = true;
  Impl* impl = impl_.get();
  // Let the loop and every queued call finish (the connection fails pending commands at
  // once), so no handler holding the Impl is left behind in the io_context.
  asio::post(impl->io, [impl] {
    impl->conn->stop();
    if (impl->timer) impl->timer->cancel();
    impl->work.reset();
  });
  impl->thread.join();
}

bool SharedState::connected() const { return impl_->up.load(std::memory_order_relaxed); }

void SharedState::set_router(std::shared_ptr<const Router> router) {
  impl_->usage_strategy.store(router->settings().strategy == config::RoutingStrategy::kUsage,
                              std::memory_order_relaxed);
  const std::lock_guard lock(impl_->router_mu);
  impl_->latest_router = std::move(router);
}

void SharedState::publish_cooldown(const Route& route, std::int64_t until_ms) {
  std::shared_ptr<Impl> impl = impl_;
  std::vector<std::string> argv{"EVAL", std::string(kCooldownLua), "1", impl->key(route, "cooldown"),
                                std::to_string(until_ms), std::to_string(unix_ms_now())};
  asio::post(impl->io, [impl, argv = std::move(argv)]() mutable {
    if (impl->conn && impl->conn->connected()) impl->conn->send(std::move(argv));
  });
}

bool SharedState::admits_exactly(const Route& route) const { return impl_->exact(route); }

asio::awaitable<bool> SharedState::admit_rpm(const Route& route, std::int64_t now_ms) {
  if (!connected()) co_return true;
  std::shared_ptr<Impl> impl = impl_;
  const std::int64_t limit = *route.deployment->rpm;
  std::vector<std::string> keys{impl->key(route, "req")};
  std::vector<std::string> args{std::to_string(now_ms), std::to_string(limit)};
  auto call = [impl, keys = std::move(keys), args = std::move(args)]() mutable -> asio::awaitable<Result<RedisReply>> {
    Result<RedisReply> r = co_await impl->conn->eval(impl->admit_script, std::move(keys), std::move(args));
    co_return r;
  };
  Result<RedisReply> reply = co_await asio::co_spawn(impl->io, std::move(call), asio::use_awaitable);
  if (!reply || reply->type != RedisReply::Type::kArray || reply->elements.size() != 2) {
    impl->metrics.redis_error();
    co_return true;  // the local claim stands
  }
  if (reply->elements[0].integer == 1) co_return true;
  // Full across the replicas: local picks skip it until the next sync says otherwise.
  route.state->remote_requests.store(limit, std::memory_order_relaxed);
  co_return false;
}

}  // namespace tollgate::router
