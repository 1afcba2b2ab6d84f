#pragma once
// Module-private to proxy/: the access-and-admission stage. Model access (the key's and team's
// model lists, aliases applied), the max_tokens bound of the decided group, and the rate limits
// and budgets the request falls under (limits::admit_request), with the soft-budget alerts.
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "proxy/request_context.hpp"
#include "proxy/worker.hpp"
#include "tollgate/api/api_error.hpp"
#include "tollgate/auth/model_access.hpp"
#include "tollgate/router/router.hpp"

namespace tollgate::proxy {

/// The model name `principal` may route for `requested` (aliases applied), or the 401 to answer.
api::ApiResult<std::string> check_access(const auth::Principal& principal, std::string_view requested,
                                         const auth::ModelCatalog& catalog);

/// A max_tokens above what every deployment of `group` can produce, refused before anything is
/// charged (as OpenAI refuses it) rather than reserved against the caller's budget.
std::optional<api::ApiError> check_max_tokens(const spend::PriceBook& prices, const router::Target& group,
                                              const api::RequestFields& fields);

/// Prompt size before the call: about four bytes of JSON text per token. Used for tpm claims and
/// pre-call context checks; the real count replaces it when the answer reports usage.
inline std::int64_t estimate_prompt_tokens(const api::RequestFields& fields) {
  return static_cast<std::int64_t>(fields.prompt_bytes / 4) + 1;
}

/// Charges the request's rate limits and budgets for `group` (no-op without a limiter or with
/// nothing to limit); on admission the charge is held in `ctx.cost.limit` until it settles.
boost::asio::awaitable<std::optional<api::ApiError>> admit_limits(Worker& worker, const auth::Principal& principal,
                                                                  const api::RequestFields& fields,
                                                                  const router::Target& group, std::int64_t estimate,
                                                                  RequestContext& ctx);

}  // namespace tollgate::proxy
