#pragma once
// The seam between the gateway and one vendor's wire format. Each adapter is a translator pair:
// an OpenAI-format request out to the vendor, and the vendor's response (whole or streamed) back
// to OpenAI's shape, with usage extracted on the way. Vendor specifics live only in
// src/providers/<vendor>/.
//
// Thread safety: Provider instances are immutable and shared by all workers. A StreamTranslator
// belongs to one stream.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/api/usage.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/sse_decoder.hpp"
#include "tollgate/http/upstream_client.hpp"

namespace tollgate::providers {

using api::Usage;


/// An upstream response's headers, read by name (case-insensitively); "" when absent. An empty
/// function reads as no headers.
using HeaderLookup = std::function<std::string(std::string_view name)>;

/// An upstream failure as its provider reads it, from one parse of the body: what the client
/// receives, what the router decides on, and how long the vendor asked us to wait.
struct UpstreamFailure {
  api::ApiError error;                                         // OpenAI-shaped; retry_after is the client's
  config::ErrorClass cls = config::ErrorClass::kServerError;   // retries, fallbacks, cooldowns key on this
  std::optional<std::chrono::milliseconds> retry_after;        // the vendor's wait, from its retry headers
};

/// Turns upstream stream events into the SSE bytes the client receives.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  /// Consumes one upstream event and appends client-bound SSE bytes to `out` (possibly none).
  /// Returns an error when the event is not what the vendor's format allows.
  virtual std::optional<api::ApiError> on_event(const http::SseEvent& event, std::string& out) = 0;
  /// The upstream signalled the end of the stream.
  virtual bool finished() const = 0;
  virtual const Usage& usage() const = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;

  /// The upstream request for `request` on `deployment`, naming `upstream_model` (the
  /// deployment's model, or what a wildcard group's '*' matched). `want_stream_usage` asks the
  /// vendor to report usage on a stream even when the client did not ask for it.
  virtual api::ApiResult<http::UpstreamRequest> build_request(const config::Deployment& deployment,
                                                              const http::Url& base, api::Endpoint endpoint,
                                                              const api::ParsedRequest& request,
                                                              std::string_view upstream_model,
                                                              bool want_stream_usage) const = 0;

  /// An Anthropic Messages request (POST /v1/messages) sent as the client wrote it, but for
  /// `upstream_model` and the gateway's own fields: only vendors that speak the Messages API
  /// natively (Anthropic) have one; nullopt sends it through the OpenAI translation instead.
  /// `client_headers` supplies anthropic-version / anthropic-beta when the client set them.
  virtual std::optional<api::ApiResult<http::UpstreamRequest>> build_messages_passthrough(
      const config::Deployment& /*deployment*/, const http::Url& /*base*/, std::string_view /*body*/,
      std::string_view /*upstream_model*/, const http::HeaderList& /*client_headers*/) const {
    return std::nullopt;
  }
  /// Usage of a Messages API answer relayed as is (the passthrough above).
  virtual Usage messages_usage(std::string_view /*body*/) const { return {}; }

  /// A complete (non-stream) success body, translated to OpenAI's shape; fills `usage`.
  virtual api::ApiResult<std::string> translate_response(api::Endpoint endpoint, std::string body,
                                                         Usage& usage) const = 0;

  /// USD for a call's usage; empty when the deployment has no price.
  using CostFn = std::function<double(const Usage&)>;
  /// `cost` set: the usage chunk the client asked for carries `usage.cost` (as OpenRouter's does).
  virtual std::unique_ptr<StreamTranslator> make_stream_translator(bool client_wants_usage, CostFn cost = {}) const = 0;

  /// The content type of the vendor's streamed answers; a stream request answered with another
  /// type is read as a whole response.
  virtual std::string_view stream_content_type() const { return "text/event-stream"; }
  /// Splits a streamed answer into the events `make_stream_translator`'s translator consumes.
  virtual std::unique_ptr<http::StreamDecoder> make_stream_decoder() const {
    return std::make_unique<http::SseDecoder>();
  }

  /// Credentials some vendors need fetched before a call (Vertex AI's OAuth2 access token), with
  /// the caller's HTTP client so adapters stay free of I/O. Called before build_request on every
  /// attempt: the request that fetches a token, nullopt when none is needed or a cached one is still
  /// good, an error (401) when the deployment's credentials are unusable.
  virtual api::ApiResult<std::optional<http::UpstreamRequest>> token_request(const config::Deployment& /*deployment*/,
                                                                             std::int64_t /*now_s*/) const {
    return api::ApiResult<std::optional<http::UpstreamRequest>>(boost::system::in_place_value, std::nullopt);
  }
  /// The token endpoint's answer to token_request's request, kept for build_request; an error (401)
  /// when it refused.
  virtual std::optional<api::ApiError> accept_token(const config::Deployment& /*deployment*/, unsigned /*status*/,
                                                    std::string_view /*body*/, std::int64_t /*now_s*/) const {
    return std::nullopt;
  }

  /// What the deployment authenticates with (API key, cloud credentials, a fetched token). The
  /// proxy removes each from upstream errors before they reach a client (api/redact.hpp), since
  /// vendors may echo the credential they were sent. Default: the api_key.
  virtual std::vector<std::string> secrets(const config::Deployment& deployment) const { return {deployment.api_key}; }

  /// An upstream error answer (status >= 400): the client's error, its class (from the vendor's
  /// wording, then the status) and the wait the vendor's retry headers ask for. `header` reads the
  /// response's headers; `now_unix_s` resolves dated ones.
  virtual UpstreamFailure classify_error(unsigned status, std::string_view body, const HeaderLookup& header,
                                         std::int64_t now_unix_s) const = 0;
  /// A success answer translate_response refused (Gemini's blocked prompt): that error, classified.
  /// One carrying an upstream status (Errc::kUpstreamStatus) is the vendor's refusal, read from its
  /// OpenAI-shaped code, type and message; any other is a broken answer (server error).
  virtual UpstreamFailure classify_translated_error(api::ApiError error) const;
};

/// The adapter for a `litellm_params.model` provider prefix; nullptr when there is none.
std::shared_ptr<const Provider> make_provider(std::string_view provider_name);

}  // namespace tollgate::providers
