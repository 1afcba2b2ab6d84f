#include "tollgate/app/app.hpp"

#include <boost/asio/ssl/context.hpp>
#include <spdlog/logger.h>

#include "tollgate/admin/control_plane.hpp"
#include "tollgate/alerting/alerter.hpp"
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

// Model names that may label metrics as they are: the config's groups and aliases. Called only
// when a label set is first created, so a scan is fine.
std::function<bool(std::string_view)> known_model_of(std::shared_ptr<const config::Config> config) {
  return [config = std::move(config)](std::string_view name) {
    for (const auto& d : config->model_list) {
      if (d.model_name == name) return true;
    }
    return config->router.model_group_alias.find(name) != config->router.model_group_alias.end();
  };
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
    if (snapshot.gate.priced(i)) continue;
    log.warn("msg=\"model {}/{} has no price; its requests are recorded with spend 0\" deployment={} model_group={} "
             "hint=\"set input_cost_per_token/output_cost_per_token or model_info.base_model\"",
             deployments[i].provider, deployments[i].model, deployments[i].id, deployments[i].model_name);
  }
}

}  // namespace

struct App::Impl {
  Impl(config::Config cfg, std::shared_ptr<spdlog::logger> logger)
      : log(std::move(logger)),
        config(std::make_shared<const config::Config>(std::move(cfg))),
        tls(http::make_client_tls_context(config->upstream)),
        access_log(config->log, http::worker_count(config->server)),
        metrics(known_model_of(config)),
        alerter(config->alerting.enabled()
                    ? std::make_unique<alerting::Alerter>(config->alerting, config->upstream, metrics, log)
                    : nullptr),
        control(make_control(config, log, metrics, alerter.get())),
        limit_state(limits::make_local_state()),
        snapshot(std::make_shared<const proxy::Snapshot>(config, metrics, control.get(), alerter.get())),
        shared(config->router.redis.enabled()
                   ? std::make_unique<router::SharedState>(config->router.redis, snapshot->router, metrics, log)
                   : nullptr),
        server(config->server,
               [this](unsigned worker, boost::asio::io_context& io) -> std::unique_ptr<http::Handler> {
                 return std::make_unique<proxy::ProxyHandler>(worker, snapshot, io, *tls, access_log, log,
                                                              shared.get(), limit_state);
               },
               log) {
    warn_unpriced(*snapshot, *log);
  }

  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<boost::asio::ssl::context> tls;
  proxy::AccessLog access_log;
  metrics::Metrics metrics;
  std::unique_ptr<alerting::Alerter> alerter;    // with general_settings.alerting; null otherwise
  std::unique_ptr<admin::ControlPlane> control;  // with a master key; null otherwise
  std::shared_ptr<limits::LocalLimitState> limit_state;
  std::shared_ptr<const proxy::Snapshot> snapshot;
  std::unique_ptr<router::SharedState> shared;  // with Redis configured; null otherwise
  http::Server server;  // last: its workers refer to everything above
};

App::App(config::Config config, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(log))) {}

App::~App() {
  if (!impl_) return;
  impl_->server.stop();
  // With the io threads joined (their io_contexts still alive), the Redis thread can finish and
  // post its last completions before anything it refers to goes away.
  impl_->shared.reset();
}

std::uint16_t App::start() { return impl_->server.start(); }

std::uint16_t App::port() const { return impl_->server.port(); }

bool App::shutdown() {
  auto& server = impl_->server;
  server.begin_drain();
  const bool idle = server.wait_idle(impl_->config->server.shutdown_timeout);
  if (!idle) {
    impl_->log->warn("msg=\"shutdown deadline passed with requests in flight\" active={}", server.active_requests());
  }
  server.stop();
  impl_->shared.reset();
  impl_->access_log.flush();
  if (impl_->alerter) impl_->alerter->stop(std::chrono::seconds(2));  // the last alerts go out
  return idle;
}

}  // namespace tollgate::app
