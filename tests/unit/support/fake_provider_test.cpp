// The fake provider over real loopback sockets, driven by the test HTTP client.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>

#include "support/fake_openai.hpp"
#include "support/eventually.hpp"
#include "support/fake_provider.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kChat = "/v1/chat/completions";

std::string chat_body(json extra = json::object()) {
  json body = {{"model", "gpt-4o-mini"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body.dump();
}

// The payloads of `data: ...\n\n` events; fails the test on any other framing.
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const std::size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated event: " << body.substr(pos);
      break;
    }
    EXPECT_EQ(body.compare(pos, 6, "data: "), 0) << body.substr(pos, end - pos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

class FakeProviderTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.start(); }
  std::uint16_t port() const { return fake_.port(); }
  FakeProvider fake_;
};

TEST_F(FakeProviderTest, ChatCompletionHasOpenAiShape) {
  const HttpResponse res =
      http_request(port(), "POST", kChat, chat_body(), {{"Authorization", "Bearer sk-test"}, {"X-Custom", "1"}});
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  const json j = res.json();
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-fake-", 0), 0u);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["model"], "gpt-4o-mini");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], std::string(kFakeDefaultContent));
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 11);
  EXPECT_EQ(j["usage"]["completion_tokens"], 7);
  EXPECT_EQ(j["usage"]["total_tokens"], 18);
  EXPECT_TRUE(j.contains("system_fingerprint"));

  const auto recorded = fake_.requests();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].method, "POST");
  EXPECT_EQ(recorded[0].target, kChat);
  EXPECT_EQ(recorded[0].headers.at("authorization"), "Bearer sk-test");
  EXPECT_EQ(recorded[0].headers.at("x-custom"), "1");
  EXPECT_EQ(json::parse(recorded[0].body)["model"], "gpt-4o-mini");
}

TEST_F(FakeProviderTest, ToolsGetAToolCall) {
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}}}}});
  const json j = http_request(port(), "POST", kChat, chat_body({{"tools", tools}})).json();
  const json& message = j["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  EXPECT_EQ(message["tool_calls"][0]["type"], "function");
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], R"({"location":"Paris"})");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
}

TEST_F(FakeProviderTest, StreamIsFramedAndEndsWithDoneWithoutUsage) {
  StreamReader reader(port(), "POST", kChat, chat_body({{"stream", true}}));
  ASSERT_EQ(reader.status(), 200u);
  EXPECT_EQ(reader.header("content-type"), "text/event-stream");
  EXPECT_EQ(reader.header("transfer-encoding"), "chunked");
  const std::string body = reader.read_all(5s);
  EXPECT_TRUE(reader.complete());
  const auto events = sse_payloads(body);
  ASSERT_EQ(events.size(), 1u + 3u + 1u + 1u);  // role, 3 content chunks, finish, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_FALSE(chunk.contains("usage")) << events[i];
    if (i == 0) {
      EXPECT_EQ(chunk["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
    }
    if (chunk["choices"][0]["delta"].contains("content")) text += chunk["choices"][0]["delta"]["content"];
  }
  EXPECT_EQ(text, std::string(kFakeDefaultContent));
  EXPECT_EQ(json::parse(events[4])["choices"][0]["finish_reason"], "stop");
}

TEST_F(FakeProviderTest, StreamUsageChunkOnlyWhenAsked) {
  StreamReader reader(port(), "POST", kChat,
                      chat_body({{"stream", true},
                                 {"stream_options", {{"include_usage", true}}},
                                 {"fake", {{"prompt_tokens", 40}, {"completion_tokens", 9}}}}));
  const auto events = sse_payloads(reader.read_all(5s));
  ASSERT_EQ(events.size(), 1u + 3u + 1u + 1u + 1u);
  for (std::size_t i = 0; i + 2 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    ASSERT_TRUE(chunk.contains("usage"));
    EXPECT_TRUE(chunk["usage"].is_null());
  }
  const json usage_chunk = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(usage_chunk["usage"]["prompt_tokens"], 40);
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 9);
  EXPECT_EQ(usage_chunk["usage"]["total_tokens"], 49);
  EXPECT_EQ(events.back(), "[DONE]");
}

TEST_F(FakeProviderTest, StatusInjectionSendsOpenAiErrorAndRetryAfter) {
  const HttpResponse res =
      http_request(port(), "POST", kChat, chat_body({{"fake", {{"status", 429}, {"retry_after", 7}}}}));
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(res.header("retry-after"), "7");
  const json j = res.json();
  EXPECT_EQ(j["error"]["message"], "fake error 429");
  EXPECT_EQ(j["error"]["type"], "requests");
  EXPECT_EQ(j["error"]["code"], "rate_limit_exceeded");
  EXPECT_TRUE(j["error"]["param"].is_null());
}

TEST_F(FakeProviderTest, PathPrefixControlsAndBodyWins) {
  EXPECT_EQ(http_request(port(), "POST", "/status=500/v1/chat/completions", chat_body()).status, 500u);
  EXPECT_EQ(
      http_request(port(), "POST", "/status=500/v1/chat/completions", chat_body({{"fake", {{"status", 503}}}})).status,
      503u);
  const HttpResponse ok = http_request(port(), "POST", "/content=bonjour/v1/chat/completions", chat_body());
  ASSERT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.json()["choices"][0]["message"]["content"], "bonjour");
  EXPECT_EQ(http_request(port(), "GET", "/status=404/v1/models").status, 404u);
  EXPECT_EQ(fake_.requests().at(2).target, "/content=bonjour/v1/chat/completions");
}

TEST_F(FakeProviderTest, DisconnectAfterCutsTheStream) {
  StreamReader reader(port(), "POST", kChat,
                      chat_body({{"stream", true}, {"fake", {{"chunks", 4}, {"disconnect_after", 1}}}}));
  ASSERT_EQ(reader.status(), 200u);
  const std::string body = reader.read_all(5s);
  EXPECT_FALSE(reader.complete());
  EXPECT_EQ(body.find("[DONE]"), std::string::npos);
  EXPECT_EQ(sse_payloads(body).size(), 2u);  // role chunk and one content chunk
  EXPECT_EQ(fake_.requests_cancelled(), 0u);
}

TEST_F(FakeProviderTest, DisconnectAfterTruncatesAPlainBody) {
  EXPECT_THROW(http_request(port(), "POST", kChat, chat_body({{"fake", {{"disconnect_after", 0}}}})),
               boost::system::system_error);
}

TEST_F(FakeProviderTest, MalformedChunkIsSentAsIs) {
  StreamReader reader(port(), "POST", kChat, chat_body({{"stream", true}, {"fake", {{"malformed_at", 2}}}}));
  const auto events = sse_payloads(reader.read_all(5s));
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[2], "{this is not json");
  EXPECT_EQ(events.back(), "[DONE]");
}

TEST_F(FakeProviderTest, KeepAliveReusesOneConnection) {
  HttpConnection conn(port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(conn.request("POST", kChat, chat_body()).status, 200u);
  EXPECT_EQ(conn.request("GET", "/v1/models").json()["object"], "list");
  EXPECT_TRUE(conn.is_open());
  EXPECT_EQ(fake_.connections_accepted(), 1u);
  EXPECT_EQ(fake_.request_count(), 4u);
  EXPECT_EQ(http_request(port(), "GET", "/v1/models").status, 200u);
  EXPECT_EQ(fake_.connections_accepted(), 2u);
}

TEST_F(FakeProviderTest, ClientLeavingMidStreamCountsAsCancelled) {
  StreamReader reader(port(), "POST", kChat,
                      chat_body({{"stream", true}, {"fake", {{"chunks", 50}, {"delay_chunk_ms", 20}}}}));
  ASSERT_TRUE(reader.read_some(5s).has_value());
  reader.close();
  EXPECT_TRUE(eventually([&] { return fake_.requests_cancelled() == 1; }));
}

TEST_F(FakeProviderTest, HangLastsUntilTheClientLeaves) {
  EXPECT_THROW(http_request(port(), "POST", kChat, chat_body({{"fake", {{"hang", true}}}}), {}, 150ms),
               boost::system::system_error);
  EXPECT_TRUE(eventually([&] { return fake_.requests_cancelled() == 1; }));
}

TEST_F(FakeProviderTest, DelayHeadersWaitsWithoutBlockingOthers) {
  const auto start = std::chrono::steady_clock::now();
  auto slow = std::async(std::launch::async, [&] {
    return http_request(port(), "POST", kChat, chat_body({{"fake", {{"delay_headers_ms", 300}}}})).status;
  });
  EXPECT_TRUE(eventually([&] { return fake_.request_count() == 1; }));
  EXPECT_EQ(http_request(port(), "GET", "/v1/models").status, 200u);  // served while the other waits
  EXPECT_EQ(slow.get(), 200u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

TEST_F(FakeProviderTest, EmbeddingsCompletionsModelsAndErrors) {
  const json emb = http_request(port(), "POST", "/v1/embeddings",
                                json({{"model", "text-embedding-3-small"}, {"input", {"a", "b"}}}).dump())
                       .json();
  EXPECT_EQ(emb["object"], "list");
  ASSERT_EQ(emb["data"].size(), 2u);
  EXPECT_EQ(emb["data"][1]["object"], "embedding");
  EXPECT_EQ(emb["data"][1]["embedding"].size(), 8u);

  const json text =
      http_request(port(), "POST", "/v1/completions", json({{"model", "m"}, {"prompt", "x"}}).dump()).json();
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], std::string(kFakeDefaultContent));

  StreamReader stream(port(), "POST", "/v1/completions",
                      json({{"model", "m"}, {"prompt", "x"}, {"stream", true}}).dump());
  const auto events = sse_payloads(stream.read_all(5s));
  ASSERT_EQ(events.size(), 3u + 1u + 1u);
  EXPECT_EQ(json::parse(events[3])["choices"][0]["finish_reason"], "stop");

  EXPECT_EQ(http_request(port(), "GET", "/v1/models").json()["data"].size(), 3u);
  const HttpResponse missing = http_request(port(), "POST", "/v1/nothing", "{}");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_TRUE(missing.json()["error"].contains("message"));
  EXPECT_EQ(http_request(port(), "POST", kChat, "{not json").status, 400u);
  const HttpResponse garbage = http_request(port(), "POST", kChat, chat_body({{"fake", {{"garbage", true}}}}));
  EXPECT_EQ(garbage.status, 200u);
  EXPECT_EQ(garbage.body, "<html>oops");
}

TEST(FakeProviderAuthTest, RequireApiKey) {
  FakeProviderOptions options;
  options.require_api_key = "sk-fake";
  FakeProvider fake(options);
  fake.start();
  const HttpResponse denied = http_request(fake.port(), "GET", "/v1/models", {}, {{"authorization", "Bearer sk-no"}});
  EXPECT_EQ(denied.status, 401u);
  EXPECT_EQ(denied.json()["error"]["code"], "invalid_api_key");
  EXPECT_EQ(http_request(fake.port(), "GET", "/v1/models", {}, {{"authorization", "Bearer sk-fake"}}).status, 200u);
}

TEST(FakeProviderLifecycleTest, StopClosesTheListener) {
  FakeProvider fake;
  fake.start();
  const std::uint16_t port = fake.port();
  EXPECT_NE(port, 0);
  EXPECT_EQ(fake.base_url(), "http://127.0.0.1:" + std::to_string(port) + "/v1");
  fake.stop();
  EXPECT_THROW(http_request(port, "GET", "/v1/models", {}, {}, 1s), boost::system::system_error);
}

TEST(FakeProviderLifecycleTest, StopDropsRequestsInFlight) {
  FakeProvider fake;
  fake.start();
  const std::uint16_t port = fake.port();
  auto hung = std::async(std::launch::async, [&] {
    const auto start = std::chrono::steady_clock::now();
    try {
      http_request(port, "POST", kChat, chat_body({{"fake", {{"hang", true}}}}), {}, 10s);
    } catch (const boost::system::system_error&) {
    }
    return std::chrono::steady_clock::now() - start;
  });
  StreamReader reader(port, "POST", kChat,
                      chat_body({{"stream", true}, {"fake", {{"chunks", 100}, {"delay_chunk_ms", 50}}}}));
  ASSERT_TRUE(reader.read_some(5s).has_value());
  ASSERT_TRUE(eventually([&] { return fake.request_count() == 2; }));
  fake.stop();
  EXPECT_LT(hung.get(), 5s);  // the hanging client saw the close, not its own timeout
  reader.read_all(5s);
  EXPECT_FALSE(reader.complete());
}

// ---- TLS ---------------------------------------------------------------------------------------

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct TlsResult {
  boost::system::error_code ec;  // of the first step that failed
  unsigned status = 0;
  std::string body;
};

TlsResult failed(boost::system::error_code ec) {
  TlsResult out;
  out.ec = ec;
  return out;
}

// A verifying HTTPS client: trusts only `ca_file` and checks the certificate names 127.0.0.1.
asio::awaitable<TlsResult> https_post(asio::ssl::context& ctx, std::uint16_t port, std::string target,
                                      std::string body) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  // Kept off the coroutine frame: a large frame makes g++ 12 report a false -Wmismatched-new-delete
  // on Asio's frame allocator.
  struct Conn {
    Conn(const asio::any_io_executor& ex, asio::ssl::context& c) : stream(ex, c) {}
    asio::ssl::stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
  };
  auto conn = std::make_unique<Conn>(co_await asio::this_coro::executor, ctx);
  auto& stream = conn->stream;
  auto& tcp = beast::get_lowest_layer(stream);
  stream.set_verify_mode(asio::ssl::verify_peer);
  stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
  tcp.expires_after(5s);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  if (auto [ec] = co_await tcp.async_connect(endpoint, use_tuple); ec) co_return failed(ec);
  if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple); ec) co_return failed(ec);
  auto& req = conn->req;
  req.method(http::verb::post);
  req.target(target);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  if (auto [ec, n] = co_await http::async_write(stream, req, use_tuple); ec) co_return failed(ec);
  if (auto [ec, n] = co_await http::async_read(stream, conn->buffer, conn->res, use_tuple); ec) co_return failed(ec);
  TlsResult out;
  out.status = conn->res.result_int();
  out.body = conn->res.body();
  co_return out;
}

TlsResult https_post_sync(const std::string& ca_file, std::uint16_t port, const std::string& target,
                          const std::string& body) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  asio::io_context io;
  auto result = asio::co_spawn(io, https_post(ctx, port, target, body), asio::use_future);
  io.run();
  return result.get();
}

FakeProviderOptions tls_options(const TestCa& ca) {
  FakeProviderOptions options;
  options.tls_cert_file = ca.server_cert;
  options.tls_key_file = ca.server_key;
  return options;
}

TEST(FakeProviderTlsTest, ServesHttpsVerifiedByTheTestCa) {
  const TempDir dir("fake-provider-tls");
  const TestCa ca = make_test_ca(dir.path());
  FakeProvider fake(tls_options(ca));
  fake.start();
  EXPECT_EQ(fake.base_url(), "https://127.0.0.1:" + std::to_string(fake.port()) + "/v1");
  const TlsResult res = https_post_sync(ca.ca_cert, fake.port(), kChat, chat_body());
  ASSERT_FALSE(res.ec) << res.ec.message();
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(json::parse(res.body)["object"], "chat.completion");
}

TEST(FakeProviderTlsTest, CertificateFromAnotherCaIsRejected) {
  const TempDir dir("fake-provider-tls");
  const TestCa trusted = make_test_ca(dir.path());
  const TestCa other = make_self_signed_untrusted(dir.path());
  FakeProvider fake(tls_options(other));
  fake.start();
  const TlsResult res = https_post_sync(trusted.ca_cert, fake.port(), kChat, chat_body());
  EXPECT_TRUE(res.ec);
  EXPECT_EQ(fake.request_count(), 0u);
}

}  // namespace
}  // namespace tollgate::testing
