// The Azure OpenAI adapter on transcripts of Azure's answers (tests/data/azure/): the request it
// builds, and Azure's responses, streams and errors as the client and the router see them.
#include "providers/azure/azure_provider.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tollgate/http/sse_decoder.hpp"
#include "unit/providers/failure_support.hpp"
#include "unit/providers/transcript.hpp"

namespace tollgate::providers {
namespace {

using nlohmann::json;

std::string transcript(std::string_view name) { return providers::transcript("azure", name); }

std::string header(const http::UpstreamRequest& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

config::Deployment azure_deployment() {
  config::Deployment d;
  d.provider = "azure";
  d.model = "my-gpt4o";
  d.api_base = "https://myres.openai.azure.com";
  d.api_key = "azure-key";
  d.api_version = "2024-06-01";
  return d;
}

http::UpstreamRequest build(const config::Deployment& d, api::Endpoint endpoint, std::string_view body) {
  AzureProvider p;
  auto base = http::Url::parse(d.api_base);
  EXPECT_TRUE(base);
  auto parsed = api::parse_request(body, endpoint);
  EXPECT_TRUE(parsed);
  auto req = p.build_request(d, *base, endpoint, *parsed, d.model, true);
  EXPECT_TRUE(req);
  return *req;
}

constexpr std::string_view kChat = R"({"model":"group","messages":[{"role":"user","content":"hi"}],"stream":true})";

TEST(AzureProviderTest, RequestGoesToTheDeploymentPathWithApiVersionAndApiKey) {
  const http::UpstreamRequest req = build(azure_deployment(), api::Endpoint::kChatCompletions, kChat);
  EXPECT_EQ(req.url.host, "myres.openai.azure.com");
  EXPECT_TRUE(req.url.tls);
  EXPECT_EQ(req.target, "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-06-01");
  EXPECT_EQ(header(req, "api-key"), "azure-key");
  EXPECT_EQ(header(req, "authorization"), "<absent>");
  json body = json::parse(req.body);
  EXPECT_EQ(body["model"], "my-gpt4o") << "Azure ignores it; the deployment name is kept";
  EXPECT_EQ(body["stream_options"]["include_usage"], true) << "the OpenAI body rules apply";
}

TEST(AzureProviderTest, EveryEndpointAndTheDefaultApiVersion) {
  config::Deployment d = azure_deployment();
  d.api_version.clear();
  d.api_base = "https://myres.openai.azure.com/";  // as written; the loader strips it, Url tolerates it
  EXPECT_EQ(build(d, api::Endpoint::kEmbeddings, R"({"model":"g","input":"x"})").target,
            "/openai/deployments/my-gpt4o/embeddings?api-version=" + std::string(kAzureDefaultApiVersion));
  EXPECT_EQ(build(d, api::Endpoint::kCompletions, R"({"model":"g","prompt":"x"})").target,
            "/openai/deployments/my-gpt4o/completions?api-version=" + std::string(kAzureDefaultApiVersion));
}

TEST(AzureProviderTest, ApiBaseFormsThatAlreadyCarryTheAzurePath) {
  const auto chat = api::Endpoint::kChatCompletions;
  EXPECT_EQ(azure_target("/openai", "dep", chat, "v"), "/openai/deployments/dep/chat/completions?api-version=v");
  EXPECT_EQ(azure_target("/openai/deployments/other", "dep", chat, "v"),
            "/openai/deployments/other/chat/completions?api-version=v")
      << "a base naming a deployment is used as given";
  EXPECT_EQ(azure_target("/openai/v1", "dep", chat, "v"), "/openai/v1/chat/completions")
      << "Azure's v1 API takes OpenAI's paths and no api-version";
  EXPECT_EQ(azure_target("/proxy", "my dep", chat, "2024-10-21"),
            "/proxy/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21");
}

TEST(AzureProviderTest, AzureAdTokenIsSentAsBearerInsteadOfTheKey) {
  config::Deployment d = azure_deployment();
  d.litellm_params = {{"model", "azure/my-gpt4o"}, {"azure_ad_token", "entra-token"}};
  const http::UpstreamRequest req = build(d, api::Endpoint::kChatCompletions, kChat);
  EXPECT_EQ(header(req, "authorization"), "Bearer entra-token");
  EXPECT_EQ(header(req, "api-key"), "<absent>");
}

TEST(AzureProviderTest, ContentFilterErrorBecomesOpenAisContentPolicyViolation) {
  AzureProvider p;
  const std::string azure_body = transcript("content_filter_error.json");
  const UpstreamFailure f = p.classify_error(400, azure_body, {}, 0);
  const api::ApiError& e = f.error;
  EXPECT_EQ(e.status, 400u);
  EXPECT_EQ(e.code, "content_policy_violation");
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_NE(e.message.find("content management policy"), std::string::npos) << e.message;
  ASSERT_TRUE(e.param);
  EXPECT_EQ(*e.param, "prompt");
  // Both what Azure sent and what the client receives read as content policy.
  EXPECT_EQ(f.cls, config::ErrorClass::kContentPolicy);
  EXPECT_EQ(read_downstream(e), config::ErrorClass::kContentPolicy);
  // Only the inner code set (older api-versions) is enough too.
  const api::ApiError inner = p.classify_error(
      400, R"({"error":{"message":"filtered","code":null,"innererror":{"code":"ResponsibleAIPolicyViolation"}}})", {}, 0).error;
  EXPECT_EQ(inner.code, "content_policy_violation");
  EXPECT_EQ(read_downstream(inner), config::ErrorClass::kContentPolicy);
}

TEST(AzureProviderTest, OtherErrorsMapAsOpenAisWithRetryAfter) {
  AzureProvider p;
  const api::ApiError e = p.classify_error(
      429, R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded call rate limit."}})",
      retry_after("12"), 0).error;
  EXPECT_EQ(e.status, 429u);
  EXPECT_EQ(e.code, "429");
  EXPECT_EQ(e.type, "rate_limit_error");
  ASSERT_TRUE(e.retry_after);
  EXPECT_EQ(e.retry_after->count(), 12);
  EXPECT_EQ(p.classify_error(400, R"({"error":{"code":"BadRequest","message":"bad"}})", {}, 0).error.code, "400");
}

TEST(AzureProviderTest, ResponseWithFilterResultsPassesThroughWithUsage) {
  AzureProvider p;
  const std::string body = transcript("chat_response.json");
  Usage u;
  auto out = p.translate_response(api::Endpoint::kChatCompletions, body, u);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, body);
  EXPECT_EQ(u.prompt_tokens, 9);
  EXPECT_EQ(u.completion_tokens, 7);
  EXPECT_EQ(u.total_tokens, 16);
}

TEST(AzureProviderTest, StreamEndingInContentFilterPassesThroughUnchangedWithUsage) {
  AzureProvider p;
  const std::string upstream = transcript("chat_stream_content_filter.sse");
  auto t = p.make_stream_translator(true);
  const std::string out = relay(*t, upstream);
  EXPECT_EQ(out, upstream);
  EXPECT_NE(out.find(R"("finish_reason":"content_filter")"), std::string::npos);
  EXPECT_TRUE(t->finished());
  EXPECT_EQ(t->usage().prompt_tokens, 11);
  EXPECT_EQ(t->usage().completion_tokens, 2);
}

TEST(AzureProviderTest, RegistryNamesTheAzureAdapter) {
  auto azure = make_provider("azure");
  ASSERT_TRUE(azure);
  EXPECT_NE(dynamic_cast<const AzureProvider*>(azure.get()), nullptr);
  EXPECT_EQ(dynamic_cast<const AzureProvider*>(make_provider("openai").get()), nullptr);
}

}  // namespace
}  // namespace tollgate::providers
