// HTTPS upstreams for real: the fake provider serves TLS with a certificate from a CA made by the
// test; the gateway trusts that CA through `litellm_settings.ssl_verify: <path>`.
#include <gtest/gtest.h>

#include "integration/gateway_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

namespace tollgate::testing {
namespace {

std::string tls_config(const std::string& base_url, const std::string& ca_file) {
  return fake_config(base_url, {.top = "litellm_settings: {ssl_verify: \"" + ca_file + "\"}\n"});
}

const char* kChat = R"({"model":"gpt-fake","messages":[{"role":"user","content":"hi"}]})";

TEST(TlsUpstreamTest, TrustedCertificateWorksAndConnectionsAreReused) {
  TempDir dir;
  TestCa ca = make_test_ca(dir.path());
  FakeProvider fake({.tls_cert_file = ca.server_cert, .tls_key_file = ca.server_key});
  fake.start();
  ASSERT_EQ(fake.base_url().substr(0, 8), "https://");
  Gateway gw(tls_config(fake.base_url(), ca.ca_cert));
  HttpConnection conn(gw.port());
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = conn.request("POST", "/v1/chat/completions", kChat, auth_headers());
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  EXPECT_EQ(fake.connections_accepted(), 1u) << "TLS connections are pooled too";
  StreamReader s(gw.port(), "POST", "/v1/chat/completions",
                 R"({"model":"gpt-fake","stream":true,"messages":[{"role":"user","content":"hi"}]})", auth_headers());
  EXPECT_EQ(parse_stream(s.read_all(std::chrono::seconds(5))).text, "Hello from the fake provider.");
}

TEST(TlsUpstreamTest, UntrustedCertificateIsRefusedWithAClearError) {
  TempDir dir;
  TestCa trusted = make_test_ca(dir.path());
  TestCa rogue = make_self_signed_untrusted(dir.path());
  FakeProvider fake({.tls_cert_file = rogue.server_cert, .tls_key_file = rogue.server_key});
  fake.start();
  Gateway gw(tls_config(fake.base_url(), trusted.ca_cert));
  HttpResponse r = gw.post("/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 502u);
  const std::string message = r.json()["error"]["message"];
  EXPECT_NE(message.find("TLS handshake"), std::string::npos) << message;
  EXPECT_NE(message.find("certificate"), std::string::npos) << message;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(TlsUpstreamTest, WrongHostnameIsRefused) {
  TempDir dir;
  TestCa ca = make_test_ca(dir.path());  // valid for 127.0.0.1 and localhost only
  FakeProvider fake({.host = "127.0.0.2", .tls_cert_file = ca.server_cert, .tls_key_file = ca.server_key});
  fake.start();
  Gateway gw(tls_config("https://127.0.0.2:" + std::to_string(fake.port()) + "/v1", ca.ca_cert));
  HttpResponse r = gw.post("/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 502u);
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("TLS handshake"), std::string::npos) << r.body;
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(TlsUpstreamTest, HostnameLocalhostMatchesItsDnsName) {
  TempDir dir;
  TestCa ca = make_test_ca(dir.path());
  FakeProvider fake({.tls_cert_file = ca.server_cert, .tls_key_file = ca.server_key});
  fake.start();
  Gateway gw(tls_config("https://localhost:" + std::to_string(fake.port()) + "/v1", ca.ca_cert));
  EXPECT_EQ(gw.post("/v1/chat/completions", kChat).status, 200u);
}

}  // namespace
}  // namespace tollgate::testing
