// DeploymentMetrics and RequestedModelMetrics: series resolved once, then atomic updates.
#include <string>

#include "metrics/families.hpp"
#include "tollgate/core/redacted_url.hpp"
#include "tollgate/metrics/metrics.hpp"

namespace tollgate::metrics {
namespace {

using config::ErrorClass;

static_assert(static_cast<std::size_t>(ErrorClass::kConnection) + 1 == config::kErrorClassCount,
              "config::exception_class_name() and the per-class arrays cover every ErrorClass");

// HTTP statuses 100..599 as themselves, anything else in one bucket.
constexpr std::size_t kOutOfRangeStatus = 500;
std::size_t status_slot(int status) {
  return status >= 100 && status <= 599 ? static_cast<std::size_t>(status - 100) : kOutOfRangeStatus;
}
std::string status_label(int status) {
  return status_slot(status) == kOutOfRangeStatus ? std::string("other") : std::to_string(status);
}

std::size_t index(ErrorClass c) { return static_cast<std::size_t>(c); }

}  // namespace


// ---- DeploymentMetrics ---------------------------------------------------------------------

DeploymentMetrics::DeploymentMetrics(Families& f, const config::Deployment& d)
    : cooled_down_(&f.deployment_cooled_down),
      model_(d.model),
      id_(d.id),
      api_base_(redacted_url(d.api_base)),
      provider_(d.provider) {
  // LiteLLM's label sets: the deployment's four, plus requested_model on the per-call counters,
  // and `model` (not litellm_model_name) on the API latency histograms.
  const prometheus::Labels llm = {
      {"litellm_model_name", model_}, {"model_id", id_}, {"api_base", api_base_}, {"api_provider", provider_}};
  prometheus::Labels call = llm;
  call.emplace("requested_model", d.model_name);
  const prometheus::Labels api = {{"model", model_}, {"model_id", id_}, {"requested_model", d.model_name}};

  success_ = &f.deployment_success.Add(call);
  total_ = &f.deployment_total.Add(call);
  for (std::size_t i = 0; i < failure_.size(); ++i) {
    prometheus::Labels labels = call;
    labels.emplace("exception_class", config::exception_class_name(static_cast<ErrorClass>(i)));
    failure_[i] = &f.deployment_failure.Add(labels);
  }
  api_latency_ = &f.llm_api_latency.Add(api, latency_buckets());
  ttft_ = &f.time_to_first_token.Add(api, latency_buckets());
  per_output_token_ = &f.latency_per_output_token.Add(llm, per_token_buckets());
  state_ = &f.deployment_state.Add(llm);
}

void DeploymentMetrics::success(Seconds api_latency, std::uint64_t output_tokens) {
  success_->Increment();
  total_->Increment();
  api_latency_->Observe(api_latency.count());
  if (output_tokens > 0) per_output_token_->Observe(api_latency.count() / static_cast<double>(output_tokens));
}

void DeploymentMetrics::failure(ErrorClass c) {
  failure_[index(c)]->Increment();
  total_->Increment();
}

void DeploymentMetrics::time_to_first_token(Seconds ttft) { ttft_->Observe(ttft.count()); }

void DeploymentMetrics::cooled_down(int status) {
  cooled_down_
      ->Add({{"litellm_model_name", model_},
             {"model_id", id_},
             {"api_base", api_base_},
             {"api_provider", provider_},
             {"exception_status", status_label(status)}})
      .Increment();
}

void DeploymentMetrics::set_state(DeploymentState s) { state_->Set(static_cast<double>(s)); }

// ---- RequestedModelMetrics -----------------------------------------------------------------

RequestedModelMetrics::RequestedModelMetrics(Families& f, std::string name)
    : families_(f), name_(std::move(name)) {
  const prometheus::Labels model = {{"requested_model", name_}};
  const prometheus::Labels group = {{"model_group", name_}};
  for (std::size_t i = 0; i < failed_.size(); ++i) {
    failed_[i] = &f.proxy_failed_requests.Add(
        {{"requested_model", name_}, {"exception_class", std::string(config::exception_class_name(static_cast<ErrorClass>(i)))}});
  }
  total_latency_ = &f.request_total_latency.Add(model, latency_buckets());
  overhead_ = &f.overhead_latency.Add(model, overhead_buckets());
  retries_ = &f.router_retries.Add(group);
  no_deployment_ = &f.router_no_deployment.Add(group);
  fallbacks_denied_ = &f.router_fallbacks_denied.Add(group);
}

void RequestedModelMetrics::request(int status_code) {
  auto& slot = by_status_[status_slot(status_code)];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    // Family::Add returns the existing series for the same labels, so two threads racing here
    // store the same pointer.
    c = &families_.proxy_total_requests.Add({{"requested_model", name_}, {"status_code", status_label(status_code)}});
    slot.store(c, std::memory_order_release);
  }
  c->Increment();
}

void RequestedModelMetrics::failed(ErrorClass c) { failed_[index(c)]->Increment(); }

void RequestedModelMetrics::latency(Seconds total, Seconds overhead) {
  total_latency_->Observe(total.count());
  overhead_->Observe(overhead.count());
}

void RequestedModelMetrics::retry() { retries_->Increment(); }

void RequestedModelMetrics::no_deployment() { no_deployment_->Increment(); }

void RequestedModelMetrics::fallback_denied() { fallbacks_denied_->Increment(); }

void RequestedModelMetrics::fallback(std::string_view fallback_model, bool succeeded) {
  CounterFamily& family = succeeded ? families_.successful_fallbacks : families_.failed_fallbacks;
  family.Add({{"requested_model", name_}, {"fallback_model", families_.bounded_model(fallback_model)}}).Increment();
}

}  // namespace tollgate::metrics
