#include "tollgate/app/app.hpp"

#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/ssl/context.hpp>
#include <spdlog/logger.h>

#include "app/control_bridge.hpp"
#include "tollgate/admin/control_plane.hpp"
#include "tollgate/alerting/alerter.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/db/store.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/limits/limiter.hpp"
#include "tollgate/limits/local_state.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/proxy/access_log.hpp"
#include "tollgate/proxy/proxy_handler.hpp"
#include "tollgate/router/shared_state.hpp"

namespace tollgate::app {

namespace {

// At destruction, how long database calls still running for the io threads get to complete.
constexpr std::chrono::seconds kStoreDrain{5};

// After the shutdown deadline, how long cut requests get to write their error event and settle.
constexpr std::chrono::milliseconds kCutGrace{2000};

// Model names that may label metrics as they are: the groups and aliases of every config version
// this process has run (series already exported stay valid after a reload removes a group).
// Consulted only when a label set is first created, so a lock is fine.
class KnownModels {
 public:
  explicit KnownModels(const config::Config& first) { add(first); }
  void add(const config::Config& config) {
    const std::lock_guard lock(mu_);
    for (const auto& d : config.model_list) names_.insert(d.model_name);
    for (const auto& [alias, target] : config.router.model_group_alias) names_.insert(alias);
  }
  bool contains(std::string_view name) const {
    const std::lock_guard lock(mu_);
    return names_.find(name) != names_.end();
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> names_;
};

// Settings a reload cannot apply (they shaped threads, sockets, connections or files at start):
// the running values stay in `next`, and each change is named in `warnings`.
void keep_start_settings(const config::Config& running, config::Config& next, std::vector<std::string>& warnings) {
  auto keep = [&](auto& in_next, const auto& in_running, const char* what) {
    if (in_next == in_running) return;
    warnings.push_back(std::string(what) + " changed: restart to apply it (the running values stay in effect)");
    in_next = in_running;
  };
  keep(next.server, running.server, "server settings (host, port, workers, limits, timeouts)");
  keep(next.upstream, running.upstream, "upstream connection settings (TLS, pools, connect timeout)");
  keep(next.router.redis, running.router.redis, "Redis settings");
  keep(next.database, running.database, "database settings");
  keep(next.control, running.control, "control-plane settings (spend write interval, key cache)");
  keep(next.spend, running.spend, "spend settings (journal, retention, store_prompts, baseline_model)");
  keep(next.log, running.log, "log settings");
  keep(next.alerting, running.alerting, "alerting settings");
}

// The control plane exists when requests are authenticated (a master key is set).
std::unique_ptr<admin::ControlPlane> make_control(const std::shared_ptr<const config::Config>& config,
                                                  const std::shared_ptr<spdlog::logger>& log, metrics::Metrics& metrics,
                                                  alerting::Alerter* alerter) {
  if (config->master_key.empty()) return nullptr;
  auto store = db::open_store(config->database, log);
  return std::make_unique<admin::ControlPlane>(config, std::move(store), log, &metrics, alerter);
}

// Once per snapshot: a deployment without a price is counted per request
// (tollgate_unpriced_requests_total), but said in words only here.
void warn_unpriced(const proxy::Snapshot& snapshot, spdlog::logger& log) {
  const auto& deployments = snapshot.config->model_list;
  for (std::size_t i = 0; i < deployments.size(); ++i) {
    if (snapshot.prices.priced(i)) continue;
    log.warn("msg=\"model {}/{} has no price; its requests are recorded with spend 0\" deployment={} model_group={} "
             "hint=\"set input_cost_per_token/output_cost_per_token or model_info.base_model\"",
             deployments[i].provider, deployments[i].model, deployments[i].id, deployments[i].model_name);
  }
}

}  // namespace

struct App::Impl {
  Impl(config::Config cfg, std::shared_ptr<spdlog::logger> logger, ConfigSource config_source, const Clock* given_clock)
      : clock(given_clock != nullptr ? *given_clock : system_clock),
        log(std::move(logger)),
        config(std::make_shared<const config::Config>(std::move(cfg))),
        source(std::move(config_source)),
        known_models(*config),
        tls(http::make_client_tls_context(config->upstream)),
        access_log(config->log, http::worker_count(config->server)),
        metrics([this](std::string_view name) { return known_models.contains(name); }),
        alerter(config->alerting.enabled()
                    ? std::make_unique<alerting::Alerter>(config->alerting, config->upstream, metrics, log, clock)
                    : nullptr),
        control(make_control(config, log, metrics, alerter.get())),
        control_access(control ? std::make_unique<ControlBridge>(*control) : nullptr),
        limit_state(limits::make_local_state()),
        snapshots(std::make_shared<const proxy::Snapshot>(config, metrics, control_access.get(), alerter.get())),
        shared(config->router.redis.enabled()
                   ? std::make_unique<router::SharedState>(config->router.redis, router_of(snapshots.current()),
                                                           metrics, log)
                   : nullptr),
        server(config->server,
               [this](unsigned worker, boost::asio::io_context& io) -> std::unique_ptr<http::Handler> {
                 config::ReloadFn reload;
                 if (source) reload = [this] { return this->reload(); };
                 return std::make_unique<proxy::ProxyHandler>(worker, snapshots, io, *tls, access_log, log, clock,
                                                              shared.get(), limit_state, std::move(reload));
               },
               log, &metrics.server()) {
    warn_unpriced(*snapshots.current(), *log);
  }

  // The router inside a snapshot, kept alive by it.
  static std::shared_ptr<const router::Router> router_of(std::shared_ptr<const proxy::Snapshot> snapshot) {
    const router::Router* router = &snapshot->router;
    return std::shared_ptr<const router::Router>(std::move(snapshot), router);
  }

  config::ReloadOutcome reload();

  SystemClock system_clock;  // the clock, unless the App was given one
  const Clock& clock;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<const config::Config> config;  // as started: what a reload cannot change comes from here
  ConfigSource source;
  std::mutex reload_mu;  // one reload at a time
  KnownModels known_models;
  std::unique_ptr<boost::asio::ssl::context> tls;
  proxy::AccessLog access_log;
  metrics::Metrics metrics;
  std::unique_ptr<alerting::Alerter> alerter;    // with general_settings.alerting; null otherwise
  std::unique_ptr<admin::ControlPlane> control;  // with a master key; null otherwise
  std::unique_ptr<ControlBridge> control_access;  // `control` as the request path sees it
  std::shared_ptr<limits::LocalLimitState> limit_state;
  proxy::SnapshotHolder snapshots;
  std::unique_ptr<router::SharedState> shared;  // with Redis configured; null otherwise
  http::Server server;  // last: its workers refer to everything above
};

config::ReloadOutcome App::Impl::reload() {
  const std::lock_guard lock(reload_mu);
  const std::shared_ptr<const proxy::Snapshot> running = snapshots.current();
  config::ReloadOutcome out;
  out.version = snapshots.version();
  out.deployments = running->config->model_list.size();
  auto refuse = [&](std::vector<std::string> errors) {
    out.errors = std::move(errors);
    metrics.config_reload(false, out.version, 0);
    for (const auto& e : out.errors) log->error("msg=\"config reload rejected; the running config stays\" problem=\"{}\"", e);
    return out;
  };
  if (!source) return refuse({"this process was started without a config file"});
  config::LoadResult loaded = source();
  for (const auto& w : loaded.warnings) out.warnings.push_back(w.to_string());
  if (!loaded.config) {
    std::vector<std::string> errors;
    for (const auto& e : loaded.errors) errors.push_back(e.to_string());
    return refuse(std::move(errors));
  }
  config::Config next = std::move(*loaded.config);
  if (next.master_key.empty() != config->master_key.empty()) {
    return refuse({"general_settings.master_key: turning authentication on or off needs a restart"});
  }
  keep_start_settings(*config, next, out.warnings);
  auto next_config = std::make_shared<const config::Config>(std::move(next));
  std::shared_ptr<const proxy::Snapshot> snapshot;
  try {
    known_models.add(*next_config);
    snapshot = std::make_shared<const proxy::Snapshot>(next_config, metrics, control_access.get(), alerter.get(),
                                                          running.get());
  } catch (const std::exception& e) {
    return refuse({std::string("the new config could not be applied: ") + e.what()});
  }
  out.version = snapshots.publish(snapshot);
  if (shared) shared->set_router(router_of(snapshot));
  out.applied = true;
  out.deployments = next_config->model_list.size();
  metrics.config_reload(true, out.version, static_cast<double>(unix_ms_now()) / 1000.0);
  for (const auto& w : out.warnings) log->warn("msg=\"config reload\" problem=\"{}\"", w);
  warn_unpriced(*snapshot, *log);
  log->info("msg=\"config reloaded\" version={} deployments={}", out.version, out.deployments);
  return out;
}

App::App(config::Config config, std::shared_ptr<spdlog::logger> log, ConfigSource source, const Clock* clock)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(log), std::move(source), clock)) {}

App::~App() {
  if (!impl_) return;
  impl_->server.stop();
  // With the io threads joined (their io_contexts still alive), the Redis thread can finish and
  // post its last completions before anything it refers to goes away; so can the database calls
  // the workers started (an admin request cut at shutdown), whose completions hold the workers'
  // executors.
  impl_->shared.reset();
  if (impl_->control) impl_->control->store().wait_idle(kStoreDrain);
}

std::uint16_t App::start() { return impl_->server.start(); }

std::uint16_t App::port() const { return impl_->server.port(); }

config::ReloadOutcome App::reload() { return impl_->reload(); }

std::size_t App::active_requests() const { return impl_->server.active_requests(); }

const alerting::Alerter* App::alerter() const { return impl_->alerter.get(); }

bool App::shutdown() {
  auto& server = impl_->server;
  if (const auto delay = impl_->config->server.shutdown_delay; delay.count() > 0) {
    server.announce_stop();
    impl_->log->info("msg=\"not ready; serving {} ms more before draining\"", delay.count());
    std::this_thread::sleep_for(delay);
  }
  server.begin_drain();
  bool idle = server.wait_idle(impl_->config->server.shutdown_timeout);
  if (!idle) {
    impl_->log->warn("msg=\"shutdown deadline passed with requests in flight; cutting them\" active={}",
                     server.active_requests());
    // Cut, not dropped: each in-flight call fails, so a stream ends with an error event and every
    // request settles and journals its spend before the io threads stop.
    server.cut_inflight();
    idle = server.wait_idle(kCutGrace);
    if (!idle) impl_->log->warn("msg=\"requests still in flight after the cut\" active={}", server.active_requests());
  }
  server.stop();
  impl_->shared.reset();
  impl_->access_log.flush();
  if (impl_->alerter) impl_->alerter->stop(std::chrono::seconds(2));  // the last alerts go out
  return idle;
}

}  // namespace tollgate::app
