#pragma once
// Module-private to proxy/: what the stages of one worker share (one per ProxyHandler, so one
// per io thread; nothing here is touched from another thread).
#include <memory>
#include <random>
#include <string>

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include "tollgate/core/clock.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/limits/limiter.hpp"
#include "tollgate/proxy/access_log.hpp"
#include "tollgate/proxy/hooks.hpp"
#include "tollgate/proxy/snapshot.hpp"
#include "tollgate/router/shared_state.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::proxy {

namespace asio = boost::asio;

struct Worker {
  Worker(unsigned worker_index, const SnapshotHolder& holder, asio::io_context& io_context, asio::ssl::context& tls,
         AccessLog& log_sink, std::shared_ptr<spdlog::logger> logger, const tollgate::Clock& time,
         router::SharedState* shared_state, config::ReloadFn reload_fn, Hooks installed)
      : index(worker_index),
        snapshots(holder),
        io(io_context),
        upstream(io_context, tls, holder.current()->config->upstream),
        access_log(log_sink),
        log(std::move(logger)),
        clock(time),
        shared(shared_state),
        reload(std::move(reload_fn)),
        hooks(installed),
        rng(std::random_device{}()),
        id_rng(std::random_device{}()) {}

  /// A version-7 UUID (RFC 9562) for a new request.
  std::string new_request_id();

  unsigned index;
  const SnapshotHolder& snapshots;
  asio::io_context& io;
  http::UpstreamClient upstream;
  AccessLog& access_log;
  std::shared_ptr<spdlog::logger> log;
  const tollgate::Clock& clock;
  router::SharedState* shared;                    // null without Redis
  std::unique_ptr<store::RedisConnection> redis;  // this worker's, for limits (with Redis configured)
  std::unique_ptr<limits::Limiter> limiter;       // null without a control plane
  config::ReloadFn reload;                        // empty: started without a config file
  Hooks hooks;
  std::minstd_rand rng;
  std::mt19937_64 id_rng;
};

}  // namespace tollgate::proxy
