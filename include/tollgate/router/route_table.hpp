#pragma once
// Model groups: the deployments that answer for a `model_name`, each with its provider adapter
// and parsed base URL. Built once per config snapshot and immutable afterwards.
//
// Strategy for now: uniform random pick within a group (the router issue adds strategies,
// retries, fallbacks and cooldowns).
//
// Thread safety: immutable after construction; pick() takes the caller's per-thread generator.
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::router {

struct Route {
  const config::Deployment* deployment = nullptr;   // owned by the config snapshot
  std::shared_ptr<const providers::Provider> provider;
  http::Url base;                                   // parsed api_base (unset for mock deployments)
};

class RouteTable {
 public:
  /// `config` must outlive the table. Throws std::invalid_argument for a deployment whose
  /// api_base does not parse (the loader has validated it, so this is a bug guard).
  explicit RouteTable(const config::Config& config);

  /// The group's deployments, or nullptr when no group has that name.
  const std::vector<Route>* group(std::string_view model_name) const;
  /// Group names in config order.
  const std::vector<std::string>& group_names() const { return names_; }

  /// A uniformly random deployment of a non-empty group.
  static const Route& pick(const std::vector<Route>& group, std::minstd_rand& rng);

 private:
  // Transparent hashing: looking up a request's model name allocates nothing.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<Route>, NameHash, std::equal_to<>> groups_;
  std::vector<std::string> names_;
};

}  // namespace tollgate::router
