// The Anthropic front end (POST /v1/messages, /v1/messages/count_tokens) through the whole
// gateway: Anthropic-format clients calling an OpenAI-format deployment (translated both ways,
// streams as Anthropic events) and an Anthropic deployment (the body and the answer pass through),
// with Anthropic-shaped errors, usage and cost.
#include <gtest/gtest.h>

#include "integration/vendor_fixture.hpp"
#include "tollgate/http/sse_decoder.hpp"

namespace tollgate::testing {
namespace {

using nlohmann::json;

constexpr const char* kUpstreamKey = "sk-upstream";

class MessagesFrontTest : public VendorTest {
 protected:
  MessagesFrontTest() : VendorTest("gpt") {}

  // `gpt` on an OpenAI deployment, `claude` on an Anthropic one, both priced; `controls` steer the fake.
  std::string config(const std::string& controls = "") const {
    return "model_list:\n"
           "  - model_name: gpt\n"
           "    litellm_params: {model: openai/fake-model, api_base: \"" +
           fake_deployment_base(fake_.port(), "gpt", controls) + "\", api_key: " + kUpstreamKey +
           ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000004}\n"
           "  - model_name: claude\n"
           "    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, api_base: \"" +
           fake_deployment_base(fake_.port(), "claude", controls) + "\", api_key: " + kUpstreamKey +
           ", input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}\n"
           "  - model_name: demo\n"
           "    litellm_params: {model: openai/demo, mock_response: \"Hi from the demo.\"}\n" +
           settings_yaml();
  }

  static Headers anthropic_headers() {
    return {{"x-api-key", kMasterKey}, {"anthropic-version", "2023-06-01"}, {"content-type", "application/json"}};
  }
};

json messages_request(const std::string& model, json extra = json::object()) {
  json body = {{"model", model},
               {"max_tokens", 256},
               {"system", "Be brief."},
               {"messages", json::array({{{"role", "user"}, {"content", "Say hello."}}})}};
  body.update(extra);
  return body;
}

struct Event {
  std::string type;
  json data;
};

std::vector<Event> events_of(const std::string& sse) {
  http::SseDecoder decoder;
  std::vector<http::SseEvent> raw;
  decoder.feed(sse, raw);
  std::vector<Event> out;
  for (const auto& e : raw) out.push_back({e.event, json::parse(e.data)});
  return out;
}

const json weather_tool = {{"name", "get_weather"},
                           {"description", "Current weather for a city."},
                           {"input_schema",
                            {{"type", "object"},
                             {"properties", {{"location", {{"type", "string"}}}}},
                             {"required", json::array({"location"})}}}};

TEST_F(MessagesFrontTest, OpenAiDeploymentAnswersAsAnAnthropicMessage) {
  Gateway gw(config());
  HttpResponse r = gw.post("/v1/messages", messages_request("gpt").dump(), anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json message = r.json();
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["role"], "assistant");
  EXPECT_TRUE(message["id"].get<std::string>().starts_with("msg_"));
  ASSERT_EQ(message["content"].size(), 1u) << r.body;
  EXPECT_EQ(message["content"][0]["type"], "text");
  EXPECT_EQ(message["content"][0]["text"], "Hello from the fake provider.");
  EXPECT_EQ(message["stop_reason"], "end_turn");
  EXPECT_EQ(message["usage"]["input_tokens"], 11);
  EXPECT_EQ(message["usage"]["output_tokens"], 7);
  EXPECT_DOUBLE_EQ(std::stod(r.header("x-litellm-response-cost")), 11 * 0.000001 + 7 * 0.000004);

  // The deployment was called in OpenAI's format.
  const RecordedRequest sent = last();
  EXPECT_NE(sent.target.find("/v1/chat/completions"), std::string::npos) << sent.target;
  EXPECT_EQ(sent.headers.at("authorization"), std::string("Bearer ") + kUpstreamKey);
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["messages"][0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(body["messages"][1], json({{"role", "user"}, {"content", "Say hello."}}));
  EXPECT_EQ(body["max_tokens"], 256);
}

TEST_F(MessagesFrontTest, OpenAiStreamBecomesAnthropicEvents) {
  Gateway gw(config("chunks=4"));
  HttpResponse r = gw.post("/v1/messages", messages_request("gpt", {{"stream", true}}).dump(), anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  const std::vector<Event> events = events_of(r.body);
  ASSERT_GE(events.size(), 6u) << r.body;
  EXPECT_EQ(events.front().type, "message_start");
  EXPECT_EQ(events[1].type, "content_block_start");
  std::string text;
  for (const auto& e : events) {
    EXPECT_EQ(e.type, e.data["type"]) << "the event name repeats the data's type";
    if (e.type == "content_block_delta") text += e.data["delta"]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "Hello from the fake provider.");
  const Event& delta = events[events.size() - 2];
  EXPECT_EQ(delta.type, "message_delta");
  EXPECT_EQ(delta.data["delta"]["stop_reason"], "end_turn");
  EXPECT_EQ(delta.data["usage"]["output_tokens"], 7);
  EXPECT_EQ(delta.data["usage"]["input_tokens"], 11);
  EXPECT_EQ(events.back().type, "message_stop");
  // The gateway asked the deployment for usage so the counts can be reported.
  EXPECT_EQ(last_upstream_body()["stream_options"]["include_usage"], true);
}

TEST_F(MessagesFrontTest, ToolUseRoundTripsThroughAnOpenAiDeployment) {
  Gateway gw(config());
  HttpResponse r = gw.post("/v1/messages", messages_request("gpt", {{"tools", json::array({weather_tool})}}).dump(),
                           anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  const json message = r.json();
  EXPECT_EQ(message["stop_reason"], "tool_use");
  const json& use = message["content"].back();
  ASSERT_EQ(use["type"], "tool_use") << r.body;
  EXPECT_EQ(use["name"], "get_weather");
  EXPECT_TRUE(use["input"].is_object());
  EXPECT_EQ(last_upstream_body()["tools"][0]["function"]["parameters"], weather_tool["input_schema"]);

  // The tool's result goes back as a tool message after the assistant's tool_calls.
  json turns = json::array({{{"role", "user"}, {"content", "Weather in Paris?"}},
                            {{"role", "assistant"}, {"content", json::array({use})}},
                            {{"role", "user"},
                             {"content", json::array({{{"type", "tool_result"},
                                                       {"tool_use_id", use["id"]},
                                                       {"content", "18 C and sunny"}}})}}});
  HttpResponse second = gw.post("/v1/messages", messages_request("gpt", {{"messages", turns}}).dump(), anthropic_headers());
  ASSERT_EQ(second.status, 200u) << second.body;
  const json sent = last_upstream_body();
  ASSERT_EQ(sent["messages"].size(), 4u) << sent.dump();
  EXPECT_EQ(sent["messages"][2]["tool_calls"][0]["id"], use["id"]);
  EXPECT_EQ(sent["messages"][3], json({{"role", "tool"}, {"tool_call_id", use["id"]}, {"content", "18 C and sunny"}}));
}

TEST_F(MessagesFrontTest, AnthropicDeploymentGetsTheBodyAsWrittenAndAnswersAsIs) {
  Gateway gw(config());
  const json request = messages_request("claude", {{"top_k", 5},
                                                   {"metadata", {{"user_id", "u-1"}, {"tags", {"team-a"}}}},
                                                   {"num_retries", 1}});
  Headers headers = anthropic_headers();
  headers["anthropic-beta"] = "prompt-caching-2024-07-31";
  HttpResponse r = gw.post("/v1/messages", request.dump(), headers);
  ASSERT_EQ(r.status, 200u) << r.body;

  const RecordedRequest sent = last();
  EXPECT_NE(sent.target.find("/v1/messages"), std::string::npos) << sent.target;
  EXPECT_EQ(sent.headers.at("x-api-key"), kUpstreamKey);
  EXPECT_EQ(sent.headers.at("anthropic-beta"), "prompt-caching-2024-07-31");
  json expected = request;
  expected["model"] = "claude-3-5-haiku-20241022";
  expected.erase("num_retries");  // the gateway's own fields
  expected["metadata"].erase("tags");
  EXPECT_EQ(json::parse(sent.body), expected) << "passed through: top_k and the system string kept as written";

  const json message = r.json();
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["model"], "claude-3-5-haiku-20241022") << "Anthropic's own answer";
  EXPECT_EQ(message["content"][0]["text"], "Hello from the fake provider.");
  EXPECT_EQ(message["usage"]["input_tokens"], 11);
  EXPECT_DOUBLE_EQ(std::stod(r.header("x-litellm-response-cost")), 11 * 0.000002 + 7 * 0.00001)
      << "usage read from the passed-through answer";
}

TEST_F(MessagesFrontTest, AnthropicDeploymentStreamPassesThroughWithUsageCounted) {
  Gateway gw(config("chunks=3"));
  HttpResponse r = gw.post("/v1/messages", messages_request("claude", {{"stream", true}}).dump(), anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::vector<Event> events = events_of(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().type, "message_start");
  EXPECT_EQ(events.back().type, "message_stop");
  bool ping = false;
  std::string text;
  for (const auto& e : events) {
    ping = ping || e.type == "ping";
    if (e.type == "content_block_delta") text += e.data["delta"]["text"].get<std::string>();
  }
  EXPECT_TRUE(ping) << "the vendor's own events, ping included, reach the client";
  EXPECT_EQ(text, "Hello from the fake provider.");
  EXPECT_EQ(last_upstream_body()["stream"], true);
  // Usage was read on the way: the output-token counter has the stream's 7 tokens.
  const std::string metrics = gw.get("/metrics").body;
  double output_tokens = 0;
  for (std::size_t pos = 0; (pos = metrics.find("\nlitellm_output_tokens_metric_total{", pos)) != std::string::npos;) {
    const std::size_t end = metrics.find('\n', pos + 1);
    const std::string line = metrics.substr(pos + 1, end - pos - 1);
    if (line.find("claude") != std::string::npos) output_tokens += std::stod(line.substr(line.rfind(' ') + 1));
    pos = end;
  }
  EXPECT_EQ(output_tokens, 7) << metrics;
}

TEST_F(MessagesFrontTest, DemoModelAnswersWithoutAProvider) {
  Gateway gw(config());
  HttpResponse r = gw.post("/v1/messages", messages_request("demo").dump(), anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["content"][0]["text"], "Hi from the demo.");
  HttpResponse s = gw.post("/v1/messages", messages_request("demo", {{"stream", true}}).dump(), anthropic_headers());
  ASSERT_EQ(s.status, 200u) << s.body;
  const std::vector<Event> events = events_of(s.body);
  ASSERT_FALSE(events.empty()) << s.body;
  EXPECT_EQ(events.front().type, "message_start");
  EXPECT_EQ(events.back().type, "message_stop");
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(MessagesFrontTest, ErrorsAreAnthropicShaped) {
  Gateway gw(config());
  auto expect_error = [](const HttpResponse& r, unsigned status, const std::string& type) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(body["type"], "error") << r.body;
    EXPECT_EQ(body["error"]["type"], type) << r.body;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  };
  expect_error(gw.post("/v1/messages", messages_request("gpt").dump(), {{"x-api-key", "sk-wrong"}}), 401,
               "authentication_error");
  expect_error(gw.post("/v1/messages", messages_request("no-such-model").dump(), anthropic_headers()), 400,
               "invalid_request_error");
  expect_error(gw.post("/v1/messages", "{not json", anthropic_headers()), 400, "invalid_request_error");
  expect_error(gw.post("/v1/messages", R"({"model":"gpt","messages":[{"role":"user","content":[{"type":"document"}]}]})",
                       anthropic_headers()),
               400, "invalid_request_error");
  expect_error(gw.get("/v1/messages", anthropic_headers()), 405, "invalid_request_error");
  // Bearer auth works as well as x-api-key.
  EXPECT_EQ(gw.post("/v1/messages", messages_request("gpt").dump()).status, 200u);
}

TEST_F(MessagesFrontTest, UpstreamFailuresKeepTheirClassInAnthropicShape) {
  Gateway gw(config("status=429/retry_after=7"));
  HttpResponse r = gw.post("/v1/messages", messages_request("gpt").dump(), anthropic_headers());
  EXPECT_EQ(r.status, 429u) << r.body;
  EXPECT_EQ(r.json()["error"]["type"], "rate_limit_error");
  EXPECT_EQ(r.header("retry-after"), "7");
  HttpResponse c = gw.post("/v1/messages", messages_request("claude").dump(), anthropic_headers());
  EXPECT_EQ(c.status, 429u) << c.body;
  EXPECT_EQ(c.json()["type"], "error");
}

TEST_F(MessagesFrontTest, StreamBrokenMidwayEndsWithAnErrorEvent) {
  Gateway gw(config("chunks=6/malformed_at=3"));
  HttpResponse r = gw.post("/v1/messages", messages_request("gpt", {{"stream", true}}).dump(), anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::vector<Event> events = events_of(r.body);
  ASSERT_FALSE(events.empty()) << r.body;
  EXPECT_EQ(events.back().type, "error") << r.body;
  EXPECT_EQ(events.back().data["type"], "error");
  for (const auto& e : events) EXPECT_NE(e.type, "message_stop");
}

TEST_F(MessagesFrontTest, CountTokensEstimatesForKnownModels) {
  Gateway gw(config());
  HttpResponse r = gw.post("/v1/messages/count_tokens", messages_request("gpt").dump(), anthropic_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_GT(r.json()["input_tokens"].get<int>(), 0);
  EXPECT_EQ(fake_.request_count(), 0u) << "an estimate, no provider call";
  HttpResponse unknown = gw.post("/v1/messages/count_tokens", messages_request("nope").dump(), anthropic_headers());
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_EQ(unknown.json()["type"], "error");
}

}  // namespace
}  // namespace tollgate::testing
