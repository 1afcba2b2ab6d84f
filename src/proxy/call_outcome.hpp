#pragma once
// Module-private to proxy/: what one request did (for headers, the access log and metrics), and
// small helpers shared by proxy_handler.cpp and control_routes.cpp.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/anthropic/messages_inbound.hpp"
#include "tollgate/api/echoed_text.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/core/clock.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/limits/limiter.hpp"
#include "tollgate/providers/provider.hpp"
#include "tollgate/proxy/gate.hpp"
#include "tollgate/proxy/snapshot.hpp"
#include "tollgate/router/error_class.hpp"

namespace tollgate::proxy {

using SteadyClock = std::chrono::steady_clock;

struct CallOutcome {
  std::shared_ptr<const Snapshot> snapshot;  // the config version this request runs on, start to end
  std::string request_id;
  std::string_view method;
  std::string_view path;
  std::string model_group;
  std::string deployment_id;
  std::string api_base;
  unsigned status = 0;
  bool stream = false;
  api::Usage usage;
  SteadyClock::duration upstream_wait{0};
  std::string error_type;
  SteadyTime started{};
  // Router outcome, reported in response headers.
  int attempted_retries = 0;
  int attempted_fallbacks = 0;
  int max_retries = 0;
  std::string fallback_group;        // the fallback group that answered or failed last
  double timeout_s = 0;              // timeout of the last attempt, seconds
  SteadyTime attempt_started{};      // of the streaming attempt, for time to first token
  double ttft_s = 0;
  std::optional<router::ErrorClass> error_class;  // of the error answered, when the router knew it
  std::optional<router::ErrorClass> stream_failure;  // the upstream broke a stream already under way
  // Control plane (virtual keys): the deployment that answered, the charge to settle, headers.
  std::optional<std::size_t> route_index;
  std::optional<LimitGuard> limit;
  limits::Headroom headroom;
  double key_spend = -1;              // spend of the key before this request; < 0: not reported
  double response_cost = -1;          // known before the head for whole responses; < 0: not reported
  double team_spend = -1;             // spend of the key's team before this request; < 0: none
  // The spend event (settle_request): who, what, when.
  const auth::Principal* principal = nullptr;  // once authenticated; outlives the outcome
  std::optional<api::Endpoint> endpoint;       // an LLM call (completions, embeddings)
  std::int64_t started_ms = 0;                 // wall clock at arrival
  std::int64_t first_chunk_ms = 0;             // first streamed chunk from upstream; 0: none
  std::string_view request_body;               // for store_prompts_in_spend_logs
  std::string end_user;
  std::vector<std::string> tags;
  bool settled = false;                        // settle_request ran
  // POST /v1/messages: answers, streams and errors go out in Anthropic's shape.
  bool anthropic_client = false;
  std::unique_ptr<providers::MessagesStreamWriter> messages_stream;  // a translated stream's writer
};

inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kEventStream = "text/event-stream";

inline double to_ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

/// The headers LiteLLM clients read (x-litellm-*, x-ratelimit-*), computed at the moment the
/// response head is sent (relay.cpp).
http::HeaderList response_headers(const CallOutcome& out);

using api::capped_name;
using api::header_text;

}  // namespace tollgate::proxy
