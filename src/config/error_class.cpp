#include "tollgate/config/config.hpp"

namespace tollgate::config {

std::string_view exception_class_name(ErrorClass cls) {
  switch (cls) {
    case ErrorClass::kBadRequest: return "BadRequestError";
    case ErrorClass::kAuthentication: return "AuthenticationError";
    case ErrorClass::kTimeout: return "Timeout";
    case ErrorClass::kRateLimit: return "RateLimitError";
    case ErrorClass::kContentPolicy: return "ContentPolicyViolationError";
    case ErrorClass::kServerError: return "InternalServerError";
    case ErrorClass::kContextWindow: return "ContextWindowExceededError";
    case ErrorClass::kNotFound: return "NotFoundError";
    case ErrorClass::kConnection: return "APIConnectionError";
  }
  return "InternalServerError";
}

}  // namespace tollgate::config
