// Upstream faults injected by the fake provider, and client disconnects: each gets a defined
// outcome and the gateway keeps serving.
#include <gtest/gtest.h>

#include <thread>

#include "integration/gateway_fixture.hpp"
#include "support/eventually.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string chat_with(const json& fake, bool stream = false) {
  json body = {{"model", "gpt-fake"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}, {"fake", fake}};
  if (stream) body["stream"] = true;
  return body.dump();
}

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.start();
    gw_ = std::make_unique<Gateway>(fake_config(
        fake_.base_url(),
        {.models = "  - model_name: slow-stream\n"
        "    litellm_params: {model: openai/fake-model, api_base: \"" + fake_.base_url() +
            "\", api_key: k, stream_timeout: 0.3}\n"
            "  - model_name: nowhere\n"
            "    litellm_params: {model: openai/x, api_base: \"http://127.0.0.1:1/v1\", api_key: k}\n",
         // Each fault is seen as the provider sent it: no retries, no cooldowns (tests/integration/router_test.cpp
         // covers those).
         .top = "router_settings: {num_retries: 0, disable_cooldowns: true}\n"}));
  }
  void TearDown() override {
    // Whatever happened, the gateway still answers.
    EXPECT_EQ(gw_->get("/health/liveliness", {}).status, 200u);
  }
  FakeProvider fake_;
  std::unique_ptr<Gateway> gw_;
};

TEST_F(FaultsTest, UpstreamErrorStatusesKeepTheirClassAndMessage) {
  for (unsigned status : {400u, 401u, 404u, 422u, 500u, 503u}) {
    HttpResponse r = gw_->post("/v1/chat/completions", chat_with({{"status", status}}));
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.json()["error"]["message"], "fake error " + std::to_string(status)) << r.body;
    EXPECT_EQ(r.json()["error"]["code"], std::to_string(status));
  }
}

TEST_F(FaultsTest, RateLimitCarriesRetryAfter) {
  HttpResponse r = gw_->post("/v1/chat/completions", chat_with({{"status", 429}, {"retry_after", 7}}));
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.header("retry-after"), "7");
}

TEST_F(FaultsTest, NonJsonErrorBodyIsWrappedWithTheStatus) {
  HttpResponse r = gw_->post("/v1/chat/completions", chat_with({{"status", 502}, {"error_body", "<html>bad gateway</html>"}}));
  EXPECT_EQ(r.status, 502u);
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("HTTP 502"), std::string::npos);
}

TEST_F(FaultsTest, GarbageSuccessBodyIs502) {
  HttpResponse r = gw_->post("/v1/chat/completions", chat_with({{"garbage", true}}));
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.json()["error"]["type"], "api_error");
}

TEST_F(FaultsTest, SlowHeadersPastTheRequestTimeoutAre408) {
  json body = json::parse(chat_with({{"delay_headers_ms", 3000}}));
  body["timeout"] = 0.2;
  const auto t0 = std::chrono::steady_clock::now();
  HttpResponse r = gw_->post("/v1/chat/completions", body.dump());
  EXPECT_EQ(r.status, 408u);
  EXPECT_EQ(r.json()["error"]["type"], "timeout_error");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // The header form of the same limit.
  HttpResponse h = gw_->post("/v1/chat/completions", chat_with({{"delay_headers_ms", 3000}}),
                             auth_headers({{"x-litellm-timeout", "0.2"}}));
  EXPECT_EQ(h.status, 408u);
}

TEST_F(FaultsTest, StreamTimeoutBoundsTimeToFirstByte) {
  constexpr auto kStreamTimeout = 300ms;  // slow-stream's stream_timeout
  json body = json::parse(chat_with({{"hang", true}}, true));
  body["model"] = "slow-stream";
  const auto t0 = std::chrono::steady_clock::now();
  HttpResponse r = gw_->post("/v1/chat/completions", body.dump());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 408u);
  // The upstream never answers: the gateway gives up at the stream timeout, not before and not
  // much after (the tolerance covers a loaded machine and sanitizer builds).
  EXPECT_GE(waited, kStreamTimeout);
  EXPECT_LT(waited, kStreamTimeout + 1500ms);
}

TEST_F(FaultsTest, UnreachableUpstreamIs502ConnectionError) {
  HttpResponse r = gw_->post("/v1/chat/completions", R"({"model":"nowhere","messages":[]})");
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.json()["error"]["type"], "api_connection_error");
}

TEST_F(FaultsTest, UpstreamDisconnectMidStreamEndsTheClientStreamWithAnErrorEvent) {
  StreamReader s(gw_->port(), "POST", "/v1/chat/completions", chat_with({{"chunks", 6}, {"disconnect_after", 2}}, true),
                 auth_headers());
  ASSERT_EQ(s.status(), 200u);
  const std::string body = s.read_all(5s);
  StreamText st = parse_stream(body);
  EXPECT_FALSE(st.done);
  ASSERT_TRUE(st.error.is_object()) << body;
  EXPECT_FALSE(st.error["message"].get<std::string>().empty());
  EXPECT_FALSE(st.text.empty()) << "the chunks before the break were relayed: " << body;
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat_with(json::object())).status, 200u);
}

TEST_F(FaultsTest, MalformedChunkEndsTheStreamWithAnErrorEvent) {
  StreamReader s(gw_->port(), "POST", "/v1/chat/completions", chat_with({{"chunks", 4}, {"malformed_at", 3}}, true),
                 auth_headers());
  StreamText st = parse_stream(s.read_all(5s));
  ASSERT_TRUE(st.error.is_object());
  EXPECT_NE(st.error["message"].get<std::string>().find("malformed"), std::string::npos);
  EXPECT_FALSE(st.done);
}

TEST_F(FaultsTest, ClientDisconnectMidStreamCancelsTheUpstreamCall) {
  {
    StreamReader s(gw_->port(), "POST", "/v1/chat/completions",
                   chat_with({{"chunks", 40}, {"delay_chunk_ms", 50}}, true), auth_headers());
    ASSERT_EQ(s.status(), 200u);
    ASSERT_TRUE(s.read_some(2s).has_value());
    s.close();
  }
  EXPECT_TRUE(eventually([&] { return fake_.requests_cancelled() == 1; })) << "upstream call was not cancelled";
  // The cancelled connection is not reused: the next call still succeeds.
  EXPECT_EQ(gw_->post("/v1/chat/completions", chat_with(json::object())).status, 200u);
}

TEST(ChunkTimeoutTest, SilenceBetweenChunksEndsTheStreamWithATimeoutError) {
  FakeProvider fake;
  fake.start();
  Gateway gw(fake_config(fake.base_url(), {.tollgate = ", upstream_chunk_timeout_seconds: 0.3"}));
  StreamReader s(gw.port(), "POST", "/v1/chat/completions", chat_with({{"chunks", 3}, {"delay_chunk_ms", 2000}}, true),
                 auth_headers());
  ASSERT_EQ(s.status(), 200u);
  StreamText st = parse_stream(s.read_all(5s));
  ASSERT_TRUE(st.error.is_object());
  EXPECT_EQ(st.error["type"], "timeout_error");
  EXPECT_FALSE(st.done);
}

}  // namespace
}  // namespace tollgate::testing
