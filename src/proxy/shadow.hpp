#pragma once
// Module-private to proxy/: the shadow stage. After an LLM request's answer is complete, the
// shadow hook (hooks.hpp) may name a model group to call with the same internal request; the call
// runs detached on the worker, through the same attempt loop, into an exchange that only records.
// Its outcome goes to the hook and never to the client.
#include "proxy/request_context.hpp"
#include "proxy/worker.hpp"
#include "tollgate/api/request.hpp"

namespace tollgate::proxy {

/// Offers the finished request to the worker's shadow hook and starts the call it asks for.
/// `request_body`: the internal request (copied; the shadow call outlives the request).
void start_shadow(Worker& worker, const RequestContext& ctx, std::string_view request_body);

}  // namespace tollgate::proxy
