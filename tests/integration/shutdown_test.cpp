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

  auto drained = std::async(std::launch::async, [&] { return gw.app().shutdown(); });
  std::this_thread::sleep_for(50ms);
  // New connections are refused while draining.
  EXPECT_THROW(http_request(gw.port(), "GET", "/health/liveliness", {}, {}, 500ms), std::exception);

  const std::string rest = *first + s.read_all(5s);
  EXPECT_TRUE(s.complete());
  StreamText st = parse_stream(rest);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done);
  EXPECT_TRUE(drained.get()) << "shutdown reported requests left behind";
}

TEST(ShutdownTest, IdleKeepAliveConnectionsAreClosedSoDrainIsQuick) {
  FakeProvider fake;
  fake.start();
  Gateway gw(fake_config(fake.base_url()));
  HttpConnection idle(gw.port());
  ASSERT_EQ(idle.request("GET", "/health/liveliness").status, 200u);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(gw.app().shutdown());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace tollgate::testing
