#pragma once
// A loopback webhook receiver (Slack incoming-webhook stand-in) for alerting tests: plain HTTP on
// 127.0.0.1, port 0, its own io_context and thread. Records every request it reads in full and
// answers each with the next scripted status (200 once the script is used up), optionally after
// a delay, with Slack's body "ok".
//
// Thread safety: all public members may be called from any thread. The destructor stops the server.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/fake_provider.hpp"

namespace tollgate::testing {

class FakeWebhook {
 public:
  FakeWebhook();  // binds and starts
  ~FakeWebhook();
  FakeWebhook(const FakeWebhook&) = delete;
  FakeWebhook& operator=(const FakeWebhook&) = delete;

  std::uint16_t port() const;
  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path = "/services/T0/B0/secret") const;

  /// Statuses for the next requests, in order.
  void script(std::vector<unsigned> statuses);
  /// Waits this long before answering each request (0: at once).
  void set_delay(std::chrono::milliseconds delay);

  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::testing
