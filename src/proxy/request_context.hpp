#pragma once
// Module-private to proxy/: everything one request knows and did, filled in by the stages as it
// walks them (docs/request-lifecycle.md) and read for the response headers, the spend event, the
// metrics and the access-log line. Sub-structs group it by concern.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/settle.hpp"
#include "tollgate/api/echoed_text.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/api/usage.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/frontend/front_end.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/limits/request_admission.hpp"
#include "tollgate/proxy/snapshot.hpp"
#include "tollgate/router/error_class.hpp"

namespace tollgate::proxy {

using SteadyClock = std::chrono::steady_clock;

struct RequestContext {
  /// The config version this request runs on, start to end.
  std::shared_ptr<const Snapshot> snapshot;
  /// The dialect answers and errors go out in (OpenAI until an LLM path says otherwise).
  const frontend::FrontEnd* front_end = &frontend::openai();

  struct Identity {
    std::string request_id;
    std::string_view method;
    std::string_view path;                 // without the query string
    const auth::Principal* principal = nullptr;  // once authenticated; outlives the request
    std::string end_user;
    std::vector<std::string> tags;
  } identity;

  /// The LLM call: set once a front end parsed the request.
  struct Call {
    std::optional<api::Endpoint> endpoint;
    std::string_view client_body;  // the client's bytes, for store_prompts_in_spend_logs
    bool stream = false;
  } call;

  /// Which group and deployment answered, and how the attempt plan got there (response headers).
  struct Routing {
    std::string model_group;
    std::string deployment_id;
    std::string api_base;
    std::optional<std::size_t> route_index;
    int attempted_retries = 0;
    int attempted_fallbacks = 0;
    int max_retries = 0;
    std::string fallback_group;  // the fallback group that answered or failed last
    double timeout_s = 0;        // timeout of the last attempt, seconds
    std::optional<router::ErrorClass> error_class;  // of the error answered, when the plan knew it
  } routing;

  /// The current upstream attempt.
  struct Upstream {
    SteadyClock::duration wait{0};      // time spent waiting on upstreams, all attempts
    SteadyTime attempt_started{};       // of the streaming attempt, for time to first token
    double ttft_s = 0;
    std::int64_t first_chunk_ms = 0;    // first streamed chunk from upstream; 0: none
    std::optional<router::ErrorClass> stream_failure;  // the upstream broke a stream under way
  } upstream;

  /// Usage, cost and the budget numbers of the headers.
  struct Cost {
    api::Usage usage;
    double response_cost = -1;  // known before the head for whole responses; < 0: not reported
    double key_spend = -1;      // spend of the key before this request; < 0: not reported
    double team_spend = -1;     // spend of the key's team before this request; < 0: none
    limits::Headroom headroom;
    std::optional<limits::LimitGuard> limit;  // the admitted charge, settled by the Settlement
  } cost;

  struct Timings {
    SteadyTime started{};        // headers complete
    std::int64_t started_ms = 0;  // wall clock at arrival
  } timings;

  /// What went back to the client.
  struct Answer {
    unsigned status = 0;
    std::string error_type;
  } answer;

  /// Whether the deployment that answered has a price.
  bool priced() const { return routing.route_index && snapshot->prices.priced(*routing.route_index); }
  /// The cost of `usage` on the deployment that answered; nullopt when it has no price (or none
  /// answered). The one place a request's cost is computed.
  std::optional<double> price(const api::Usage& usage) const {
    if (!priced()) return std::nullopt;
    return snapshot->prices.cost(*routing.route_index, usage);
  }
  /// Whether the answer so far counts as a success for the spend event.
  bool succeeded() const { return answer.status < 400 && !upstream.stream_failure && answer.error_type.empty(); }
  /// Settles the request's charge now (a successful answer, before its last byte): see settle.hpp.
  void settle(std::string_view response_body = {}) {
    if (settlement) settlement->response_body = response_body;
    settlement.reset();
  }

  /// Last member, so destroyed first while the rest is whole: settles on every exit path.
  std::optional<Settlement> settlement;
};

inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kEventStream = "text/event-stream";

inline double to_ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

using api::capped_name;
using api::header_text;

}  // namespace tollgate::proxy
