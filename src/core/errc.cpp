#include "tollgate/core/errc.hpp"

#include <string>

namespace tollgate {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "tollgate"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kOk: return "ok";
      case Errc::kInvalidJson: return "invalid JSON";
      case Errc::kInvalidRequest: return "invalid request";
      case Errc::kBodyTooLarge: return "request body too large";
      case Errc::kUnauthorized: return "unauthorized";
      case Errc::kUnknownModel: return "unknown model";
      case Errc::kNotFound: return "not found";
      case Errc::kMethodNotAllowed: return "method not allowed";
      case Errc::kUpstreamTimeout: return "upstream timeout";
      case Errc::kUpstreamConnect: return "upstream connection failed";
      case Errc::kUpstreamProtocol: return "upstream protocol error";
      case Errc::kUpstreamStatus: return "upstream error status";
      case Errc::kShuttingDown: return "shutting down";
      case Errc::kNoDeployments: return "no deployments available";
      case Errc::kRedisUnavailable: return "redis unavailable";
      case Errc::kDbUnavailable: return "database unavailable";
      case Errc::kDbError: return "database error";
      case Errc::kDbConflict: return "already exists";
      case Errc::kForbidden: return "forbidden";
      case Errc::kRateLimited: return "rate limited";
      case Errc::kBudgetExceeded: return "budget exceeded";
      case Errc::kModelAccessDenied: return "model access denied";
      case Errc::kInternal: return "internal error";
    }
    return "unknown tollgate error";
  }
};

}  // namespace

const boost::system::error_category& tollgate_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace tollgate
