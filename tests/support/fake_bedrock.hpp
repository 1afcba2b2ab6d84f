#pragma once
// The fake provider's AWS Bedrock Converse API (`POST .../model/{modelId}/converse` and
// `/converse-stream`), decided without any I/O.
//
// It checks what Bedrock checks: a SigV4 `Authorization` for service `bedrock` over at least host
// and x-amz-date, an x-amz-content-sha256 (when sent) that is the body's hash, and the signature
// itself, recomputed with `required_secret` as the secret access key when that is set (a wrong
// secret gets 403 InvalidSignatureException); then the body: an object of Converse's members only
// (`model` or `stream` in it are "extraneous"), a non-empty `messages` list starting with `user` and
// alternating roles, content blocks with exactly one known member, `inferenceConfig` members
// Converse knows. Violations get Bedrock's 400 ValidationException: a `{"message"}` body and the
// `x-amzn-errortype` header.
//
// Answers: a text block (the `content` control or the default text), or — when `toolConfig` is
// offered and the last message holds no toolResult — one toolUse calling the first tool with
// {"location":"Paris"}. Usage from the controls (inputTokens excludes `cached_tokens`, reported as
// cacheReadInputTokens). `/converse-stream` answers `application/vnd.amazon.eventstream` frames
// (messageStart, contentBlockStart for a tool, `chunks` deltas, contentBlockStop, messageStop,
// metadata), one write each. Faults: `status` (429 ThrottlingException, 503
// ServiceUnavailableException, 400 ValidationException with the `content` control as message, 403
// AccessDeniedException), `exception_at` (a throttlingException frame instead of event N),
// `malformed_at` (event N's CRC corrupted), `disconnect_after` (N events after messageStart, then a cut).
//
// Thread safety: pure function.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

/// `/v1/model/<id>/converse` or `/converse-stream` (after the fake's control segments).
bool is_bedrock_path(std::string_view path);

FakeReply plan_bedrock(const FakeRequest& request, const FakeControls& controls, const nlohmann::json& body,
                       bool body_ok, std::string_view required_secret);

}  // namespace tollgate::testing
