#include "providers/gemini/vertex_provider.hpp"

#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "providers/gemini/google_auth.hpp"
#include "support/fake_google_auth.hpp"
#include "support/temp_dir.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

constexpr std::int64_t kNow = 1'700'000'000;

// One key pair for the suite: RSA generation takes a while.
const testing::RsaKeyPair& keys() {
  static const testing::RsaKeyPair pair = testing::make_rsa_key_pair();
  return pair;
}

std::string service_account_json(const std::string& private_pem, const std::string& token_uri = "https://oauth2.googleapis.com/token") {
  return json{{"type", "service_account"},       {"project_id", "proj-from-key"}, {"private_key_id", "k1"},
              {"private_key", private_pem},      {"client_email", "svc@proj-from-key.iam.gserviceaccount.com"},
              {"token_uri", token_uri}}
      .dump();
}

config::Deployment vertex_deployment(const std::string& credentials, json extra = json::object()) {
  config::Deployment d;
  d.provider = "vertex_ai";
  d.model = "gemini-1.5-pro";
  d.litellm_params = {{"model", "vertex_ai/gemini-1.5-pro"}, {"vertex_credentials", credentials}};
  d.litellm_params.update(extra);
  return d;
}

api::ParsedRequest parsed(const std::string& body) {
  static std::vector<std::unique_ptr<std::string>> keep;  // ParsedRequest views its body
  keep.push_back(std::make_unique<std::string>(body));
  auto p = api::parse_request(*keep.back(), api::Endpoint::kChatCompletions);
  EXPECT_TRUE(p);
  return *p;
}

TEST(GoogleAuthTest, JwtIsRs256SignedWithTheServiceAccountKeyAndHasGooglesClaims) {
  auto account = google::parse_service_account(service_account_json(keys().private_pem));
  ASSERT_TRUE(account) << account.error().message;
  auto jwt = google::service_account_jwt(*account, kNow);
  ASSERT_TRUE(jwt) << jwt.error().message;
  const std::size_t dot1 = jwt->find('.');
  const std::size_t dot2 = jwt->rfind('.');
  ASSERT_NE(dot1, dot2);
  EXPECT_EQ(json::parse(*testing::base64url_decode(jwt->substr(0, dot1))), json::parse(R"({"alg":"RS256","typ":"JWT"})"));
  const json claims = json::parse(*testing::base64url_decode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(claims["iss"], "svc@proj-from-key.iam.gserviceaccount.com");
  EXPECT_EQ(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
  EXPECT_EQ(claims["aud"], "https://oauth2.googleapis.com/token");
  EXPECT_EQ(claims["iat"], kNow);
  EXPECT_EQ(claims["exp"], kNow + 3600);
  const std::string signature = *testing::base64url_decode(jwt->substr(dot2 + 1));
  EXPECT_TRUE(testing::verify_rs256(keys().public_pem, jwt->substr(0, dot2), signature));
  EXPECT_FALSE(testing::verify_rs256(testing::make_rsa_key_pair().public_pem, jwt->substr(0, dot2), signature))
      << "another key's public half must not verify it";
  EXPECT_FALSE(testing::verify_rs256(keys().public_pem, jwt->substr(0, dot2) + "x", signature));
  EXPECT_EQ(jwt->find('='), std::string::npos) << "base64url without padding";
}

TEST(GoogleAuthTest, Base64UrlMatchesRfc4648Vectors) {
  EXPECT_EQ(google::base64url(""), "");
  EXPECT_EQ(google::base64url("f"), "Zg");
  EXPECT_EQ(google::base64url("fo"), "Zm8");
  EXPECT_EQ(google::base64url("foo"), "Zm9v");
  EXPECT_EQ(google::base64url("foob"), "Zm9vYg");
  EXPECT_EQ(google::base64url("\xfb\xff"), "-_8");
}

TEST(GoogleAuthTest, BadCredentialsAndRefusedTokensAre401s) {
  EXPECT_EQ(google::parse_service_account("not json").error().status, 401u);
  EXPECT_EQ(google::parse_service_account(R"({"type":"authorized_user","client_id":"x"})").error().status, 401u);
  EXPECT_EQ(google::parse_service_account(R"({"type":"service_account"})").error().status, 401u);
  auto garbage_key = google::parse_service_account(service_account_json("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  ASSERT_TRUE(garbage_key);
  auto jwt = google::service_account_jwt(*garbage_key, kNow);
  ASSERT_FALSE(jwt);
  EXPECT_EQ(jwt.error().status, 401u);

  auto token = google::parse_token_response(200, R"({"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"})", kNow);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->token, "ya29.x");
  EXPECT_EQ(token->expires_at, kNow + 3599);
  auto refused = google::parse_token_response(400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})", kNow);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 401u);
  EXPECT_NE(refused.error().message.find("Invalid JWT Signature."), std::string::npos);
  EXPECT_FALSE(google::parse_token_response(200, "{}", kNow));
  EXPECT_FALSE(google::parse_token_response(200, "<html>", kNow));
}

TEST(VertexProviderTest, FetchesATokenThenUsesItUntilAMinuteBeforeExpiry) {
  VertexProvider p;
  const config::Deployment d = vertex_deployment(service_account_json(keys().private_pem), {{"vertex_project", "my-proj"},
                                                                                            {"vertex_location", "europe-west4"}});
  auto first = p.token_request(d, kNow);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->has_value());
  const http::UpstreamRequest& token_req = **first;
  EXPECT_EQ(token_req.url.host, "oauth2.googleapis.com");
  EXPECT_EQ(token_req.target, "/token");
  EXPECT_TRUE(token_req.body.starts_with("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="));
  ASSERT_FALSE(p.accept_token(d, 200, R"({"access_token":"ya29.one","expires_in":3600})", kNow));

  auto cached = p.token_request(d, kNow + 3539);
  ASSERT_TRUE(cached);
  EXPECT_FALSE(cached->has_value()) << "still more than 60 s left";
  auto renewed = p.token_request(d, kNow + 3540);
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(renewed->has_value()) << "60 s before expiry the token is renewed";

  auto base = http::Url::parse("https://us-central1-aiplatform.googleapis.com");
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions,
                             parsed(R"({"model":"g","messages":[{"role":"user","content":"hi"}],"stream":true})"), d.model, true);
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->url.host, "europe-west4-aiplatform.googleapis.com") << "the host follows vertex_location";
  EXPECT_EQ(req->target,
            "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-1.5-pro:streamGenerateContent?alt=sse");
  std::map<std::string, std::string> headers(req->headers.begin(), req->headers.end());
  EXPECT_EQ(headers["authorization"], "Bearer ya29.one");
  EXPECT_EQ(headers.count("x-goog-api-key"), 0u);
  EXPECT_TRUE(json::parse(req->body).contains("contents")) << "Gemini's request format";
}

TEST(VertexProviderTest, ApiBaseReplacesTheHostAndTheProjectDefaultsToTheKeys) {
  VertexProvider p;
  const config::Deployment d = vertex_deployment(service_account_json(keys().private_pem), {{"api_base", "http://127.0.0.1:9/dep=a"}});
  auto base = http::Url::parse("http://127.0.0.1:9/dep=a");
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions,
                             parsed(R"({"model":"g","messages":[{"role":"user","content":"hi"}]})"), d.model, true);
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->url.host, "127.0.0.1");
  EXPECT_EQ(req->target, "/dep=a/v1/projects/proj-from-key/locations/us-central1/publishers/google/models/gemini-1.5-pro:generateContent");
  EXPECT_EQ(vertex_default_base("global"), "https://aiplatform.googleapis.com");
}

TEST(VertexProviderTest, CredentialsFromAFileAreReadOnceAndBadOnesAreA401) {
  testing::TempDir dir("tollgate-vertex");
  const std::string path = dir.file("sa.json");
  {
    std::ofstream(path) << service_account_json(keys().private_pem);
  }
  VertexProvider p;
  const config::Deployment d = vertex_deployment(path, {{"vertex_project", "p"}});
  auto first = p.token_request(d, kNow);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->has_value());
  std::ofstream(path, std::ios::trunc) << "overwritten";
  EXPECT_TRUE(p.token_request(d, kNow)) << "parsed once per credentials value, not per request";

  for (const std::string& bad : {std::string("/nonexistent/sa.json"), std::string(R"({"type":"service_account"})"),
                                 service_account_json("not a key")}) {
    auto refused = p.token_request(vertex_deployment(bad), kNow);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().status, 401u);
  }
  auto denied = p.accept_token(d, 400, R"({"error":"invalid_grant"})", kNow);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401u);
}

TEST(VertexProviderTest, WithoutCredentialsNoTokenIsFetchedAndAProjectIsRequired) {
  VertexProvider p;
  config::Deployment d;
  d.provider = "vertex_ai";
  d.model = "gemini-1.5-pro";
  d.litellm_params = {{"model", "vertex_ai/gemini-1.5-pro"}};
  auto none = p.token_request(d, kNow);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto base = http::Url::parse("https://us-central1-aiplatform.googleapis.com");
  auto req = p.build_request(d, *base, api::Endpoint::kChatCompletions,
                             parsed(R"({"model":"g","messages":[{"role":"user","content":"hi"}]})"), d.model, true);
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().status, 400u);
}

TEST(VertexProviderTest, RegistryReturnsTheAdapterForTheVertexPrefix) {
  EXPECT_NE(dynamic_cast<const VertexProvider*>(make_provider("vertex_ai").get()), nullptr);
  EXPECT_EQ(dynamic_cast<const VertexProvider*>(make_provider("gemini").get()), nullptr);
}

}  // namespace
}  // namespace tollgate::providers
