// Azure OpenAI deployments (`azure/<deployment>`) through the whole gateway against the fake
// provider, which serves Azure's `/openai/deployments/<name>/...?api-version=` paths and checks
// the `api-key` header: the path and key the upstream saw, streams with usage, and Azure's
// content-filter refusal as the client's content-policy error and a content-policy fallback.
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"
#include "support/fake_openai.hpp"
#include "support/http_client.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

constexpr const char* kAzureKey = "azure-key";

// Azure's documented refusal of a prompt its content filter flagged (a shorter message).
constexpr std::string_view kContentFilterBody =
    R"({"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",)"
    R"("type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation",)"
    R"("content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}})";

std::string chat(const std::string& model, const std::string& extra = "") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}])" + extra + "}";
}

class AzureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.start();
    const std::string root = fake_root(fake_.port());
    const std::string filtered = root + "/dep=strict/status=400/error_body=" + percent_encode(kContentFilterBody);
    auto entry = [](const std::string& group, const std::string& params) {
      return "  - model_name: " + group + "\n    litellm_params: {" + params + ", api_key: " + kAzureKey + "}\n";
    };
    const std::string yaml =
        "model_list:\n" +
        entry("az", "model: azure/my-gpt4o, api_base: \"" + root + "/dep=az/\", api_version: \"2024-06-01\"") +
        entry("az-env", "model: azure/env-dep, api_base: \"" + root + "/dep=env\"") +
        entry("filtered", "model: azure/strict, api_base: \"" + filtered + "\"") +
        entry("guarded", "model: azure/strict, api_base: \"" + filtered + "\"") +
        entry("lenient", "model: azure/lenient, api_base: \"" + root + "/dep=lenient\"") +
        settings_yaml("content_policy_fallbacks: [{guarded: [lenient]}]");
    gw_ = std::make_unique<Gateway>(yaml, std::map<std::string, std::string>{{"AZURE_API_VERSION", "2025-01-01-preview"}});
  }
  // Which deployments the fake saw, in order.
  std::vector<std::string> hits() const {
    std::vector<std::string> out;
    for (const auto& r : fake_.requests()) {
      const auto at = r.target.find("/dep=");
      out.push_back(r.target.substr(at + 5, r.target.find('/', at + 5) - at - 5));
    }
    return out;
  }

  FakeProvider fake_{FakeProviderOptions{.require_api_key = kAzureKey}};
  std::unique_ptr<Gateway> gw_;
};

TEST_F(AzureTest, ChatReachesTheDeploymentPathWithApiVersionAndApiKey) {
  HttpResponse r = gw_->post("/v1/chat/completions", chat("az"));
  ASSERT_EQ(r.status, 200u) << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], std::string(kFakeDefaultContent));
  EXPECT_GT(body["usage"]["total_tokens"].get<int>(), 0);
  ASSERT_EQ(fake_.request_count(), 1u);
  RecordedRequest up = fake_.requests().at(0);
  EXPECT_EQ(up.target, "/dep=az/openai/deployments/my-gpt4o/chat/completions?api-version=2024-06-01");
  EXPECT_EQ(up.headers["api-key"], kAzureKey);
  EXPECT_EQ(up.headers.count("authorization"), 0u);
  EXPECT_EQ(json::parse(up.body)["model"], "my-gpt4o");
}

TEST_F(AzureTest, ApiVersionDefaultsToAzureApiVersionFromTheEnvironment) {
  ASSERT_EQ(gw_->post("/v1/chat/completions", chat("az-env")).status, 200u);
  EXPECT_EQ(fake_.requests().at(0).target, "/dep=env/openai/deployments/env-dep/chat/completions?api-version=2025-01-01-preview");
}

TEST_F(AzureTest, StreamIsRelayedWithUsage) {
  StreamReader s(gw_->port(), "POST", "/v1/chat/completions",
                 chat("az", R"(,"stream":true,"stream_options":{"include_usage":true})"), auth_headers());
  ASSERT_EQ(s.status(), 200u);
  StreamText st = parse_stream(s.read_all(std::chrono::seconds(5)));
  EXPECT_EQ(st.text, std::string(kFakeDefaultContent));
  EXPECT_EQ(st.usage_chunks, 1);
  EXPECT_GT(st.usage["total_tokens"].get<int>(), 0);
  EXPECT_TRUE(st.done);
  RecordedRequest up = fake_.requests().at(0);
  EXPECT_EQ(up.target, "/dep=az/openai/deployments/my-gpt4o/chat/completions?api-version=2024-06-01");
  EXPECT_EQ(up.headers["api-key"], kAzureKey);
}

TEST_F(AzureTest, ContentFilterRefusalIsTheClientsContentPolicyError) {
  HttpResponse r = gw_->post("/v1/chat/completions", chat("filtered"));
  ASSERT_EQ(r.status, 400u) << r.body;
  const json err = json::parse(r.body)["error"];
  EXPECT_EQ(err["code"], "content_policy_violation");
  EXPECT_EQ(err["type"], "invalid_request_error");
  EXPECT_NE(err["message"].get<std::string>().find("content management policy"), std::string::npos);
  EXPECT_EQ(hits(), std::vector<std::string>{"strict"}) << "a refusal is not retried";
}

TEST_F(AzureTest, ContentPolicyFallbackAnswersAfterTheRefusal) {
  HttpResponse r = gw_->post("/v1/chat/completions", chat("guarded"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.body)["choices"][0]["message"]["content"], std::string(kFakeDefaultContent));
  EXPECT_EQ(hits(), (std::vector<std::string>{"strict", "lenient"}));
  EXPECT_EQ(fake_.requests().at(1).target, "/dep=lenient/openai/deployments/lenient/chat/completions?api-version=2025-01-01-preview");
}

}  // namespace
}  // namespace tollgate::testing
