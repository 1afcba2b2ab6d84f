// The fake Anthropic API must refuse what Anthropic refuses, or adapter tests prove nothing.
#include "support/fake_anthropic.hpp"

#include <gtest/gtest.h>

namespace tollgate::testing {
namespace {

using nlohmann::json;

FakeReply ask(const json& body, std::string_view version = "2023-06-01", std::string_view key = "k") {
  const std::string text = body.dump();
  const FakeRequest request{.method = "POST", .target = "/v1/messages", .body = text, .x_api_key = key,
                            .anthropic_version = version, .seq = 3};
  return plan_anthropic(request, FakeControls{}, body, true, "k");
}

json valid() {
  return {{"model", "claude-x"}, {"max_tokens", 64}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
}

TEST(FakeAnthropicTest, AnswersAValidRequestInTheMessagesFormat) {
  const FakeReply r = ask(valid());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json m = json::parse(r.body);
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["content"][0]["type"], "text");
  EXPECT_EQ(m["stop_reason"], "end_turn");
  EXPECT_EQ(m["usage"]["input_tokens"], 11);
}

TEST(FakeAnthropicTest, RefusesWhatAnthropicRefuses) {
  json no_max = valid();
  no_max.erase("max_tokens");
  EXPECT_EQ(ask(no_max).status, 400u);
  json system_role = valid();
  system_role["messages"].insert(system_role["messages"].begin(), {{"role", "system"}, {"content", "x"}});
  EXPECT_EQ(ask(system_role).status, 400u);
  json twice = valid();
  twice["messages"].push_back({{"role", "user"}, {"content", "again"}});
  EXPECT_EQ(ask(twice).status, 400u);
  json image_url = valid();
  image_url["messages"][0]["content"] = json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}});
  EXPECT_EQ(ask(image_url).status, 400u);
  EXPECT_EQ(ask(valid(), "").status, 400u) << "anthropic-version is required";
  const FakeReply wrong_key = ask(valid(), "2023-06-01", "nope");
  EXPECT_EQ(wrong_key.status, 401u);
  EXPECT_EQ(json::parse(wrong_key.body)["error"]["type"], "authentication_error");
}

TEST(FakeAnthropicTest, StreamsAnthropicEvents) {
  json body = valid();
  body["stream"] = true;
  const FakeReply r = ask(body);
  ASSERT_TRUE(r.stream);
  ASSERT_GE(r.events.size(), 6u);
  EXPECT_EQ(r.events.front().rfind("event: message_start\n", 0), 0u);
  EXPECT_EQ(r.events.back().rfind("event: message_stop\n", 0), 0u);
}

}  // namespace
}  // namespace tollgate::testing
