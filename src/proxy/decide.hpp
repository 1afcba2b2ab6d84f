#pragma once
// Module-private to proxy/: the decide stage — which model group answers a request. Today the
// group the request names (after aliases and wildcards); cost-quality routing fills this stage.
#include <string_view>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/router/router.hpp"

namespace tollgate::proxy {

/// The group for `model` (the name model access allowed), or the 400 naming the models there are.
api::ApiResult<router::Target> decide(const router::Router& router, std::string_view model,
                                      std::string_view requested);

}  // namespace tollgate::proxy
