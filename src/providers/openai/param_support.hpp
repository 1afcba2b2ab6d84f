#pragma once
// Which OpenAI parameters the OpenAI-compatible vendors refuse, for `drop_params` (LiteLLM's
// UnsupportedParamsError without it; the parameters removed from the upstream body with it).
//
// The table is small on purpose: only what a vendor's own API reference says it rejects with an
// error (docs/providers.md, "OpenAI-compatible providers"). Parameters a vendor accepts and
// ignores are not in it.
//
// Thread safety: pure functions. The returned views point into the table or into `top`.
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/json_scan.hpp"

namespace tollgate::providers {

/// The top-level members of a request (`top`) that `provider` refuses for `model`, in the
/// table's order. A member whose value is `null` counts as absent.
std::vector<std::string_view> rejected_params(std::string_view provider, std::string_view model,
                                              const api::ScannedObject& top);

/// LiteLLM's UnsupportedParamsError as a 400: names the provider, the parameters, the model and
/// how to set drop_params.
api::ApiError unsupported_params_error(std::string_view provider, std::string_view model,
                                       const std::vector<std::string_view>& params);

}  // namespace tollgate::providers
