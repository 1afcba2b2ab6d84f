#pragma once
// Front ends: the client dialects the gateway speaks. Each parses its requests into the internal
// request (an OpenAI-format body the rest of the path reads with api::parse_request) and renders
// answers, streams and errors back in its own shape. The request path holds one FrontEnd per
// request and never asks which one it is.
//
//   OpenAI     — POST /v1/chat/completions, /v1/completions, /v1/embeddings: the internal format
//                already; answers go out as they are.
//   Anthropic  — POST /v1/messages (translated to a chat request; the answer back to a message)
//                and /v1/messages/count_tokens (answered locally). To a vendor that speaks the
//                Messages API natively (Provider::build_messages_passthrough) the client's body
//                goes as it is and the vendor's bytes come back untouched.
//
// Thread safety: front ends are stateless singletons; a StreamRenderer belongs to one stream.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/api/usage.hpp"
#include "tollgate/http/server.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::frontend {

/// What a front end made of a client's request.
struct Inbound {
  /// The internal request: an OpenAI-format body for `endpoint`. Empty when the client's body is
  /// that already (use it as it is; no copy).
  std::string translated;
  /// Set when the front end answers the request itself (count_tokens): the body to send once the
  /// caller may use `model`. No provider is called.
  std::optional<std::string> local_answer;
  std::string model;  // of a local answer, for the access check
};

/// Turns a stream of OpenAI chat.completion.chunk SSE bytes into the client's dialect.
class StreamRenderer {
 public:
  virtual ~StreamRenderer() = default;
  /// Consumes OpenAI SSE bytes (any split) and appends the client's SSE bytes to `out`.
  virtual void render(std::string_view openai_sse, std::string& out) = 0;
};

class FrontEnd {
 public:
  virtual ~FrontEnd() = default;

  /// The internal request from the client's body on `path` (one serves() gave this front end,
  /// without /v1), or the 400 to answer.
  virtual api::ApiResult<Inbound> parse(std::string_view path, std::string_view body) const = 0;
  /// An error body in the client's dialect.
  virtual std::string error_body(const api::ApiError& error) const = 0;
  /// A whole OpenAI answer (chat.completion, text_completion, embeddings) in the client's dialect.
  virtual api::ApiResult<std::string> render(std::string&& openai_body) const = 0;
  /// The renderer of an OpenAI stream, or null when OpenAI chunks reach the client as they are.
  virtual std::unique_ptr<StreamRenderer> stream_renderer() const = 0;
  /// Appends the last event of a stream that failed after its head. `vendor_relayed`: the vendor's
  /// own error event already reached the client (a native stream), so nothing is added.
  virtual void append_stream_error(std::string& out, const api::ApiError& error, bool vendor_relayed) const = 0;

  /// The upstream request in the client's own dialect, when `provider` speaks it natively: the
  /// answer then comes back untouched (whole: native_usage reads it; streamed: the translator
  /// only counts). nullopt: translate through the internal request instead.
  virtual std::optional<api::ApiResult<http::UpstreamRequest>> native_request(
      const providers::Provider& /*provider*/, const config::Deployment& /*deployment*/, const http::Url& /*base*/,
      std::string_view /*upstream_model*/, const http::Request& /*client*/) const {
    return std::nullopt;
  }
  /// The usage of a whole native answer.
  virtual api::Usage native_usage(const providers::Provider& /*provider*/, std::string_view /*body*/) const {
    return {};
  }
};

/// The OpenAI front end (the internal dialect; answers unchanged).
const FrontEnd& openai();
/// The Anthropic Messages front end.
const FrontEnd& anthropic();

/// The front end and endpoint of an LLM path (after any /v1 prefix): /chat/completions,
/// /completions, /embeddings, /messages, /messages/count_tokens. nullopt for any other path.
struct Served {
  const FrontEnd* front_end;
  api::Endpoint endpoint;
};
std::optional<Served> serves(std::string_view path);

}  // namespace tollgate::frontend
