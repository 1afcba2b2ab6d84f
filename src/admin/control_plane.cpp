#include "tollgate/admin/control_plane.hpp"

#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/logger.h>

#include "tollgate/alerting/alerter.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/spend/spend_writer.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::admin {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kEventStream = "tollgate:control:events";
constexpr std::chrono::milliseconds kEventPoll{100};
constexpr std::chrono::seconds kHealthPing{1};
constexpr std::chrono::seconds kRetentionSweep{60};
constexpr std::size_t kPurgeBatch = 1000;         // spend-log rows per retention DELETE
constexpr std::size_t kMaxPurgeBatches = 100;     // per sweep: bounded work, the rest next time

// The spend writer's reports, as metrics (tollgate_spend_*), alerts and the database's health.
class SpendReport final : public spend::SpendWriterObserver {
 public:
  SpendReport(metrics::Metrics* metrics, alerting::Alerter* alerter, std::atomic<bool>& db_up)
      : metrics_(metrics), alerter_(alerter), db_up_(db_up) {}

  void recorded() override {
    if (metrics_) metrics_->spend_event();
  }
  void spilled() override {
    if (metrics_) metrics_->spend_spilled();
  }
  void journal_failed() override {
    if (metrics_) metrics_->spend_journal_error();
  }
  void queue_depth(std::size_t events) override {
    if (metrics_) metrics_->spend_queue_depth(events);
  }
  void database_reached(bool up) override { db_up_.store(up, std::memory_order_relaxed); }
  void stored(std::size_t events) override {
    if (alerter_) alerter_->spend_write_succeeded();
    if (metrics_) metrics_->spend_written(events);
  }
  void write_failed(const std::string& error) override {
    if (metrics_) metrics_->spend_write_error();
    if (alerter_) alerter_->spend_write_failed(error);
  }
  void write_refused() override {
    if (metrics_) metrics_->spend_write_error();
  }

 private:
  metrics::Metrics* metrics_;
  alerting::Alerter* alerter_;
  std::atomic<bool>& db_up_;
};

std::optional<db::Entity> entity_from(std::string_view name) {
  for (db::Entity e : {db::Entity::kKey, db::Entity::kTeam, db::Entity::kUser, db::Entity::kOrganization,
                       db::Entity::kEndUser, db::Entity::kBudget}) {
    if (name == db::entity_name(e)) return e;
  }
  return std::nullopt;
}

}  // namespace

struct ControlPlane::Impl {
  Impl(ControlPlane& o, std::shared_ptr<spdlog::logger> l) : owner(o), log(std::move(l)), work(asio::make_work_guard(io)) {}

  asio::awaitable<void> retention_loop();
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
  std::mutex mu;
  std::set<std::pair<std::string, std::int64_t>> soft_alerted;  // guarded by mu
  std::atomic<bool> stopping{false};
  std::vector<asio::steady_timer*> timers;        // of the loops, while they run (io thread only)
  std::thread thread;
};

asio::awaitable<void> ControlPlane::Impl::retention_loop() {
  const std::optional<Duration> retention = owner.config_->spend.retention;
  if (!retention) co_return;
  asio::steady_timer wait(io);
  timers.push_back(&wait);
  while (!stopping.load()) {
    const Duration back{.count = -retention->count, .unit = retention->unit};
    const std::int64_t cutoff = add_duration(unix_ms_now(), back);
    for (std::size_t i = 0; i < kMaxPurgeBatches && !stopping.load(); ++i) {
      Result<std::size_t> purged = co_await owner.store_->purge_spend_logs(cutoff, kPurgeBatch);
      if (!purged || *purged < kPurgeBatch) break;
    }
    if (stopping.load()) break;
    wait.expires_after(kRetentionSweep);
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
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
                           std::shared_ptr<spdlog::logger> log, metrics::Metrics* metrics,
                           alerting::Alerter* alerter)
    : config_(std::move(config)),
      store_(std::move(store)),
      cache_(*store_, config_->control),
      spend_report_(std::make_unique<SpendReport>(metrics, alerter, db_up_)),
      spend_(std::make_unique<spend::SpendWriter>(config_->spend, config_->control.batch_write_interval, *store_, log,
                                                  spend_report_.get())),
      impl_(std::make_shared<Impl>(*this, std::move(log))) {
  Impl* impl = impl_.get();
  const config::RedisSettings redis = config_->router.redis;
  impl->thread = std::thread([impl, redis] {
    if (redis.enabled()) {
      impl->redis = std::make_unique<store::RedisConnection>(impl->io, redis, impl->log);
      impl->redis->start();
      asio::co_spawn(impl->io, impl->event_loop(), asio::detached);
    }
    asio::co_spawn(impl->io, impl->retention_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->reset_loop(), asio::detached);
    asio::co_spawn(impl->io, impl->health_loop(), asio::detached);
    impl->io.run();
    impl->redis.reset();
  });
}

ControlPlane::~ControlPlane() {
  Impl* impl = impl_.get();
  spend_.reset();  // queued spend is written first, while the rest still runs
  impl->stopping = true;
  asio::post(impl->io, [impl] {
    if (impl->redis) impl->redis->stop();
    for (auto* t : impl->timers) t->cancel();
    impl->work.reset();
  });
  impl->thread.join();
}

spend::SpendSink& ControlPlane::spend() { return *spend_; }

void ControlPlane::changed(db::Entity entity, const std::string& id) {
  cache_.invalidate(entity, id);
  std::shared_ptr<Impl> impl = impl_;
  asio::post(impl->io, [impl, entity, id] { impl->publish(entity, id); });
}

bool ControlPlane::first_soft_budget_alert(const std::string& scope, std::int64_t window_ms) {
  constexpr std::size_t kMaxRemembered = 100'000;  // beyond: start over (an alert may repeat)
  std::lock_guard lock(impl_->mu);
  if (impl_->soft_alerted.size() >= kMaxRemembered) impl_->soft_alerted.clear();
  return impl_->soft_alerted.emplace(scope, window_ms).second;
}

}  // namespace tollgate::admin
