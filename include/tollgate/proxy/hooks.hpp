#pragma once
// Seams in the request path for the capabilities that sit on it (docs/request-lifecycle.md):
//
//   ResponseCache — the cache-lookup stage, after admission and before the attempt plan: a hit
//                   answers the request without an upstream call. No implementation ships yet
//                   (the response-cache issue fills it); with none installed the stage is skipped.
//   ShadowHook    — after an answer is complete, may start a detached call of the same request to
//                   another model group; its outcome goes to the hook and never to the client.
//
// Hooks are installed per worker (ProxyHandler's `hooks`) and called on that worker's thread.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tollgate/api/request.hpp"
#include "tollgate/api/usage.hpp"

namespace tollgate::proxy {

/// A request about to be sent upstream, as the cache sees it. Only whole (non-stream) requests are
/// looked up today: replaying a stream from a stored answer comes with the cache itself.
struct CacheQuery {
  api::Endpoint endpoint;
  std::string_view model_group;   // the group decided for it
  std::string_view request_body;  // the internal (OpenAI-format) request
};

/// A stored answer: an OpenAI-format body and the usage it reported.
struct CachedAnswer {
  std::string body;
  api::Usage usage;
};

class ResponseCache {
 public:
  virtual ~ResponseCache() = default;
  virtual std::optional<CachedAnswer> lookup(const CacheQuery& query) = 0;
};

/// A finished LLM request, offered to the shadow hook.
struct CompletedRequest {
  std::string_view request_id;
  api::Endpoint endpoint;
  std::string_view model_group;   // the group that answered
  std::string_view request_body;  // the internal (OpenAI-format) request
  unsigned status = 0;
  api::Usage usage;
};

/// What a shadow call did.
struct ShadowOutcome {
  std::string request_id;     // of the request it shadowed
  std::string model_group;    // the group it called
  std::string deployment_id;  // the deployment that answered or failed last
  unsigned status = 0;
  std::string body;           // the whole answer (OpenAI format) or the error body
  api::Usage usage;
  std::optional<double> cost;  // nullopt: the deployment has no price
  std::chrono::duration<double> duration{0};
};

class ShadowHook {
 public:
  virtual ~ShadowHook() = default;
  /// The model group to call with `request` as well, or nullopt for none. The shadow call is not
  /// admitted against the caller's limits and its spend is reported here, not journaled.
  virtual std::optional<std::string> shadow_group(const CompletedRequest& request) = 0;
  virtual void record(ShadowOutcome outcome) = 0;
};

struct Hooks {
  ResponseCache* cache = nullptr;  // must outlive the handler
  ShadowHook* shadow = nullptr;    // must outlive the handler
};

}  // namespace tollgate::proxy
