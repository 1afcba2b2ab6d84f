#pragma once
// What the per-vendor integration tests share: a fake provider of their own, started before the
// test body; configs of one model group spread over deployments on that fake (each with its own
// fake controls in its api_base) and the settings every such config ends with; the OpenAI chat
// body; and readers of what the fake received and of a streamed tool call.
//
// Thread safety: as FakeProvider and Gateway; the helpers are pure.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/gateway_fixture.hpp"

namespace tollgate::testing {

/// The deployments of a test group: (model_info id, fake controls in its api_base or "").
using Deployments = std::vector<std::pair<std::string, std::string>>;

/// The settings a vendor test config ends with: `router_settings: {<router>}` (none when empty),
/// the master key, no access log.
inline std::string settings_yaml(const std::string& router = "num_retries: 0") {
  std::string yaml = router.empty() ? std::string() : "router_settings: {" + router + "}\n";
  return yaml + "general_settings: {master_key: " + kMasterKey + "}\ntollgate_settings: {access_log: \"off\"}\n";
}

/// `model_list:` with one entry of `group` per deployment; `params(id, controls)` is what goes
/// inside its `litellm_params: {...}`.
inline std::string model_list(const std::string& group, const Deployments& deployments,
                              const std::function<std::string(const std::string& id, const std::string& controls)>& params) {
  std::string yaml = "model_list:\n";
  for (const auto& [id, controls] : deployments) {
    yaml += "  - model_name: " + group + "\n    litellm_params: {" + params(id, controls) + "}\n    model_info: {id: " + id +
            "}\n";
  }
  return yaml;
}

/// `yaml`, which ends in settings_yaml(), with a mock group `fallback` answering `answer` and
/// `group` falling back to it under `setting` (fallbacks, context_window_fallbacks, ...).
inline std::string with_mock_fallback(std::string yaml, const std::string& setting, const std::string& group,
                                      const std::string& fallback, const std::string& answer = "from the fallback") {
  const std::string router = "router_settings: {num_retries: 0}";
  yaml.replace(yaml.find(router), router.size(),
               "  - model_name: " + fallback + "\n    litellm_params: {model: openai/x, mock_response: \"" + answer +
                   "\"}\nrouter_settings: {num_retries: 0, " + setting + ": [{" + group + ": [" + fallback + "]}]}");
  return yaml;
}

/// An OpenAI chat body for `model`: `messages` and the members of `extra`.
inline nlohmann::json chat_body(const std::string& model, nlohmann::json messages,
                                const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json body = {{"model", model}, {"messages", std::move(messages)}};
  body.update(extra);
  return body;
}

inline nlohmann::json user(const std::string& text) { return {{"role", "user"}, {"content", text}}; }

/// What the tool-call deltas of an OpenAI SSE body add up to (first tool call of each chunk).
struct StreamedToolCall {
  std::string name;
  std::string arguments;      // the argument pieces joined
  std::string finish_reason;  // the last one a choice gave
};

inline StreamedToolCall streamed_tool_call(const std::string& sse) {
  StreamedToolCall out;
  std::size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    const std::size_t end = sse.find("\n\n", pos);
    const std::string data = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") break;
    const nlohmann::json chunk = nlohmann::json::parse(data);  // a named value: the range must outlive the loop
    for (const nlohmann::json& choice : chunk["choices"]) {
      if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) out.finish_reason = choice["finish_reason"];
      if (!choice["delta"].contains("tool_calls")) continue;
      const nlohmann::json& tc = choice["delta"]["tool_calls"][0];
      if (!tc.contains("function")) continue;
      if (tc["function"].contains("name")) out.name = tc["function"]["name"];
      if (tc["function"].contains("arguments")) out.arguments += tc["function"]["arguments"].get<std::string>();
    }
  }
  return out;
}

/// A test with a fake provider of its own (started before the body runs) and a model group
/// `group` its chat() bodies name.
class VendorTest : public ::testing::Test {
 protected:
  explicit VendorTest(std::string group, FakeProviderOptions options = {})
      : group_(std::move(group)), fake_(std::move(options)) {
    fake_.start();
  }

  nlohmann::json chat(nlohmann::json messages, const nlohmann::json& extra = nlohmann::json::object()) const {
    return chat_body(group_, std::move(messages), extra);
  }

  /// The last request the fake read (a failed expectation when there is none).
  RecordedRequest last() const {
    const auto all = fake_.requests();
    EXPECT_FALSE(all.empty());
    return all.empty() ? RecordedRequest{} : all.back();
  }
  nlohmann::json last_upstream_body() const { return nlohmann::json::parse(last().body); }

  std::string group_;
  FakeProvider fake_;
};

}  // namespace tollgate::testing
