// The upstream-call stage (upstream_call.hpp).
#include "proxy/upstream_call.hpp"

#include "proxy/reply.hpp"

namespace tollgate::proxy {
namespace {

constexpr std::size_t kMaxUpstreamErrorBody = 1u << 20;
constexpr std::size_t kMaxUpstreamBody = 256u << 20;

// The model name sent upstream: a wildcard group passes what its '*' matched through.
std::string upstream_model(const config::Deployment& deployment, const router::Target& target) {
  if (target.wildcard_match.empty()) return deployment.model;
  std::string model = deployment.model;
  if (const auto star = model.find('*'); star != std::string::npos) {
    model.replace(star, 1, target.wildcard_match);
    return model;
  }
  return deployment.model.empty() ? target.wildcard_match : deployment.model;
}

}  // namespace

boost::asio::awaitable<AttemptResult> UpstreamCall::attempt(const router::Route& route, const router::Target& target,
                                                            const router::AttemptTimeout& timeout) {
  AttemptResult result;
  const config::Deployment& deployment = *route.deployment;
  const api::RequestFields& fields = request_.fields;
  const api::Endpoint endpoint = *ctx_.call.endpoint;
  if (fields.mock_response || deployment.mock_response) {
    const std::string& answer = fields.mock_response ? *fields.mock_response : *deployment.mock_response;
    auto mock_error = co_await answer_mock(answer);
    result.answered = !mock_error;
    result.error = std::move(mock_error);
    result.cls = router::ErrorClass::kBadRequest;
    co_return result;
  }
  const std::string model = upstream_model(deployment, target);
  const providers::Provider& provider = *route.provider;
  // Vendors that authorise calls with a fetched token (Vertex AI): a cached token costs nothing
  // here; only a missing or expiring one is fetched (no coroutine frame otherwise).
  const std::int64_t token_now_s = unix_ms_now() / 1000;
  auto token_request = provider.token_request(deployment, token_now_s);
  std::optional<api::ApiError> token_error;
  if (!token_request) {
    token_error = token_request.error();
  } else if (*token_request) {
    token_error = co_await fetch_token(provider, deployment, std::move(**token_request), token_now_s);
  }
  if (token_error) {
    result.error = std::move(token_error);
    result.cls = router::ErrorClass::kAuthentication;
    co_return result;
  }
  // A vendor that speaks the client's dialect gets the request as the client wrote it.
  std::optional<api::ApiResult<http::UpstreamRequest>> native_request =
      ctx_.front_end->native_request(provider, deployment, route.base, model, ex_.request());
  const bool native = native_request.has_value();
  auto upstream_request = native ? std::move(*native_request)
                                 : provider.build_request(deployment, route.base, endpoint, request_, model,
                                                          /*want_stream_usage=*/true);
  if (!upstream_request) {
    result.error = upstream_request.error();
    result.cls = router::ErrorClass::kBadRequest;
    co_return result;
  }
  upstream_request->first_byte_timeout = timeout.first_byte;
  upstream_request->chunk_timeout = timeout.between_chunks;

  auto t0 = SteadyClock::now();
  auto response = co_await worker_.upstream.send(std::move(*upstream_request));
  ctx_.upstream.wait += SteadyClock::now() - t0;
  if (!response) {
    result.cls = router::classify_errc(response.error().errc);
    result.error = response.error();
    co_return result;
  }
  http::UpstreamResponse& resp = **response;
  if (resp.status() >= 400) {
    t0 = SteadyClock::now();
    auto body = co_await resp.read_all(kMaxUpstreamErrorBody);
    ctx_.upstream.wait += SteadyClock::now() - t0;
    const std::string error_body = body ? std::move(*body) : std::string();
    // The vendor reads its own answer once: the client's error, the class, the delay it asks for.
    const providers::HeaderLookup header = [&resp](std::string_view name) { return resp.header(name); };
    providers::UpstreamFailure failure =
        provider.classify_error(resp.status(), error_body, header, unix_ms_now() / 1000);
    result.cls = failure.cls;
    result.retry_after = failure.retry_after;
    result.error = std::move(failure.error);
    co_return result;
  }
  if (fields.stream && resp.has_content_type(provider.stream_content_type())) {
    ctx_.upstream.attempt_started = t0;
    co_await relay_stream(resp, provider, native);
    result.answered = true;
    co_return result;
  }
  t0 = SteadyClock::now();
  auto body = co_await resp.read_all(kMaxUpstreamBody);
  ctx_.upstream.wait += SteadyClock::now() - t0;
  if (!body) {
    result.cls = router::classify_errc(body.error().errc);
    result.error = body.error();
    co_return result;
  }
  api::ApiResult<std::string> answer = std::string();
  if (native) {
    ctx_.cost.usage = ctx_.front_end->native_usage(provider, *body);
    *answer = std::move(*body);
  } else {
    answer = provider.translate_response(endpoint, std::move(*body), ctx_.cost.usage);
    if (answer) answer = ctx_.front_end->render(std::move(*answer));
  }
  if (!answer) {
    // Some vendors refuse inside a 200 (Gemini's blocked prompt): the provider classifies it.
    providers::UpstreamFailure failure = provider.classify_translated_error(answer.error());
    result.cls = failure.cls;
    result.error = std::move(failure.error);
    co_return result;
  }
  if (auto cost = ctx_.price(ctx_.cost.usage)) ctx_.cost.response_cost = *cost;
  ctx_.answer.status = 200;
  ctx_.settle(*answer);
  co_await send_json(ex_, std::move(*answer), ctx_);
  result.answered = true;
  co_return result;
}

boost::asio::awaitable<std::optional<api::ApiError>> UpstreamCall::fetch_token(const providers::Provider& provider,
                                                                               const config::Deployment& deployment,
                                                                               http::UpstreamRequest request,
                                                                               std::int64_t now_s) {
  const auto t0 = SteadyClock::now();
  auto response = co_await worker_.upstream.send(std::move(request));
  if (!response) {
    ctx_.upstream.wait += SteadyClock::now() - t0;
    api::ApiError e = response.error();
    e.status = 401;
    e.message = "Could not fetch the deployment's access token: " + e.message;
    co_return e;
  }
  auto body = co_await (*response)->read_all(kMaxUpstreamErrorBody);
  ctx_.upstream.wait += SteadyClock::now() - t0;
  const std::string text = body ? std::move(*body) : std::string();
  co_return provider.accept_token(deployment, (*response)->status(), text, now_s);
}

}  // namespace tollgate::proxy
