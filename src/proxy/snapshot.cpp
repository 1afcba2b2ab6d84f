// One config version as requests use it (snapshot.hpp).
#include "tollgate/proxy/snapshot.hpp"

namespace tollgate::proxy {

Snapshot::Snapshot(std::shared_ptr<const config::Config> cfg, metrics::Metrics& m, ControlAccess* control_access,
                   alerting::Alerter* alerts, const Snapshot* previous)
    : config(std::move(cfg)),
      router(*config, previous ? &previous->router : nullptr),
      master_key(config->master_key),
      authenticator(*config, control_access ? &control_access->keys() : nullptr),
      prices(*config),
      control(control_access),
      metrics(m),
      alerter(alerts) {
  deployment_metrics.reserve(config->model_list.size());
  for (const auto& d : config->model_list) deployment_metrics.push_back(&metrics.deployment(d));
  for (const auto& name : router.listed_models()) model_metrics_.try_emplace(name, &metrics.requested_model(name));
  other_metrics_ = &metrics.requested_model(metrics::kOtherModel);
}

metrics::RequestedModelMetrics& Snapshot::model_metrics(std::string_view name) const {
  auto it = model_metrics_.find(name);
  return it == model_metrics_.end() ? *other_metrics_ : *it->second;
}

}  // namespace tollgate::proxy
