// Graceful shutdown: draining stops new connections, lets an in-flight stream finish, then stops.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"

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

TEST(ShutdownTest, StreamCutAtTheDeadlineEndsWithAnErrorEventAndIsBilled) {
  FakeProvider fake;
  fake.start();
  TempDir dir("tollgate-cut");
  const std::string db = dir.file("tollgate.db");
  const std::string journal = dir.file("journal");
  ConfigExtras extras;
  extras.tollgate = ", shutdown_timeout_seconds: 0.3, database_path: \"" + db + "\", spend_journal_dir: \"" + journal + "\"";
  auto gw = std::make_unique<Gateway>(fake_config(fake.base_url(), extras));
  // 20 chunks a second apart: far longer than the 0.3 s drain deadline.
  StreamReader s(gw->port(), "POST", "/v1/chat/completions",
                 R"({"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"hi"}],)"
                 R"("fake":{"chunks":20,"delay_chunk_ms":1000}})",
                 auth_headers());
  ASSERT_EQ(s.status(), 200u);
  const std::string request_id = s.header("x-litellm-call-id");
  auto first = s.read_some(3s);
  ASSERT_TRUE(first.has_value());

  auto stopped = std::async(std::launch::async, [&] { return gw->app().shutdown(); });
  const std::string rest = *first + s.read_all(10s);
  EXPECT_TRUE(s.complete()) << "the stream ends with its terminator, not a cut connection";
  const StreamText st = parse_stream(rest);
  EXPECT_FALSE(st.done);
  ASSERT_TRUE(st.error.is_object()) << rest;
  EXPECT_NE(st.error["message"].get<std::string>().find("shutting down"), std::string::npos) << st.error.dump();
  EXPECT_TRUE(stopped.get()) << "the cut request settled within the grace period";
  gw.reset();

  // The same database and journal, a new process: the cut request has its spend row.
  Gateway after(fake_config(fake.base_url(), extras));
  nlohmann::json rows;
  ASSERT_TRUE(eventually([&] {
    rows = nlohmann::json::parse(after.get("/spend/logs?request_id=" + request_id).body, nullptr, false);
    return rows.is_array() && rows.size() == 1;
  }, 10s, 20ms)) << rows.dump();
  EXPECT_EQ(rows[0]["status"], "failure");
  EXPECT_GT(rows[0]["completion_tokens"].get<int>(), 0) << "billed for the tokens it sent";
  EXPECT_GT(rows[0]["prompt_tokens"].get<int>(), 0);
}

}  // namespace
}  // namespace tollgate::testing
