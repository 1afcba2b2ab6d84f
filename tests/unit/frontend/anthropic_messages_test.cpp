// The Anthropic front end's translators (POST /v1/messages to any model group), on transcripts
// under tests/data/anthropic/inbound/ written from Anthropic's and OpenAI's API references.
#include "frontend/anthropic/messages_translate.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "unit/providers/transcript.hpp"

namespace tollgate::frontend {
namespace {

using providers::transcript;

using nlohmann::json;

std::string data_file(std::string_view name) { return transcript("anthropic/inbound", name); }

api::ApiError request_error(const std::string& body) {
  auto out = messages_request_to_chat(body);
  EXPECT_FALSE(out) << "translated to " << (out ? *out : "");
  return out ? api::ApiError{} : out.error();
}

// "<event> <data>" per Anthropic SSE event.
std::vector<std::string> events_of(std::string_view sse) {
  http::SseDecoder d;
  std::vector<http::SseEvent> events;
  d.feed(sse, events);
  EXPECT_EQ(d.pending_bytes(), 0u);
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.event + " " + e.data);
  return out;
}

TEST(AnthropicMessagesTest, RequestWithSystemImagesToolsAndResultsBecomesChat) {
  auto out = messages_request_to_chat(data_file("tools_request.json"));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("tools_request.expected.json"))) << *out;
}

TEST(AnthropicMessagesTest, PlainRequestStaysMinimal) {
  auto out = messages_request_to_chat(
      R"({"model":"m","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(R"({"model":"m","messages":[{"role":"system","content":"Be brief."},
    {"role":"user","content":"Hi"}],"max_tokens":10})"));
}

TEST(AnthropicMessagesTest, ToolChoiceForms) {
  auto choice_of = [](std::string_view choice) {
    auto out = messages_request_to_chat(std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],)") +
                                        R"("tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":)" +
                                        std::string(choice) + "}");
    EXPECT_TRUE(out);
    return out ? json::parse(*out)["tool_choice"] : json();
  };
  EXPECT_EQ(choice_of(R"({"type":"auto"})"), "auto");
  EXPECT_EQ(choice_of(R"({"type":"none"})"), "none");
  EXPECT_EQ(choice_of(R"({"type":"tool","name":"f"})"), json::parse(R"({"type":"function","function":{"name":"f"}})"));
}

TEST(AnthropicMessagesTest, BadRequestsAreClear400s) {
  EXPECT_EQ(request_error("{not json").errc, Errc::kInvalidJson);
  EXPECT_EQ(request_error(R"({"messages":[{"role":"user","content":"x"}]})").param, "model");
  EXPECT_EQ(request_error(R"({"model":"m","messages":[]})").status, 400u);
  EXPECT_NE(request_error(R"({"model":"m","messages":[{"role":"system","content":"x"}]})").message.find("role"),
            std::string::npos);
  EXPECT_NE(request_error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{}}]}]})")
                .message.find("document"),
            std::string::npos);
  EXPECT_NE(request_error(R"({"model":"m","messages":[{"role":"user","content":"x"}],
                             "tools":[{"type":"web_search_20250305","name":"web_search"}]})")
                .message.find("Anthropic deployments"),
            std::string::npos);
  EXPECT_EQ(request_error(R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})").param,
            "max_tokens");
  EXPECT_EQ(request_error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result"}]}]})").status,
            400u);
}

TEST(AnthropicMessagesTest, ChatResponseBecomesMessageWithAnthropicUsage) {
  auto out = chat_response_to_message(data_file("tool_calls_response.json"));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(json::parse(*out), json::parse(data_file("tool_calls_response.expected.json"))) << *out;
}

TEST(AnthropicMessagesTest, FinishReasonsAndReasoning) {
  auto message_of = [](std::string_view finish, std::string_view extra = "") {
    auto out = chat_response_to_message(std::string(R"({"id":"chatcmpl-1","model":"m","choices":[{"message":{"content":"a")") +
                                        std::string(extra) + R"(},"finish_reason":")" + std::string(finish) +
                                        R"("}],"usage":{"prompt_tokens":3,"completion_tokens":1}})");
    EXPECT_TRUE(out);
    return out ? json::parse(*out) : json();
  };
  EXPECT_EQ(message_of("stop")["stop_reason"], "end_turn");
  EXPECT_EQ(message_of("length")["stop_reason"], "max_tokens");
  EXPECT_EQ(message_of("content_filter")["stop_reason"], "refusal");
  const json thought = message_of("stop", R"(,"reasoning_content":"hmm")");
  EXPECT_EQ(thought["content"][0]["type"], "thinking");
  EXPECT_EQ(thought["content"][0]["thinking"], "hmm");
  EXPECT_EQ(thought["content"][1]["text"], "a");
  EXPECT_FALSE(chat_response_to_message(R"({"choices":[]})"));
}

TEST(AnthropicMessagesTest, StreamBecomesAnthropicEventsInAnySplit) {
  const std::string sse = data_file("stream_tool_calls.sse");
  std::istringstream expected(data_file("stream_tool_calls.expected.events"));
  std::vector<std::string> want;
  for (std::string line; std::getline(expected, line);) want.push_back(line);
  for (std::size_t split : {std::size_t{1}, std::size_t{7}, std::size_t{64}, sse.size()}) {
    MessagesStreamWriter writer;
    std::string out;
    for (std::size_t i = 0; i < sse.size(); i += split) writer.translate(std::string_view(sse).substr(i, split), out);
    const std::vector<std::string> got = events_of(out);
    ASSERT_EQ(got.size(), want.size()) << out;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const auto space = want[i].find(' ');
      EXPECT_EQ(got[i].substr(0, space), want[i].substr(0, space)) << i;
      EXPECT_EQ(json::parse(got[i].substr(space + 1)), json::parse(want[i].substr(space + 1))) << i;
    }
  }
}

TEST(AnthropicMessagesTest, StreamErrorBecomesErrorEvent) {
  MessagesStreamWriter writer;
  std::string out;
  writer.translate(R"(data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]})"
                   "\n\n"
                   R"(data: {"error":{"message":"upstream went away","type":"api_error","param":null,"code":"502"}})"
                   "\n\n",
                   out);
  const std::vector<std::string> got = events_of(out);
  ASSERT_EQ(got.size(), 4u) << out;
  EXPECT_EQ(got[3].substr(0, 6), "error ");
  const json error = json::parse(got[3].substr(6));
  EXPECT_EQ(error["type"], "error");
  EXPECT_EQ(error["error"]["type"], "api_error");
  EXPECT_EQ(error["error"]["message"], "upstream went away");
}

TEST(AnthropicMessagesTest, ErrorsTakeAnthropicTypes) {
  api::ApiError e = api::make_error(Errc::kRateLimited, "slow down");
  EXPECT_EQ(json::parse(anthropic_error_json(e)),
            json::parse(R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})"));
  e = api::make_error(Errc::kUnauthorized, "bad key");
  EXPECT_EQ(json::parse(anthropic_error_json(e))["error"]["type"], "authentication_error");
  e.status = 503;
  EXPECT_EQ(json::parse(anthropic_error_json(e))["error"]["type"], "overloaded_error");
}

TEST(AnthropicMessagesTest, CountTokensEstimatesFromTheTranslatedPrompt) {
  auto small = count_message_tokens(R"({"model":"m","messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(small->model, "m");
  EXPECT_GT(small->input_tokens, 0);
  auto large = count_message_tokens(R"({"model":"m","messages":[{"role":"user","content":")" + std::string(4000, 'a') +
                                    R"("}]})");
  ASSERT_TRUE(large);
  EXPECT_GT(large->input_tokens, 900);
  EXPECT_FALSE(count_message_tokens(R"({"model":"m"})"));
}

}  // namespace
}  // namespace tollgate::frontend
