#pragma once
// AWS Bedrock's Converse API (`bedrock/<model-id>` deployments): OpenAI chat requests out as
// Converse / ConverseStream calls signed with SigV4, Converse responses and event-stream frames
// back in OpenAI's chat.completion / chat.completion.chunk shape. Only /chat/completions is
// served. docs/providers.md has the mapping tables.
//
// URL: {api_base}/model/{model id, percent-encoded}/converse (or /converse-stream); api_base
// defaults to https://bedrock-runtime.{region}.amazonaws.com (the config loader fills it).
// Credentials: litellm_params aws_access_key_id, aws_secret_access_key, aws_session_token,
// aws_region_name (the loader fills absent ones from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION).
//
// Thread safety: BedrockProvider is immutable (its clock must be thread-safe); a stream translator
// belongs to one stream. The pure functions keep no references past the call.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "providers/bedrock/sigv4.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

class BedrockProvider final : public Provider {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  /// `clock` stamps x-amz-date; the system clock by default.
  explicit BedrockProvider(Clock clock = {});

  api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment, const http::Url& base,
                                                      api::Endpoint endpoint, const api::ParsedRequest& request,
                                                      std::string_view upstream_model,
                                                      bool want_stream_usage) const override;
  api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const override;
  std::string_view stream_content_type() const override { return "application/vnd.amazon.eventstream"; }
  std::unique_ptr<http::StreamDecoder> make_stream_decoder() const override;
  UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                 std::int64_t now_unix_s) const override;
  /// The AWS access key id, secret key and session token (and an api_key, when set).
  std::vector<std::string> secrets(const config::Deployment& deployment) const override;

 private:
  Clock clock_;
};

/// The Converse request body for an OpenAI chat request (the model is named by the URL). Errors are 400s.
api::ApiResult<std::string> bedrock_request_body(const api::ParsedRequest& request);

/// `/model/{model id percent-encoded}/converse` or `/converse-stream`, after `base_path`.
std::string bedrock_target(std::string_view base_path, std::string_view model_id, bool stream);

/// The SigV4 headers (host, x-amz-date, x-amz-content-sha256, x-amz-security-token when a session
/// token is set, authorization) added to `request`, signed for `region` at `now`.
void sign_bedrock_request(http::UpstreamRequest& request, const bedrock::AwsCredentials& credentials,
                          std::string_view region, std::chrono::system_clock::time_point now);

/// A Converse response as an OpenAI chat.completion with `id`, `created` and `model`; fills `usage`.
api::ApiResult<std::string> bedrock_response_to_openai(std::string_view body, std::string_view id,
                                                       std::int64_t created, std::string_view model, Usage& usage);

/// The ConverseStream translator with fixed id and `created` stamp (tests; the provider makes them).
std::unique_ptr<StreamTranslator> make_bedrock_stream_translator(bool client_wants_usage, Provider::CostFn cost,
                                                                 std::string id, std::int64_t created);

/// A Bedrock error (`{"message": ...}`, its type `error_type` or, when that is empty, the body's
/// `__type`) as the client's error.
api::ApiError bedrock_error(unsigned status, std::string_view body, std::string_view error_type);

/// BedrockProvider::classify_error: the error above with its type from the x-amzn-errortype header,
/// its class from Bedrock's words (and Claude's), the wait from retry-after or x-ratelimit-reset-*.
UpstreamFailure bedrock_failure(unsigned status, std::string_view body, const HeaderLookup& header,
                                std::int64_t now_unix_s);

}  // namespace tollgate::providers
