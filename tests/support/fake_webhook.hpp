#pragma once
// A loopback webhook receiver (Slack incoming-webhook stand-in) for alerting tests: a
// FakeHttpServer (fake_http_server.hpp) on 127.0.0.1, port 0, that records every request it reads in
// full and answers each with the next scripted status (200 once the script is used up), optionally
// after a delay, with Slack's body "ok".
//
// Thread safety: all public members may be called from any thread. The destructor stops the server.
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"

namespace tollgate::testing {

class FakeWebhook : public FakeHttpServer {
 public:
  FakeWebhook();  // binds and starts
  ~FakeWebhook();

  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path = "/services/T0/B0/secret") const;

  /// Statuses for the next requests, in order.
  void script(std::vector<unsigned> statuses);
  /// Waits this long before answering each request (0: at once).
  void set_delay(std::chrono::milliseconds delay);

 private:
  FakeExchange plan(const FakeRequest& request);

  mutable std::mutex mu_;
  std::deque<unsigned> script_;         // guarded by mu_
  std::chrono::milliseconds delay_{0};  // guarded by mu_
};

}  // namespace tollgate::testing
