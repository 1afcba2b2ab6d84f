#pragma once
// The router: resolves the model a request names to a group of deployments, picks one by the
// configured strategy among those that are healthy and within their limits, and holds the rules
// for retries, fallbacks and cooldowns. The order in which one request applies them (attempt,
// wait, retry, fall back, give up) is the AttemptPlan's (attempt_plan.hpp), which the proxy drives;
// both take time as a value so they are tested without HTTP. Exact rules: docs/routing.md.
//
// Thread safety: a Router is immutable after construction except for the DeploymentStates it
// owns (see deployment_state.hpp), and is shared by all workers. pick() takes the caller's
// per-thread generator.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tollgate/api/api_error.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/providers/provider.hpp"
#include "tollgate/router/deployment_state.hpp"
#include "tollgate/router/error_class.hpp"

namespace tollgate::router {

/// Transparent hashing: looking up a request's model name allocates nothing.
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct Route {
  std::size_t index = 0;                            // position in the config's model_list
  const config::Deployment* deployment = nullptr;   // owned by the config snapshot
  std::shared_ptr<const providers::Provider> provider;
  http::Url base;                                   // parsed api_base (unset for mock deployments)
  std::string reported_base;                        // api_base without credentials, for x-litellm-model-api-base ("" for mocks)
  std::optional<double> cost_per_token;             // input + output USD, for cost-based routing
  DeploymentState* state = nullptr;                 // shared with later routers of the same deployment id
};

struct Group {
  std::string name;
  std::vector<std::size_t> members;                 // indices into Router::routes()
  bool wildcard = false;                            // name contains '*'
};

/// What a request resolved to.
struct Target {
  const Group* group = nullptr;
  std::string name;                  // the group name (an alias resolves to its group's name)
  std::string wildcard_match;        // for a wildcard group: the text the '*' stood for
  const Route* pinned = nullptr;     // the request named a deployment id
};

/// What pick() needs from the request.
struct PickInput {
  std::span<const std::string> tags;           // request tags (used with enable_tag_filtering)
  std::int64_t estimated_prompt_tokens = 0;
  bool stream = false;
  std::span<const std::size_t> tried;          // deployments this request already failed on
};

struct NoDeployment {
  std::chrono::milliseconds retry_after{1000};  // soonest a deployment may be available again
  std::string reason;                           // for the error message
  bool context_window = false;                  // every deployment was too small for the prompt
  bool permanent = false;                       // waiting cannot help (no tag matches, prompt over tpm)
};

struct PickResult {
  const Route* route = nullptr;                 // set on success
  NoDeployment none;                            // otherwise
};

class Router {
 public:
  /// `config` must outlive the router. Throws std::invalid_argument for a deployment whose
  /// api_base does not parse (the loader has validated it, so this is a bug guard).
  /// `previous` (a config reload): deployments whose id it also has keep its DeploymentState, so
  /// cooldowns, windows, latencies and in-flight counts carry over, and requests still running on
  /// the old router release what they claimed on the same state.
  explicit Router(const config::Config& config, const Router* previous = nullptr);

  const config::RouterSettings& settings() const { return settings_; }
  const std::vector<Route>& routes() const { return routes_; }
  DeploymentState& state(const Route& route) const { return *route.state; }
  DeploymentState& state(std::size_t index) const { return *states_[index]; }

  /// Name -> group: exact group name, then model_group_alias, then a deployment id, then the
  /// wildcard group with the longest literal prefix that matches.
  std::optional<Target> resolve(std::string_view model) const;
  /// Names /v1/models lists: groups in config order, then visible aliases.
  std::vector<std::string> listed_models() const;
  bool knows(std::string_view model) const { return resolve(model).has_value(); }

  /// A deployment of `target` for this request, or why there is none.
  PickResult pick(const Target& target, const PickInput& input, std::int64_t now_ms, std::minstd_rand& rng) const;

  /// Claims the request's place before the call: one request and the estimated tokens against
  /// the sliding minute, one in-flight slot. False (nothing claimed) when the deployment is at
  /// its rpm / tpm / max_parallel_requests limit by now (another worker got there first).
  bool claim(const Route& route, std::int64_t estimated_tokens, std::int64_t now_ms) const;
  /// Undoes a claim() whose call never started (admission refused elsewhere).
  void unclaim(const Route& route, std::int64_t estimated_tokens, std::int64_t now_ms) const;
  /// Releases the in-flight slot and replaces the token estimate claimed at `claimed_ms` with the
  /// real count (in the claim's own second, so the window never runs below the truth).
  void release(const Route& route, std::int64_t estimated_tokens, std::int64_t actual_tokens,
               std::int64_t claimed_ms, std::int64_t now_ms) const;

  /// Records a successful attempt: latency per output token (or time to first token for streams).
  void record_success(const Route& route, bool stream, double latency_s, double ttft_s,
                      std::int64_t completion_tokens, std::int64_t now_ms) const;
  /// Records a failed attempt; returns the cooldown length when this failure started one.
  std::optional<std::chrono::milliseconds> record_failure(const Route& route, ErrorClass cls,
                                                          std::optional<std::chrono::milliseconds> retry_after,
                                                          std::chrono::milliseconds timeout_used,
                                                          std::int64_t now_ms) const;
  /// 0 healthy, 1 recent failures, 2 cooling down (LiteLLM's litellm_deployment_state values).
  int health(const Route& route, std::int64_t now_ms) const;

  /// Retries after a failure of class `cls` in a group (the first attempt not counted).
  int retries_for(ErrorClass cls, const Route& route, std::optional<int> request_num_retries) const;
  /// num_retries in effect for a request (x-litellm-max-retries).
  int max_retries(std::optional<int> request_num_retries) const;
  /// Groups to fall back to after `target`'s group failed with `cls`, in order. Lists are looked
  /// up by the requested name, then (wildcard groups) by the group's own name, then "*".
  /// `request_fallbacks` (the body's `fallbacks`, when given) replaces the configured general
  /// fallbacks. `pre_call`: the prompt was too long for every deployment before any call
  /// (context-window fallbacks only).
  std::vector<std::string> fallbacks_for(const Target& target, ErrorClass cls,
                                         const std::vector<std::string>* request_fallbacks,
                                         bool pre_call = false) const;
  /// Wait before retry number `retry` (1-based) when no other deployment is available.
  std::chrono::milliseconds backoff(int retry, std::optional<std::chrono::milliseconds> retry_after,
                                    std::minstd_rand& rng) const;

 private:
  template <class V>
  using NameMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

  std::optional<int> parallel_limit(const Route& route) const;
  const Route* choose(std::span<const Route* const> candidates, const PickInput& input, std::int64_t now_ms,
                      std::minstd_rand& rng) const;

  config::RouterSettings settings_;
  std::vector<Route> routes_;
  std::vector<std::shared_ptr<DeploymentState>> states_;  // by route index; shared across reloads
  std::vector<Group> groups_;                    // config order; wildcard groups included
  NameMap<std::size_t> by_name_;                 // group name -> index in groups_
  NameMap<std::size_t> by_id_;                   // deployment id -> route index
  std::vector<std::size_t> wildcards_;           // wildcard group indices, longest prefix first
};

}  // namespace tollgate::router
