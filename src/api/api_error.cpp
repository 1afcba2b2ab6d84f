#include "tollgate/api/api_error.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace tollgate::api {
namespace {

struct Shape {
  unsigned status;
  const char* type;
};

Shape shape_of(Errc errc) {
  switch (errc) {
    case Errc::kInvalidJson:
    case Errc::kInvalidRequest: return {400, "invalid_request_error"};
    case Errc::kUnknownModel: return {400, "invalid_request_error"};
    case Errc::kBodyTooLarge: return {413, "invalid_request_error"};
    case Errc::kUnauthorized: return {401, "auth_error"};
    case Errc::kNotFound: return {404, "not_found_error"};
    case Errc::kMethodNotAllowed: return {405, "invalid_request_error"};
    case Errc::kUpstreamTimeout: return {408, "timeout_error"};
    case Errc::kUpstreamConnect: return {502, "api_connection_error"};
    case Errc::kUpstreamProtocol: return {502, "api_error"};
    case Errc::kUpstreamStatus: return {502, "api_error"};
    case Errc::kShuttingDown: return {503, "service_unavailable"};
    case Errc::kNoDeployments: return {429, "rate_limit_error"};
    case Errc::kRedisUnavailable: return {503, "service_unavailable"};
    case Errc::kDbUnavailable: return {503, "service_unavailable"};
    case Errc::kDbError: return {500, "internal_server_error"};
    case Errc::kDbConflict: return {400, "invalid_request_error"};
    case Errc::kForbidden: return {403, "permission_error"};
    case Errc::kRateLimited: return {429, "rate_limit_error"};
    case Errc::kBudgetExceeded: return {400, "budget_exceeded"};
    case Errc::kModelAccessDenied: return {401, "key_model_access_denied"};
    case Errc::kOk:
    case Errc::kInternal: break;
  }
  return {500, "internal_server_error"};
}

}  // namespace

ApiError make_error(Errc errc, std::string message, std::optional<std::string> param) {
  const Shape shape = shape_of(errc);
  ApiError e;
  e.status = shape.status;
  e.type = shape.type;
  // LiteLLM answers a model-access denial with status 401 but code "403".
  e.code = errc == Errc::kModelAccessDenied ? "403" : std::to_string(shape.status);
  e.message = std::move(message);
  e.param = std::move(param);
  e.errc = errc;
  return e;
}

std::string error_json(const ApiError& error) {
  nlohmann::json body = {{"error",
                          {{"message", error.message},
                           {"type", error.type},
                           {"param", error.param ? nlohmann::json(*error.param) : nlohmann::json(nullptr)},
                           {"code", error.code}}}};
  // Upstream messages may carry invalid UTF-8; replace rather than throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void throw_exception_from_error(const ApiError& error, const boost::source_location&) {
  throw std::runtime_error(error.message);
}

}  // namespace tollgate::api
