#pragma once
// Module-private to proxy/: the settle stage (docs/spend.md). A Settlement is made when a request
// becomes an LLM call and settles in its destructor — exactly once, on every exit path, by the
// object's lifetime rather than a flag: the real cost settles the limiter's charge, the spend
// event goes to the spend sink (journal and queue), the spend metrics count it.
//
// A successful answer destroys it early (RequestContext::settle) before its last byte is written,
// so a client that got its answer has its spend journaled even if the process dies right after;
// anything else (a failure, a client gone, a stream cut) settles when the request's context goes.
#include <string_view>

namespace tollgate::proxy {

struct RequestContext;

class Settlement {
 public:
  /// `ctx` must outlive the settlement (it is the context's last member).
  explicit Settlement(RequestContext& ctx) : ctx_(ctx) {}
  ~Settlement();
  Settlement(const Settlement&) = delete;
  Settlement& operator=(const Settlement&) = delete;

  /// The answer's body, for store_prompts_in_spend_logs (a whole answer; empty for streams).
  std::string_view response_body;

 private:
  RequestContext& ctx_;
};

}  // namespace tollgate::proxy
