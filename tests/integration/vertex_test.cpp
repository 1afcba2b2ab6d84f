// `vertex_ai/` deployments through the whole gateway: the service account's JWT is exchanged for an
// access token at the fake's token endpoint (which verifies the RS256 signature), the token is
// cached and reused, renewed near expiry, and Vertex's generateContent paths (answered as Gemini by
// the fake) get it as a bearer token.
#include <fstream>

#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"
#include "support/fake_google_auth.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

const RsaKeyPair& keys() {
  static const RsaKeyPair pair = make_rsa_key_pair();
  return pair;
}

class VertexTest : public VendorTest {
 protected:
  VertexTest() : VendorTest("vx", FakeProviderOptions{.google_public_key_pem = keys().public_pem}) {}

  // A service-account JSON whose token_uri is the fake's (`token_controls` e.g. "/expires_in=60").
  std::string account(const std::string& private_pem, const std::string& token_controls = "") const {
    return json{{"type", "service_account"},
                {"project_id", "proj-from-key"},
                {"private_key", private_pem},
                {"client_email", "svc@proj.iam.gserviceaccount.com"},
                {"token_uri", fake_root(fake_.port()) + token_controls + "/token"}}
        .dump();
  }
  std::string account_file(const std::string& text) const {
    const std::string path = dir_.file("sa-" + std::to_string(++files_) + ".json");
    std::ofstream(path) << text;
    return path;
  }
  // Group `vx`: one Vertex deployment whose api_base points at the fake (controls in its path).
  std::string config(const std::string& credentials, const std::string& controls = "", const std::string& params = "") const {
    return model_list(group_, {{"a", controls}},
                      [&](const std::string& id, const std::string& path_controls) {
                        return "model: vertex_ai/gemini-1.5-pro, api_base: \"" +
                               fake_deployment_root(fake_.port(), id, path_controls) +
                               "\", vertex_project: my-proj, vertex_location: europe-west4, vertex_credentials: " +
                               credentials + params;
                      }) +
           settings_yaml();
  }
  std::vector<RecordedRequest> vertex_calls() const {
    std::vector<RecordedRequest> out;
    for (auto& r : fake_.requests()) {
      if (r.target.find("/publishers/google/models/") != std::string::npos) out.push_back(r);
    }
    return out;
  }
  // One user message.
  json chat(const std::string& text, const json& extra = json::object()) const {
    return VendorTest::chat(json::array({user(text)}), extra);
  }

  TempDir dir_{"tollgate-vertex"};
  mutable int files_ = 0;
};

TEST_F(VertexTest, TokenIsFetchedOnceAndReusedAcrossCalls) {
  Gateway gw(config(account_file(account(keys().private_pem)), "prompt_tokens=1000/completion_tokens=100",
                    ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000004"));
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = gw.post("/v1/chat/completions", chat("Hi").dump());
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "Hello from the fake provider.");
    EXPECT_EQ(r.json()["usage"]["prompt_tokens"], 1000);
    EXPECT_NEAR(std::stod(r.header("x-litellm-response-cost")), 0.0014, 1e-12);
  }
  EXPECT_EQ(fake_.google_tokens_issued(), 1u);
  const auto calls = vertex_calls();
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.headers.at("authorization"), "Bearer ya29.fake-1");
    // api_base's path (the fake's controls) is kept as a prefix.
    EXPECT_TRUE(c.target.starts_with("/dep=a/")) << c.target;
    EXPECT_TRUE(c.target.ends_with("/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-1.5-pro:generateContent"))
        << c.target;
    EXPECT_EQ(c.headers.count("x-goog-api-key"), 0u);
  }
}

TEST_F(VertexTest, StreamWithUsageUsesTheSameToken) {
  // The credentials as JSON text from the environment, as `os.environ/...` works for any param.
  Gateway gw(config("os.environ/VERTEX_SA_JSON", "chunks=3"), {{"VERTEX_SA_JSON", account(keys().private_pem)}});
  HttpResponse r = gw.post("/v1/chat/completions",
                           chat("Hi", {{"stream", true}, {"stream_options", {{"include_usage", true}}}}).dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const StreamText st = parse_stream(r.body);
  EXPECT_EQ(st.text, "Hello from the fake provider.");
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.usage["prompt_tokens"], 11);
  EXPECT_EQ(st.usage["completion_tokens"], 7);
  ASSERT_EQ(vertex_calls().size(), 1u);
  EXPECT_NE(vertex_calls()[0].target.find(":streamGenerateContent?alt=sse"), std::string::npos);
  EXPECT_EQ(fake_.google_tokens_issued(), 1u);
}

TEST_F(VertexTest, TokenIsRenewedWhenItIsAboutToExpire) {
  // Tokens valid for 60 s are within the renewal margin at once: every call fetches a new one.
  Gateway gw(config(account_file(account(keys().private_pem, "/expires_in=60"))));
  for (int i = 1; i <= 2; ++i) {
    HttpResponse r = gw.post("/v1/chat/completions", chat("Hi").dump());
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(vertex_calls().back().headers.at("authorization"), "Bearer ya29.fake-" + std::to_string(i));
  }
  EXPECT_EQ(fake_.google_tokens_issued(), 2u);
}

TEST_F(VertexTest, AKeyTheTokenEndpointRefusesIsA401AndNoCallIsMade) {
  Gateway gw(config(account_file(account(make_rsa_key_pair().private_pem))));
  HttpResponse r = gw.post("/v1/chat/completions", chat("Hi").dump());
  EXPECT_EQ(r.status, 401u) << r.body;
  EXPECT_NE(r.body.find("Invalid JWT Signature"), std::string::npos) << r.body;
  EXPECT_EQ(fake_.google_tokens_issued(), 0u);
  EXPECT_TRUE(vertex_calls().empty());

  Gateway unreadable(config(account_file(account("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))));
  HttpResponse garbage = unreadable.post("/v1/chat/completions", chat("Hi").dump());
  EXPECT_EQ(garbage.status, 401u) << garbage.body;
  EXPECT_TRUE(vertex_calls().empty());
}

TEST_F(VertexTest, VendorErrorsKeepTheirClass) {
  Gateway gw(config(account_file(account(keys().private_pem)), "status=429"));
  HttpResponse r = gw.post("/v1/chat/completions", chat("Hi").dump());
  EXPECT_EQ(r.status, 429u) << r.body;
  EXPECT_EQ(r.json()["error"]["type"], "rate_limit_error");
}

}  // namespace
}  // namespace tollgate::testing
