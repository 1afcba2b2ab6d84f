// Graceful shutdown: draining stops new connections, lets an in-flight stream finish, then stops.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "integration/gateway_fixture.hpp"

namespace tollgate::testing {
namespace {

using namespace std::chrono_literals;

TEST(ShutdownTest, InFlightStreamCompletesDuringDrain) {
  FakeProvider fake;
  fake.start();
  Gateway gw(fake_config(fake.base_url()));
  StreamReader s(gw.port(), "POST", "/v1/chat/completions",
                 R"({"model":"gpt-fake","stream":true,"messages":[],"fake":{"chunks":6,"delay_chunk_ms":100}})",
                 auth_headers());
  ASSERT_EQ(s.status(), 200u);
  auto first = s.read_some(2s);
  ASSERT_TRUE(first.has_value());
  HttpConnection idle(gw.port());  // a keep-alive connection with nothing in flight
  ASSERT_EQ(idle.request("GET", "/health/liveliness").status, 200u);

  auto drained = std::async(std::launch::async, [&] { return gw.app().shutdown(); });
  std::this_thread::sleep_for(100ms);
  // The stream is still in flight (about 500 ms to go), so the server is not stopped yet: new
  // connections are refused and the idle keep-alive connection has been closed by the drain.
  EXPECT_THROW(http_request(gw.port(), "GET", "/health/liveliness", {}, {}, 500ms), std::exception);
  EXPECT_THROW(idle.request("GET", "/health/liveliness"), std::exception);

  const std::string rest = *first + s.read_all(5s);
  EXPECT_TRUE(s.complete());
  StreamText st = parse_stream(rest);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done);
  EXPECT_TRUE(drained.get()) << "shutdown reported requests left behind";
}

}  // namespace
}  // namespace tollgate::testing
