// The fake provider's sans-IO parts: control parsing and reply planning, no sockets.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/fake_controls.hpp"
#include "support/fake_openai.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

FakeExchange plan(std::string_view method, std::string_view target, const json& body, std::string_view auth = {},
                  std::string_view required = {}) {
  const std::string text = body.is_null() ? std::string{} : body.dump();
  return plan_exchange(FakeRequest{.method = method, .target = target, .body = text, .authorization = auth, .seq = 42},
                       required);  // keeps no views
}

// Splits a reply's events into the JSON payloads of their `data:` lines.
std::vector<std::string> data_lines(const FakeReply& r) {
  std::vector<std::string> out;
  for (const std::string& event : r.events) {
    std::size_t pos = 0;
    while (pos < event.size()) {
      const std::size_t end = event.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << event;
      EXPECT_EQ(event.compare(pos, 6, "data: "), 0) << event;
      out.push_back(event.substr(pos + 6, end - pos - 6));
      pos = end + 2;
    }
  }
  return out;
}

TEST(FakeControlsTest, SplitTargetReadsTypedPrefixSegments) {
  const FakeTarget t = split_fake_target("/status=503/hang=true/content=hi%20there/v1/chat/completions?a=b");
  EXPECT_EQ(t.path, "/v1/chat/completions");
  EXPECT_EQ(t.query, "a=b");
  EXPECT_EQ(t.controls["status"], 503);
  EXPECT_EQ(t.controls["hang"], true);
  EXPECT_EQ(t.controls["content"], "hi there");
}

TEST(FakeControlsTest, TargetWithoutPrefixIsUnchanged) {
  const FakeTarget t = split_fake_target("/v1/models");
  EXPECT_EQ(t.path, "/v1/models");
  EXPECT_TRUE(t.controls.empty());
}

TEST(FakeControlsTest, BodyWinsOverPath) {
  const FakeControls c = parse_fake_controls(json{{"status", 500}, {"chunks", 5}},
                                             json{{"fake", {{"status", 429}, {"retry_after", "2"}}}});
  EXPECT_EQ(c.status, 429u);
  EXPECT_EQ(c.chunks, 5);
  EXPECT_EQ(c.retry_after, 2);
}

TEST(FakeOpenAiTest, StreamSplitsContentIntoChunksWithoutBreakingUtf8) {
  const auto ex = plan("POST", "/v1/chat/completions",
                       json{{"model", "m"},
                            {"messages", json::array()},
                            {"stream", true},
                            {"fake", {{"content", "héllo wörld"}, {"chunks", 7}}}});
  const auto lines = data_lines(ex.reply);
  ASSERT_EQ(lines.size(), 1u + 7u + 1u + 1u);  // role, content, finish, [DONE]
  std::string text;
  for (std::size_t i = 1; i <= 7; ++i) {
    const json chunk = json::parse(lines[i]);
    text += chunk["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "héllo wörld");
  EXPECT_EQ(lines.back(), "[DONE]");
}

TEST(FakeOpenAiTest, MalformedAtCountsAfterTheRoleChunk) {
  const auto ex =
      plan("POST", "/v1/chat/completions",
           json{{"model", "m"}, {"messages", json::array()}, {"stream", true}, {"fake", {{"malformed_at", 2}}}});
  ASSERT_GE(ex.reply.events.size(), 3u);
  EXPECT_EQ(ex.reply.events[2], "data: {this is not json\n\n");
  EXPECT_TRUE(json::parse(ex.reply.events[1].substr(6), nullptr, false).is_object());
}

TEST(FakeOpenAiTest, ChoicesHonourN) {
  const auto ex = plan("POST", "/v1/chat/completions", json{{"model", "m"}, {"messages", json::array()}, {"n", 3}});
  const json body = json::parse(ex.reply.body);
  ASSERT_EQ(body["choices"].size(), 3u);
  EXPECT_EQ(body["choices"][2]["index"], 2);
  EXPECT_EQ(body["usage"]["completion_tokens"], 21);
}

TEST(FakeOpenAiTest, WrongKeyIs401) {
  const auto ex = plan("GET", "/v1/models", json(), "Bearer nope", "sk-right");
  EXPECT_EQ(ex.reply.status, 401u);
  EXPECT_EQ(json::parse(ex.reply.body)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(plan("GET", "/v1/models", json(), "Bearer sk-right", "sk-right").reply.status, 200u);
}

TEST(FakeOpenAiTest, AzureDeploymentPathsAreServedWithTheApiKeyHeader) {
  const std::string body = json{{"model", "dep"}, {"messages", json::array()}}.dump();
  auto azure = [&](std::string_view target, std::string_view api_key) {
    return plan_exchange(FakeRequest{.method = "POST", .target = target, .body = body, .api_key = api_key, .seq = 1}, "k")
        .reply;
  };
  const FakeReply ok = azure("/dep=a/openai/deployments/dep/chat/completions?api-version=2024-10-21", "k");
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["object"], "chat.completion");
  EXPECT_EQ(azure("/openai/deployments/dep/chat/completions?api-version=2024-10-21", "wrong").status, 401u);
  EXPECT_EQ(azure("/openai/deployments/dep/chat/completions", "k").status, 404u) << "api-version is required";
}

TEST(FakeOpenAiTest, EmbeddingsOnePerInputAndBase64IsFloat32) {
  const auto ex =
      plan("POST", "/v1/embeddings", json{{"model", "e"}, {"input", {"a", "b", "c"}}, {"encoding_format", "base64"}});
  const json body = json::parse(ex.reply.body);
  ASSERT_EQ(body["data"].size(), 3u);
  EXPECT_EQ(body["data"][1]["index"], 1);
  EXPECT_EQ(body["data"][0]["embedding"].get<std::string>().size(), 44u);  // 32 bytes -> 44 base64 chars
  EXPECT_EQ(body["usage"]["prompt_tokens"], 3);
}

}  // namespace
}  // namespace tollgate::testing
