#include "tollgate/metrics/server_metrics.hpp"

#include "metrics/families.hpp"

namespace tollgate::metrics {

ServerMetrics::ServerMetrics(prometheus::Registry& registry) {
  open_ = &prometheus::BuildGauge()
               .Name("tollgate_http_open_connections")
               .Help("Client connections open now")
               .Register(registry)
               .Add({});
  refused_ = &prometheus::BuildCounter()
                  .Name("tollgate_http_refused_connections_total")
                  .Help("Client connections closed at once because the process was at max_connections")
                  .Register(registry)
                  .Add({});
  accept_errors_ = &prometheus::BuildCounter()
                        .Name("tollgate_http_accept_errors_total")
                        .Help("Failed accepts (out of file descriptors or kernel memory); accepting resumes after a pause")
                        .Register(registry)
                        .Add({});
  auto& timeouts = prometheus::BuildCounter()
                       .Name("tollgate_http_request_read_timeouts_total")
                       .Help("Requests whose header or body did not arrive within its total time limit, by phase")
                       .Register(registry);
  timeouts_ = {&timeouts.Add({{"phase", "header"}}), &timeouts.Add({{"phase", "body"}})};
  auto& unreadable = prometheus::BuildCounter()
                         .Name("tollgate_http_unreadable_requests_total")
                         .Help("Requests answered with an error and a closed connection before any handler, by reason")
                         .Register(registry);
  unreadable_ = {&unreadable.Add({{"reason", "malformed"}}), &unreadable.Add({{"reason", "header_too_large"}}),
                 &unreadable.Add({{"reason", "body_too_large"}}), &unreadable.Add({{"reason", "transfer_encoding"}})};
}

void ServerMetrics::connection_opened() { open_->Increment(); }
void ServerMetrics::connection_closed() { open_->Decrement(); }
void ServerMetrics::connection_refused() { refused_->Increment(); }
void ServerMetrics::accept_failed() { accept_errors_->Increment(); }
void ServerMetrics::read_timeout(ReadPhase phase) { timeouts_[static_cast<std::size_t>(phase)]->Increment(); }
void ServerMetrics::unreadable(UnreadableRequest reason) { unreadable_[static_cast<std::size_t>(reason)]->Increment(); }

}  // namespace tollgate::metrics
