#include "tollgate/router/router.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "tollgate/core/redacted_url.hpp"
#include "tollgate/spend/price_table.hpp"

namespace tollgate::router {
namespace {

using std::chrono::milliseconds;
using config::ErrorClass;

constexpr std::size_t kMaxCandidates = 64;  // on the stack; larger groups use the heap
// The failure-rate rule: from this many attempts in the sliding minute on, a deployment is cooled
// down for its failure rate, not for a count of failures (a busy deployment always has some).
constexpr std::int64_t kBusyAttempts = 20;
constexpr double kBusyFailureRate = 0.5;
constexpr milliseconds kMaxBackoff{8'000};
constexpr milliseconds kFirstBackoff{500};

std::size_t idx(ErrorClass cls) { return static_cast<std::size_t>(cls); }

bool has_tag(const config::Deployment& d, std::string_view tag) {
  return std::find(d.tags.begin(), d.tags.end(), tag) != d.tags.end();
}

// Classes retried by default (the failure may not repeat on the next attempt).
bool retried_by_default(ErrorClass cls) {
  return cls == ErrorClass::kRateLimit || cls == ErrorClass::kTimeout || cls == ErrorClass::kServerError ||
         cls == ErrorClass::kConnection;
}

// Classes that cool a deployment down at the first failure by default: it cannot serve anyone.
bool cools_at_once(ErrorClass cls) {
  return cls == ErrorClass::kRateLimit || cls == ErrorClass::kAuthentication || cls == ErrorClass::kNotFound;
}

// retry_policy / allowed_fails_policy slot for a class: connection errors share
// InternalServerError's (LiteLLM has no separate name for them).
const std::optional<int>& policy_slot(const config::PerClass& policy, ErrorClass cls) {
  if (cls == ErrorClass::kConnection && !policy[idx(ErrorClass::kConnection)]) {
    return policy[idx(ErrorClass::kServerError)];
  }
  return policy[idx(cls)];
}

template <class Weight>
const Route* weighted(std::span<const Route* const> c, std::minstd_rand& rng, Weight weight_of) {
  double sum_set = 0;
  int n_set = 0;
  for (const Route* r : c) {
    if (auto w = weight_of(*r->deployment)) {
      sum_set += *w;
      ++n_set;
    }
  }
  if (n_set == 0) return nullptr;
  // Deployments without the field weigh as much as the average of those with it.
  const double fill = sum_set / n_set;
  double total = 0;
  for (const Route* r : c) total += weight_of(*r->deployment).value_or(fill);
  if (total <= 0) return nullptr;
  std::uniform_real_distribution<double> dist(0.0, total);
  double x = dist(rng);
  for (const Route* r : c) {
    x -= weight_of(*r->deployment).value_or(fill);
    if (x < 0) return r;
  }
  return c.back();
}

// Among candidates with the lowest score (within a relative tolerance), one at random. Scores
// are read once per candidate: they move under other threads' feet, and a second reading could
// leave no candidate at the minimum.
template <class Score>
const Route* lowest(std::span<const Route* const> c, std::minstd_rand& rng, Score score_of, double buffer = 0) {
  std::array<double, kMaxCandidates> stack{};
  std::vector<double> heap;
  double* scores = stack.data();
  if (c.size() > kMaxCandidates) {
    heap.resize(c.size());
    scores = heap.data();
  }
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < c.size(); ++i) {
    scores[i] = score_of(*c[i]);
    best = std::min(best, scores[i]);
  }
  const double limit = std::isinf(best) ? best : best * (1.0 + buffer) + 1e-12 * std::abs(best);
  const Route* chosen = c.front();
  int seen = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (scores[i] > limit) continue;
    // Reservoir sampling: each tied candidate equally likely, one pass.
    if (std::uniform_int_distribution<int>(0, seen++)(rng) == 0) chosen = c[i];
  }
  return chosen;
}

bool glob_match(std::string_view pattern, std::string_view text, std::string& star) {
  const auto pos = pattern.find('*');
  if (pos == std::string_view::npos) return false;
  const std::string_view prefix = pattern.substr(0, pos);
  const std::string_view suffix = pattern.substr(pos + 1);
  if (text.size() < prefix.size() + suffix.size()) return false;
  if (!text.starts_with(prefix) || !text.ends_with(suffix)) return false;
  star = std::string(text.substr(prefix.size(), text.size() - prefix.size() - suffix.size()));
  return !star.empty();
}

}  // namespace

Router::Router(const config::Config& config, const Router* previous) : settings_(config.router) {
  routes_.reserve(config.model_list.size());
  states_.reserve(config.model_list.size());
  for (std::size_t i = 0; i < config.model_list.size(); ++i) {
    const config::Deployment& d = config.model_list[i];
    Route route;
    route.index = i;
    route.deployment = &d;
    route.provider = providers::make_provider(d.provider);
    if (!d.mock_response) {
      auto url = http::Url::parse(d.api_base);
      if (!url) throw std::invalid_argument("deployment " + d.id + ": api_base is not a URL");
      route.base = *url;
      route.reported_base = redacted_url(d.api_base);
    }
    // Prices only matter to cost-based routing; the table is parsed once, on first need.
    if (settings_.strategy == config::RoutingStrategy::kCost) {
      route.cost_per_token = spend::per_token_cost(d, *spend::PriceTable::embedded());
    }
    std::shared_ptr<DeploymentState> state;
    if (previous) {
      if (auto it = previous->by_id_.find(d.id); it != previous->by_id_.end()) state = previous->states_[it->second];
    }
    if (!state) state = std::make_shared<DeploymentState>();
    route.state = state.get();
    routes_.push_back(std::move(route));
    states_.push_back(std::move(state));
    by_id_.try_emplace(d.id, i);
    auto [it, inserted] = by_name_.try_emplace(d.model_name, groups_.size());
    if (inserted) {
      groups_.push_back(Group{d.model_name, {}, d.model_name.find('*') != std::string::npos});
      if (groups_.back().wildcard) wildcards_.push_back(it->second);
    }
    groups_[it->second].members.push_back(i);
  }
  std::stable_sort(wildcards_.begin(), wildcards_.end(), [this](std::size_t a, std::size_t b) {
    return groups_[a].name.find('*') > groups_[b].name.find('*');
  });
}

std::optional<Target> Router::resolve(std::string_view model) const {
  std::string_view name = model;
  if (auto alias = settings_.model_group_alias.find(model); alias != settings_.model_group_alias.end()) {
    if (!by_name_.contains(model)) name = alias->second.model;
  }
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    const Group& g = groups_[it->second];
    if (!g.wildcard) return Target{&g, g.name, {}, nullptr};
  }
  if (auto id = by_id_.find(name); id != by_id_.end()) {
    const Route& r = routes_[id->second];
    const Group& g = groups_[by_name_.find(r.deployment->model_name)->second];
    return Target{&g, g.name, {}, &r};
  }
  std::string star;
  for (std::size_t gi : wildcards_) {
    const Group& g = groups_[gi];
    if (glob_match(g.name, name, star)) return Target{&g, std::string(name), std::move(star), nullptr};
  }
  return std::nullopt;
}

std::vector<std::string> Router::listed_models() const {
  std::vector<std::string> out;
  out.reserve(groups_.size() + settings_.model_group_alias.size());
  for (const Group& g : groups_) out.push_back(g.name);
  for (const auto& [alias, target] : settings_.model_group_alias) {
    if (!target.hidden && !by_name_.contains(alias)) out.push_back(alias);
  }
  return out;
}

std::optional<int> Router::parallel_limit(const Route& route) const {
  if (route.deployment->max_parallel_requests) return route.deployment->max_parallel_requests;
  return settings_.default_max_parallel_requests;
}

PickResult Router::pick(const Target& target, const PickInput& input, std::int64_t now_ms,
                        std::minstd_rand& rng) const {
  PickResult result;
  std::vector<const Route*> heap;
  std::array<const Route*, kMaxCandidates> stack{};
  const std::size_t n = target.pinned ? 1 : target.group->members.size();
  const Route** cand = stack.data();
  if (n > kMaxCandidates) {
    heap.resize(n);
    cand = heap.data();
  }
  std::size_t count = 0;
  auto member = [&](std::size_t i) -> const Route& {
    return target.pinned ? *target.pinned : routes_[target.group->members[i]];
  };

  // Tags: a tagged request goes to deployments carrying one of its tags; an untagged one to
  // deployments tagged "default" when there are any, else to all.
  bool tag_default = false;
  if (settings_.enable_tag_filtering && input.tags.empty()) {
    for (std::size_t i = 0; i < n && !tag_default; ++i) tag_default = has_tag(*member(i).deployment, "default");
  }
  std::int64_t soonest_ms = std::numeric_limits<std::int64_t>::max();
  bool any_tag_match = false;
  bool any_fits_context = false;
  bool too_big_for_tpm = false;  // some deployment can never take this prompt within its tpm
  const bool usage_limits = settings_.strategy == config::RoutingStrategy::kUsage;
  for (std::size_t i = 0; i < n; ++i) {
    const Route& r = member(i);
    const config::Deployment& d = *r.deployment;
    if (settings_.enable_tag_filtering) {
      bool ok = true;
      if (!input.tags.empty()) {
        ok = std::any_of(input.tags.begin(), input.tags.end(), [&](const std::string& t) { return has_tag(d, t); });
      } else if (tag_default) {
        ok = has_tag(d, "default");
      }
      if (!ok) continue;
    }
    any_tag_match = true;
    if (settings_.enable_pre_call_checks && d.max_input_tokens && input.estimated_prompt_tokens > *d.max_input_tokens) {
      continue;
    }
    any_fits_context = true;
    const DeploymentState& s = *r.state;
    const std::int64_t cool = s.cooldown_until_ms.load(std::memory_order_relaxed);
    if (cool > now_ms) {
      soonest_ms = std::min(soonest_ms, cool - now_ms);
      continue;
    }
    if (auto limit = parallel_limit(r)) {
      if (s.in_flight.load(std::memory_order_relaxed) + s.remote_in_flight.load(std::memory_order_relaxed) >= *limit) {
        soonest_ms = std::min<std::int64_t>(soonest_ms, 1000);
        continue;
      }
    }
    if (usage_limits && (d.rpm || d.tpm)) {
      std::lock_guard lock(s.mu);
      if (d.rpm && s.requests.sum(now_ms) + s.remote_requests.load(std::memory_order_relaxed) + 1 > *d.rpm) {
        const std::int64_t target_sum = *d.rpm - 1 - s.remote_requests.load(std::memory_order_relaxed);
        soonest_ms = std::min(soonest_ms, std::max<std::int64_t>(1000, s.requests.ms_until_at_most(now_ms, target_sum)));
        continue;
      }
      if (d.tpm && input.estimated_prompt_tokens > *d.tpm) {
        too_big_for_tpm = true;
        continue;
      }
      if (d.tpm &&
          s.tokens.sum(now_ms) + s.remote_tokens.load(std::memory_order_relaxed) + input.estimated_prompt_tokens > *d.tpm) {
        const std::int64_t target_sum =
            *d.tpm - input.estimated_prompt_tokens - s.remote_tokens.load(std::memory_order_relaxed);
        soonest_ms = std::min(soonest_ms, std::max<std::int64_t>(1000, s.tokens.ms_until_at_most(now_ms, target_sum)));
        continue;
      }
    }
    cand[count++] = &r;
  }

  if (count == 0) {
    if (!any_tag_match) {
      result.none.reason = "no deployment matches the request's tags";
      result.none.permanent = true;
    } else if (!any_fits_context) {
      result.none.reason = "the prompt is longer than every deployment's max_input_tokens";
      result.none.context_window = true;
    } else {
      result.none.reason = "all deployments are cooling down or at their limits";
      // Only deployments the prompt can never fit were left out: nothing to wait for.
      result.none.permanent = too_big_for_tpm && soonest_ms == std::numeric_limits<std::int64_t>::max();
    }
    if (soonest_ms == std::numeric_limits<std::int64_t>::max()) soonest_ms = 1000;
    result.none.retry_after = milliseconds(std::max<std::int64_t>(soonest_ms, 1));
    return result;
  }

  // A retry goes to a deployment this request has not failed on, when there is one.
  std::size_t fresh = count;
  if (!input.tried.empty()) {
    auto is_tried = [&](const Route* r) {
      return std::find(input.tried.begin(), input.tried.end(), r->index) != input.tried.end();
    };
    auto mid = std::stable_partition(cand, cand + count, [&](const Route* r) { return !is_tried(r); });
    fresh = static_cast<std::size_t>(mid - cand);
    if (fresh == 0) fresh = count;
  }
  std::span<const Route* const> pool(cand, fresh);
  // `order`: only the lowest order present competes; deployments without one come last.
  int best_order = std::numeric_limits<int>::max();
  for (const Route* r : pool) best_order = std::min(best_order, r->deployment->order.value_or(std::numeric_limits<int>::max()));
  std::size_t kept = 0;
  for (const Route* r : pool) {
    if (r->deployment->order.value_or(std::numeric_limits<int>::max()) == best_order) cand[kept++] = r;
  }
  result.route = choose(std::span<const Route* const>(cand, kept), input, now_ms, rng);
  return result;
}

const Route* Router::choose(std::span<const Route* const> c, const PickInput& input, std::int64_t now_ms,
                            std::minstd_rand& rng) const {
  if (c.size() == 1) return c.front();
  switch (settings_.strategy) {
    case config::RoutingStrategy::kSimpleShuffle: {
      if (auto r = weighted(c, rng, [](const config::Deployment& d) { return d.weight; })) return r;
      auto as_double = [](const std::optional<std::int64_t>& v) {
        return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
      };
      if (auto r = weighted(c, rng, [&](const config::Deployment& d) { return as_double(d.rpm); })) return r;
      if (auto r = weighted(c, rng, [&](const config::Deployment& d) { return as_double(d.tpm); })) return r;
      return c[std::uniform_int_distribution<std::size_t>(0, c.size() - 1)(rng)];
    }
    case config::RoutingStrategy::kLeastBusy:
      return lowest(c, rng, [](const Route& r) {
        const DeploymentState& s = *r.state;
        return static_cast<double>(s.in_flight.load(std::memory_order_relaxed) +
                                   s.remote_in_flight.load(std::memory_order_relaxed));
      });
    case config::RoutingStrategy::kLatency:
      // Unseen deployments first: a deployment nobody measured is explored before the known ones.
      return lowest(
          c, rng,
          [&](const Route& r) {
            const DeploymentState& s = *r.state;
            std::lock_guard lock(s.mu);
            const double m = input.stream ? s.time_to_first_token.mean(now_ms) : s.latency_per_token.mean(now_ms);
            return m < 0 ? 0.0 : m + 1e-9;
          },
          settings_.lowest_latency_buffer);
    case config::RoutingStrategy::kCost:
      return lowest(c, rng, [](const Route& r) {
        return r.cost_per_token.value_or(std::numeric_limits<double>::infinity());
      });
    case config::RoutingStrategy::kUsage:
      return lowest(c, rng, [&](const Route& r) {
        const DeploymentState& s = *r.state;
        std::lock_guard lock(s.mu);
        return static_cast<double>(s.tokens.sum(now_ms) + s.remote_tokens.load(std::memory_order_relaxed));
      });
  }
  return c.front();
}

bool Router::claim(const Route& route, std::int64_t estimated_tokens, std::int64_t now_ms) const {
  DeploymentState& s = *route.state;
  const config::Deployment& d = *route.deployment;
  if (auto limit = parallel_limit(route)) {
    // Claim the slot first, give it back if that went over: no lock, never over the limit.
    const std::int32_t mine = s.in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
    if (mine + s.remote_in_flight.load(std::memory_order_relaxed) > *limit) {
      s.in_flight.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
  } else {
    s.in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  std::lock_guard lock(s.mu);
  if (settings_.strategy == config::RoutingStrategy::kUsage) {
    const bool over_rpm =
        d.rpm && s.requests.sum(now_ms) + s.remote_requests.load(std::memory_order_relaxed) + 1 > *d.rpm;
    const bool over_tpm = d.tpm && s.tokens.sum(now_ms) + s.remote_tokens.load(std::memory_order_relaxed) +
                                           estimated_tokens > *d.tpm;
    if (over_rpm || over_tpm) {
      s.in_flight.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
  }
  s.requests.add(now_ms, 1);
  s.tokens.add(now_ms, estimated_tokens);
  s.unsynced_requests.fetch_add(1, std::memory_order_relaxed);
  s.unsynced_tokens.fetch_add(estimated_tokens, std::memory_order_relaxed);
  return true;
}

void Router::unclaim(const Route& route, std::int64_t estimated_tokens, std::int64_t now_ms) const {
  DeploymentState& s = *route.state;
  s.in_flight.fetch_sub(1, std::memory_order_relaxed);
  s.unsynced_requests.fetch_sub(1, std::memory_order_relaxed);
  s.unsynced_tokens.fetch_sub(estimated_tokens, std::memory_order_relaxed);
  std::lock_guard lock(s.mu);
  s.requests.add(now_ms, -1);
  s.tokens.add(now_ms, -estimated_tokens);
}

void Router::release(const Route& route, std::int64_t estimated_tokens, std::int64_t actual_tokens,
                     std::int64_t claimed_ms, std::int64_t now_ms) const {
  DeploymentState& s = *route.state;
  s.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (actual_tokens != estimated_tokens) {
    s.unsynced_tokens.fetch_add(actual_tokens - estimated_tokens, std::memory_order_relaxed);
    std::lock_guard lock(s.mu);
    s.tokens.add_at(claimed_ms, now_ms, actual_tokens - estimated_tokens);
  }
}

void Router::record_success(const Route& route, bool stream, double latency_s, double ttft_s,
                            std::int64_t completion_tokens, std::int64_t now_ms) const {
  DeploymentState& s = *route.state;
  std::lock_guard lock(s.mu);
  s.attempts.add(now_ms, 1);
  if (stream) {
    s.time_to_first_token.add(now_ms, ttft_s);
  } else {
    s.latency_per_token.add(now_ms, latency_s / static_cast<double>(std::max<std::int64_t>(1, completion_tokens)));
  }
}

std::optional<milliseconds> Router::record_failure(const Route& route, ErrorClass cls,
                                                   std::optional<milliseconds> retry_after,
                                                   milliseconds timeout_used, std::int64_t now_ms) const {
  if (is_client_fault(cls)) return std::nullopt;  // the caller's request, not the deployment
  DeploymentState& s = *route.state;
  std::lock_guard lock(s.mu);
  s.attempts.add(now_ms, 1);
  s.failures.add(now_ms, 1);
  s.failures_by_class[idx(cls)].add(now_ms, 1);
  if (cls == ErrorClass::kTimeout) {
    // A timeout is a latency sample as bad as the time it wasted, so latency routing avoids it.
    const double penalty = std::chrono::duration<double>(timeout_used).count();
    s.latency_per_token.add(now_ms, penalty);
    s.time_to_first_token.add(now_ms, penalty);
  }
  if (settings_.disable_cooldowns) return std::nullopt;

  bool cool = false;
  if (const auto& allowed = policy_slot(settings_.allowed_fails_policy, cls)) {
    cool = s.failures_by_class[idx(cls)].sum(now_ms) > *allowed;
  } else if (cools_at_once(cls)) {
    cool = true;
  } else {
    const std::int64_t attempts = s.attempts.sum(now_ms);
    const std::int64_t failures = s.failures.sum(now_ms);
    if (attempts >= kBusyAttempts) {
      cool = static_cast<double>(failures) >= kBusyFailureRate * static_cast<double>(attempts);
    } else {
      cool = failures > settings_.allowed_fails;
    }
  }
  if (!cool) return std::nullopt;
  milliseconds length = settings_.cooldown_time;
  if (route.deployment->cooldown_time) {
    length = *route.deployment->cooldown_time;
  } else if (retry_after && *retry_after > milliseconds(0)) {
    length = *retry_after;
  }
  if (length <= milliseconds(0)) return std::nullopt;
  const std::int64_t until = now_ms + length.count();
  std::int64_t prev = s.cooldown_until_ms.load(std::memory_order_relaxed);
  while (prev < until && !s.cooldown_until_ms.compare_exchange_weak(prev, until, std::memory_order_relaxed)) {
  }
  // A fresh start after the cooldown: old failures do not count twice.
  s.failures.clear();
  s.attempts.clear();
  for (auto& w : s.failures_by_class) w.clear();
  return length;
}

int Router::health(const Route& route, std::int64_t now_ms) const {
  const DeploymentState& s = *route.state;
  if (s.cooldown_until_ms.load(std::memory_order_relaxed) > now_ms) return 2;
  std::lock_guard lock(s.mu);
  return s.failures.sum(now_ms) > 0 ? 1 : 0;
}

int Router::max_retries(std::optional<int> request_num_retries) const {
  return request_num_retries.value_or(settings_.num_retries);
}

int Router::retries_for(ErrorClass cls, const Route& route, std::optional<int> request_num_retries) const {
  const std::optional<int>& policy = policy_slot(settings_.retry_policy, cls);
  if (!retried_by_default(cls)) return policy.value_or(0);
  if (request_num_retries) return *request_num_retries;
  if (policy) return *policy;
  return route.deployment->num_retries.value_or(settings_.num_retries);
}

std::vector<std::string> Router::fallbacks_for(const Target& target, ErrorClass cls,
                                               const std::vector<std::string>* request_fallbacks,
                                               bool pre_call) const {
  const std::string_view group = target.name;
  auto from = [&](const config::FallbackMap& map) -> const std::vector<std::string>* {
    auto it = map.find(group);
    if (it == map.end() && target.group != nullptr) it = map.find(target.group->name);
    if (it == map.end()) it = map.find("*");
    return it == map.end() ? nullptr : &it->second;
  };
  // The general list: the body's, else the group's `fallbacks`, else `default_fallbacks`.
  const std::vector<std::string>* general = request_fallbacks ? request_fallbacks : from(settings_.fallbacks);
  if (general == nullptr && !settings_.default_fallbacks.empty()) general = &settings_.default_fallbacks;
  const std::vector<std::string>* list = nullptr;
  switch (cls) {
    case ErrorClass::kBadRequest: return {};
    case ErrorClass::kContentPolicy: list = from(settings_.content_policy_fallbacks); break;
    case ErrorClass::kContextWindow:
      list = from(settings_.context_window_fallbacks);
      if (list == nullptr && !pre_call) list = general;
      break;
    default: list = general;
  }
  if (list == nullptr) return {};
  std::vector<std::string> out;
  for (const auto& name : *list) {
    if (name == group) continue;
    if (static_cast<int>(out.size()) >= settings_.max_fallbacks) break;
    out.push_back(name);
  }
  return out;
}

milliseconds Router::backoff(int retry, std::optional<milliseconds> retry_after, std::minstd_rand& rng) const {
  const int shift = std::clamp(retry - 1, 0, 10);
  milliseconds base = std::min(kMaxBackoff, kFirstBackoff * (1 << shift));
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  auto wait = milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * jitter(rng)));
  wait = std::max(wait, settings_.retry_after);
  if (retry_after) wait = std::max(wait, *retry_after);
  return wait;
}

}  // namespace tollgate::router
