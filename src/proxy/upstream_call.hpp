#pragma once
// Module-private to proxy/: the upstream-call stage — one attempt on one deployment. Fetches the
// deployment's token when its vendor needs one, builds the request (in the client's own dialect
// when the front end and vendor share it, else from the internal request), sends it, and either
// answers the client (a whole answer rendered by the front end, or the stream relayed through
// relay.cpp) or reports why it failed; the vendor's provider classifies its own errors.
// Mock deployments and mock_response answer here too, with no upstream call.
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "proxy/request_context.hpp"
#include "proxy/worker.hpp"
#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/router/attempt_plan.hpp"
#include "tollgate/router/router.hpp"

namespace tollgate::proxy {

/// How one attempt ended.
struct AttemptResult {
  bool answered = false;               // the client got its response (success or a stream)
  std::optional<api::ApiError> error;  // the attempt failed with this; nothing was sent yet
  router::ErrorClass cls = router::ErrorClass::kServerError;
  std::optional<std::chrono::milliseconds> retry_after;
};

class UpstreamCall {
 public:
  /// All must outlive the call. `request`: the internal request the attempts send.
  UpstreamCall(Worker& worker, http::Exchange& ex, RequestContext& ctx, const api::ParsedRequest& request)
      : worker_(worker), ex_(ex), ctx_(ctx), request_(request) {}

  /// One attempt on `route` of `target` (the group being tried) within `timeout`.
  boost::asio::awaitable<AttemptResult> attempt(const router::Route& route, const router::Target& target,
                                                const router::AttemptTimeout& timeout);

 private:
  // Sends the provider's token request and hands the answer to Provider::accept_token; an error
  // is the attempt's authentication failure.
  boost::asio::awaitable<std::optional<api::ApiError>> fetch_token(const providers::Provider& provider,
                                                                   const config::Deployment& deployment,
                                                                   http::UpstreamRequest request, std::int64_t now_s);
  boost::asio::awaitable<std::optional<api::ApiError>> answer_mock(const std::string& answer);
  // relay.cpp. `native`: the vendor's own bytes reach the client (the front end's dialect); the
  // translator still reads them for usage and the stream's end.
  boost::asio::awaitable<void> relay_stream(http::UpstreamResponse& response, const providers::Provider& provider,
                                            bool native);

  Worker& worker_;
  http::Exchange& ex_;
  RequestContext& ctx_;
  const api::ParsedRequest& request_;
};

}  // namespace tollgate::proxy
