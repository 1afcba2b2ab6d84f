#include "tollgate/admin/control_plane.hpp"

#include <future>
#include <map>
#include <set>
#include <mutex>
#include <thread>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/logger.h>

#include "tollgate/core/clock.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::admin {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kEventStream = "tollgate:control:events";
constexpr std::chrono::milliseconds kEventPoll{100};
constexpr std::chrono::seconds kFinalFlushWait{5};
constexpr std::chrono::seconds kHealthPing{1};

std::optional<db::Entity> entity_from(std::string_view name) {
  for (db::Entity e : {db::Entity::kKey, db::Entity::kTeam, db::Entity::kUser, db::Entity::kOrganization,
                       db::Entity::kEndUser, db::Entity::kBudget}) {
    if (name == db::entity_name(e)) return e;
  }
  return std::nullopt;
}

}  // namespace

struct ControlPlane::Impl {
  using SpendKey = std::tuple<int, std::string, std::int64_t, std::string>;  // entity, id, window, model

  Impl(ControlPlane& o, std::shared_ptr<spdlog::logger> l) : owner(o), log(std::move(l)), work(asio::make_work_guard(io)) {}

  asio::awaitable<void> flush_once();
  asio::awaitable<void> flush_loop();
  asio::awaitable<void> reset_loop();
  asio::awaitable<void> reset_once();
  asio::awaitable<void> event_loop();
  asio::awaitable<void> health_loop();
  asio::awaitable<void> read_events();
  void publish(db::Entity entity, const std::string& id);

  ControlPlane& owner;
  std::shared_ptr<spdlog::logger> log;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::unique_ptr<store::RedisConnection> redis;  // created, used and destroyed on `thread`
  std::string last_event_id;                      // empty: not read yet (or missed: invalidate all)
  mutable std::mutex mu;
  std::map<SpendKey, double> pending;             // guarded by mu
  std::set<std::pair<std::string, std::int64_t>> soft_alerted;  // guarded by mu
  std::atomic<bool> stopping{false};
  std::vector<asio::steady_timer*> timers;        // of the loops, while they run (io thread only)
  std::thread thread;
};

asio::awaitable<void> ControlPlane::Impl::flush_once() {
  std::map<SpendKey, double> batch;
  {
    std::lock_guard lock(mu);
    batch.swap(pending);
  }
  if (batch.empty()) co_return;
  std::vector<db::SpendDelta> deltas;
  deltas.reserve(batch.size());
  for (const auto& [k, amount] : batch) {
    deltas.push_back({.entity = static_cast<db::Entity>(std::get<0>(k)),
                      .id = std::get<1>(k),
                      .amount = amount,
                      .window_ms = std::get<2>(k),
                      .model = std::get<3>(k)});
  }
  Result<void> r = co_await owner.store_->add_spend(std::move(deltas));
  owner.db_up_.store(r.has_value() || r.error() != Errc::kDbUnavailable, std::memory_order_relaxed);
  if (r) co_return;
  // Put it back: spend is kept until the database takes it.
  std::lock_guard lock(mu);
  for (auto& [k, amount] : batch) pending[k] += amount;
  log->warn("msg=\"spend write failed; kept for the next attempt\" entities={} error=\"{}\"", batch.size(),
            r.error().message());
}

asio::awaitable<void> ControlPlane::Impl::flush_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    wait.expires_after(owner.config_->control.batch_write_interval);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping.load()) break;
    co_await flush_once();
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::reset_once() {
  const std::int64_t now = unix_ms_now();
  for (db::Entity e : {db::Entity::kKey, db::Entity::kTeam, db::Entity::kUser, db::Entity::kOrganization,
                       db::Entity::kEndUser}) {
    auto due = co_await owner.store_->due_for_reset(e, now);
    owner.db_up_.store(due.has_value(), std::memory_order_relaxed);
    if (!due) co_return;
    for (const db::Record& r : *due) {
      const auth::EntityLimits limits = auth::limits_of(r);
      if (!limits.budget_duration) continue;
      const std::int64_t next = auth::current_window_end(r.budget_reset_at_ms, *limits.budget_duration, now);
      auto reset = co_await owner.store_->reset_budget(e, r.id, r.budget_reset_at_ms, next);
      if (reset && *reset) owner.cache_.invalidate(e, r.id);
    }
  }
}

asio::awaitable<void> ControlPlane::Impl::reset_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    co_await reset_once();
    if (stopping.load()) break;  // stop() may have cancelled the timers while the sweep ran
    wait.expires_after(kResetSweep);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::read_events() {
  if (!redis->connected()) {
    // Whatever was published while we could not read is unknown: start over from the stream's end.
    last_event_id.clear();
    co_return;
  }
  if (last_event_id.empty()) {
    std::vector<std::string> argv{"XREVRANGE", std::string(kEventStream), "+", "-", "COUNT", "1"};
    Result<store::RedisReply> tail = co_await redis->command(std::move(argv));
    if (!tail || tail->is_error()) co_return;
    last_event_id = tail->elements.empty() || tail->elements[0].elements.empty() ? "0-0"
                                                                                 : tail->elements[0].elements[0].str;
    // Changes made while this replica was not reading may be cached: drop everything once.
    owner.cache_.invalidate_all();
    co_return;
  }
  std::vector<std::string> argv{"XRANGE", std::string(kEventStream), "(" + last_event_id, "+", "COUNT", "1000"};
  Result<store::RedisReply> reply = co_await redis->command(std::move(argv));
  if (!reply || reply->is_error()) co_return;
  for (const store::RedisReply& entry : reply->elements) {
    if (entry.elements.size() < 2) continue;
    last_event_id = entry.elements[0].str;
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string& v = fields[i + 1].str;
      const auto colon = v.find(':');
      if (colon == std::string::npos) continue;
      if (auto e = entity_from(std::string_view(v).substr(0, colon))) owner.cache_.invalidate(*e, v.substr(colon + 1));
    }
  }
}

asio::awaitable<void> ControlPlane::Impl::event_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    co_await read_events();
    if (stopping.load()) break;
    wait.expires_after(kEventPoll);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

asio::awaitable<void> ControlPlane::Impl::health_loop() {
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    Result<void> r = co_await owner.store_->ping();
    owner.db_up_.store(r.has_value(), std::memory_order_relaxed);
    if (stopping.load()) break;
    wait.expires_after(kHealthPing);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::erase(timers, &wait);
}

void ControlPlane::Impl::publish(db::Entity entity, const std::string& id) {
  if (!redis || !redis->connected()) return;
  std::string value = std::string(db::entity_name(entity)) + ":" + id;
  redis->send({"XADD", std::string(kEventStream), "MAXLEN", "~", "10000", "*", "e", std::move(value)});
}

ControlPlane::ControlPlane(std::shared_ptr<const config::Config> config, std::unique_ptr<db::Store> store,
                           std::shared_ptr<spdlog::logger> log)
    : config_(std::move(config)),
      store_(std::move(store)),
      cache_(*store_, config_->control),
      impl_(std::make_shared<Impl>(*this, std::move(log))) {
  Impl* impl = impl_.get();
  const config::RedisSettings redis = config_->router.redis;
  impl->thread = std::thread([impl, redis] {
    if (redis.enabled()) {
      impl->redis = std::make_unique<store::RedisConnection>(impl->io, redis, impl->log);
      impl->redis->start();
      asio::co_spawn(impl->io, impl->event_loop(), asio::detached);
    }
    asio::co_spawn(impl->io, impl->flush_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->reset_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->health_loop(), asio::detached);
    impl->io.run();
    impl->redis.reset();
  });
}

ControlPlane::~ControlPlane() {
  Impl* impl = impl_.get();
  if (!flush()) impl->log->error("msg=\"spend not written at shutdown\" entities={}", pending_spend());
  impl->stopping = true;
  asio::post(impl->io, [impl] {
    if (impl->redis) impl->redis->stop();
    for (auto* t : impl->timers) t->cancel();
    impl->work.reset();
  });
  impl->thread.join();
}

void ControlPlane::record_spend(const std::vector<db::SpendDelta>& deltas) {
  std::lock_guard lock(impl_->mu);
  for (const auto& d : deltas) {
    if (d.amount == 0) continue;
    impl_->pending[{static_cast<int>(d.entity), d.id, d.window_ms, d.model}] += d.amount;
  }
}

void ControlPlane::changed(db::Entity entity, const std::string& id) {
  cache_.invalidate(entity, id);
  std::shared_ptr<Impl> impl = impl_;
  asio::post(impl->io, [impl, entity, id] { impl->publish(entity, id); });
}

bool ControlPlane::flush() {
  std::shared_ptr<Impl> impl = impl_;
  std::future<void> done = asio::co_spawn(impl->io, impl->flush_once(), asio::use_future);
  if (done.wait_for(kFinalFlushWait) != std::future_status::ready) return false;
  return pending_spend() == 0;
}

bool ControlPlane::first_soft_budget_alert(const std::string& scope, std::int64_t window_ms) {
  constexpr std::size_t kMaxRemembered = 100'000;  // beyond: start over (an alert may repeat)
  std::lock_guard lock(impl_->mu);
  if (impl_->soft_alerted.size() >= kMaxRemembered) impl_->soft_alerted.clear();
  return impl_->soft_alerted.emplace(scope, window_ms).second;
}

std::size_t ControlPlane::pending_spend() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pending.size();
}

}  // namespace tollgate::admin
