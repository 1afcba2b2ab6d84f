#include "tollgate/router/route_table.hpp"

#include <stdexcept>

namespace tollgate::router {

RouteTable::RouteTable(const config::Config& config) {
  for (const auto& d : config.model_list) {
    Route route;
    route.deployment = &d;
    route.provider = providers::make_provider(d.provider);
    if (!d.mock_response) {
      auto url = http::Url::parse(d.api_base);
      if (!url) throw std::invalid_argument("deployment " + d.id + ": api_base is not a URL");
      route.base = *url;
    }
    auto [it, inserted] = groups_.try_emplace(d.model_name);
    if (inserted) names_.push_back(d.model_name);
    it->second.push_back(std::move(route));
  }
}

const std::vector<Route>* RouteTable::group(std::string_view model_name) const {
  auto it = groups_.find(model_name);
  return it == groups_.end() ? nullptr : &it->second;
}

const Route& RouteTable::pick(const std::vector<Route>& group, std::minstd_rand& rng) {
  if (group.size() == 1) return group.front();
  std::uniform_int_distribution<std::size_t> dist(0, group.size() - 1);
  return group[dist(rng)];
}

}  // namespace tollgate::router
