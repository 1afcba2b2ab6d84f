#pragma once
// One version of the configuration as requests use it (Snapshot), and the holder through which a
// reload publishes the next version (SnapshotHolder). See docs/deployment.md ("Reloading the
// config") for what a reload may change and docs/request-lifecycle.md for when a request picks
// its version.
//
// A request takes the current snapshot once, when it arrives, and keeps it (a shared_ptr) until
// its last byte: a reload never changes the rules under a request already running, and the old
// snapshot is freed when its last request ends. Deployment states (cooldowns, windows, in-flight
// counts) are shared between versions by deployment id (router::Router's `previous`).
//
// Thread safety: a Snapshot is immutable once built. SnapshotHolder::publish() may be called from
// any thread; readers check version() (one atomic load) on each request and take current() (a
// mutex) only when it changed.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tollgate/auth/authenticator.hpp"
#include "tollgate/auth/master_key.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/config/reload.hpp"
#include "tollgate/metrics/metrics.hpp"
#include "tollgate/proxy/control_access.hpp"
#include "tollgate/router/router.hpp"
#include "tollgate/spend/price_book.hpp"

namespace tollgate::alerting {
class Alerter;
}

namespace tollgate::proxy {

/// Everything a request needs from the configuration, built once per config version.
struct Snapshot {
  /// `control` (null without a master key) and `alerter` (null without alerting) must outlive the
  /// snapshot. `previous`: the version this one replaces (its deployment states carry over).
  Snapshot(std::shared_ptr<const config::Config> cfg, metrics::Metrics& m, ControlAccess* control = nullptr,
           alerting::Alerter* alerter = nullptr, const Snapshot* previous = nullptr);
  std::shared_ptr<const config::Config> config;
  router::Router router;
  auth::MasterKey master_key;
  auth::Authenticator authenticator;  // keys checked when a control plane is configured
  spend::PriceBook prices;            // every deployment's price; the reservation estimates
  ControlAccess* control;             // null without a master key (no keys, limits or spend logs)
  metrics::Metrics& metrics;
  alerting::Alerter* alerter;  // null without alerting configured
  std::vector<metrics::DeploymentMetrics*> deployment_metrics;  // by route index
  /// Where settled requests' spend events go; null without a control plane (no database).
  spend::SpendSink* spend_sink() const { return control ? &control->spend() : nullptr; }
  /// The handle for a model group or alias of this config; "other" for anything else.
  metrics::RequestedModelMetrics& model_metrics(std::string_view name) const;

 private:
  std::unordered_map<std::string, metrics::RequestedModelMetrics*, router::NameHash, std::equal_to<>> model_metrics_;
  metrics::RequestedModelMetrics* other_metrics_;
};

/// The snapshot in effect, and its version number (1 for the config the process started with).
class SnapshotHolder {
 public:
  explicit SnapshotHolder(std::shared_ptr<const Snapshot> first) : current_(std::move(first)) {}
  SnapshotHolder(const SnapshotHolder&) = delete;
  SnapshotHolder& operator=(const SnapshotHolder&) = delete;

  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::shared_ptr<const Snapshot> current() const {
    const std::lock_guard lock(mu_);
    return current_;
  }
  /// Makes `next` current; requests that arrive from now on use it. Returns its version.
  std::uint64_t publish(std::shared_ptr<const Snapshot> next) {
    const std::lock_guard lock(mu_);
    current_ = std::move(next);
    return version_.fetch_add(1, std::memory_order_acq_rel) + 1;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::uint64_t> version_{1};
};

}  // namespace tollgate::proxy
