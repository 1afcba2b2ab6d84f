// The front ends behind one interface: which paths each serves, what it makes of a request, and
// how it renders answers, streams and errors (the translations themselves: anthropic_messages_test).
#include "tollgate/frontend/front_end.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tollgate::frontend {
namespace {

using nlohmann::json;

const std::string kChat =
    R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";

TEST(FrontEndTest, EachLlmPathHasItsFrontEndAndEndpoint) {
  EXPECT_EQ(serves("/chat/completions")->front_end, &openai());
  EXPECT_EQ(serves("/chat/completions")->endpoint, api::Endpoint::kChatCompletions);
  EXPECT_EQ(serves("/completions")->endpoint, api::Endpoint::kCompletions);
  EXPECT_EQ(serves("/embeddings")->endpoint, api::Endpoint::kEmbeddings);
  EXPECT_EQ(serves("/messages")->front_end, &anthropic());
  EXPECT_EQ(serves("/messages/count_tokens")->front_end, &anthropic());
  EXPECT_FALSE(serves("/models"));
  EXPECT_FALSE(serves("/v1/chat/completions")) << "the caller removes /v1";
}

TEST(FrontEndTest, OpenAiPassesRequestsAndAnswersUnchanged) {
  const FrontEnd& fe = openai();
  auto in = fe.parse("/chat/completions", R"({"model":"m","messages":[]})");
  ASSERT_TRUE(in);
  EXPECT_TRUE(in->translated.empty()) << "the client's body is used as it is";
  EXPECT_FALSE(in->local_answer);
  std::string body = kChat;
  EXPECT_EQ(*fe.render(std::move(body)), kChat);
  EXPECT_EQ(fe.stream_renderer(), nullptr);
  const api::ApiError e = api::make_error(Errc::kUnknownModel, "nope", "model");
  EXPECT_EQ(json::parse(fe.error_body(e))["error"]["message"], "nope");
  std::string tail;
  fe.append_stream_error(tail, e, /*vendor_relayed=*/true);
  EXPECT_TRUE(tail.starts_with("data: ")) << "OpenAI streams always end with the gateway's error chunk";
}

TEST(FrontEndTest, AnthropicTranslatesRequestsAndRendersAnswersAsMessages) {
  const FrontEnd& fe = anthropic();
  auto in = fe.parse("/messages", R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(in);
  const json chat = json::parse(in->translated);
  EXPECT_EQ(chat["model"], "m");
  EXPECT_EQ(chat["messages"][0]["content"], "hi");
  EXPECT_FALSE(fe.parse("/messages", "[]")) << "not a Messages request";

  std::string body = kChat;
  const json message = json::parse(*fe.render(std::move(body)));
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["content"][0]["text"], "hello");
  EXPECT_EQ(message["stop_reason"], "end_turn");

  const api::ApiError e = api::make_error(Errc::kUnknownModel, "nope", "model");
  EXPECT_EQ(json::parse(fe.error_body(e))["type"], "error");
  std::string tail;
  fe.append_stream_error(tail, e, /*vendor_relayed=*/true);
  EXPECT_EQ(tail, "") << "the vendor's own error event already reached the client";
  fe.append_stream_error(tail, e, /*vendor_relayed=*/false);
  EXPECT_TRUE(tail.starts_with("event: error\ndata: "));
}

TEST(FrontEndTest, AnthropicRendersAnOpenAiStreamAsMessageEvents) {
  auto renderer = anthropic().stream_renderer();
  ASSERT_NE(renderer, nullptr);
  std::string out;
  renderer->render(R"(data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"hel"}}]})"
                   "\n\n",
                   out);
  renderer->render(R"(data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
                   "\n\ndata: [DONE]\n\n",
                   out);
  EXPECT_NE(out.find("event: message_start"), std::string::npos);
  EXPECT_NE(out.find("\"text\":\"hel\""), std::string::npos);
  EXPECT_NE(out.find("event: message_stop"), std::string::npos);
}

TEST(FrontEndTest, CountTokensIsAnsweredByTheFrontEnd) {
  auto in = anthropic().parse("/messages/count_tokens",
                              R"({"model":"m","messages":[{"role":"user","content":"hello there"}]})");
  ASSERT_TRUE(in);
  EXPECT_EQ(in->model, "m");
  ASSERT_TRUE(in->local_answer);
  EXPECT_GT(json::parse(*in->local_answer)["input_tokens"].get<int>(), 0);
}

}  // namespace
}  // namespace tollgate::frontend
