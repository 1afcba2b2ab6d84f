#pragma once
// Reading OpenAI-format requests: the few fields the gateway acts on, and the body sent upstream.
//
// The body is validated in full (json_scan) but only the members the gateway needs are parsed;
// everything else, including fields the gateway has never heard of, goes upstream byte for byte.
//
// Thread safety: pure functions. ParsedRequest views the body it was parsed from: keep the body
// alive and unmoved while the ParsedRequest is used.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/json_scan.hpp"

namespace tollgate::api {

enum class Endpoint { kChatCompletions, kCompletions, kEmbeddings };

std::string_view endpoint_path(Endpoint endpoint);  // "/chat/completions", ...

/// Highest `num_retries` a request body may ask for.
inline constexpr int kMaxRequestRetries = 20;
/// Longest `timeout` (seconds) a request may ask for, in the body or `x-litellm-timeout`.
inline constexpr double kMaxRequestTimeoutSeconds = 86'400;

struct RequestFields {
  std::string model;
  bool stream = false;
  bool client_wants_usage = false;           // stream_options.include_usage
  std::optional<std::int64_t> max_tokens;    // max_tokens, else max_completion_tokens
  std::string user;                          // OpenAI end-user id
  std::size_t prompt_bytes = 0;              // size of messages / prompt / input, for estimates
  // LiteLLM extras: read here, never sent upstream.
  std::optional<std::string> mock_response;
  std::optional<double> timeout_seconds;
  std::optional<int> num_retries;
  std::optional<std::vector<std::string>> fallbacks;  // body `fallbacks`: model groups to try next
  bool mock_testing_fallbacks = false;       // fail the requested group's attempts to exercise fallbacks
  bool mock_testing_rate_limit_error = false;  // fail them with a rate-limit error
  nlohmann::json metadata;                   // null when absent
  std::vector<std::string> tags;             // body `tags` and `metadata.tags`
};

struct ParsedRequest {
  std::string_view body;
  ScannedObject top;
  RequestFields fields;
};

/// Validates the body and extracts the fields. Errors are 400s naming the offending parameter.
ApiResult<ParsedRequest> parse_request(std::string_view body, Endpoint endpoint);

/// True for the LiteLLM-only members that must not reach a provider.
bool is_gateway_only_field(std::string_view key);

struct UpstreamBodyOptions {
  std::string_view model;              // the deployment's model name, replaces the client's
  bool force_include_usage = false;    // add stream_options.include_usage=true
};

/// The client's body with `model` replaced, gateway-only fields removed and, when asked,
/// `stream_options.include_usage` set. Unknown members are copied untouched.
std::string build_upstream_body(const ParsedRequest& request, const UpstreamBodyOptions& options);

}  // namespace tollgate::api
