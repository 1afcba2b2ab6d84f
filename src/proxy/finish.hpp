#pragma once
// Module-private to proxy/: the log stage, last for every request — the requested model's
// metrics (status, latency, overhead, failure class), the routed-request alert counters, the
// unpriced-request counter, and one access-log line.
#include "proxy/request_context.hpp"
#include "proxy/worker.hpp"

namespace tollgate::proxy {

void log_request(Worker& worker, const RequestContext& ctx);

}  // namespace tollgate::proxy
