#include "tollgate/auth/authenticator.hpp"

#include "tollgate/auth/key_cache.hpp"

namespace tollgate::auth {

Authenticator::Authenticator(const config::Config& config, KeyCache* keys)
    : keys_(keys), catalog_(config), allow_on_db_unavailable_(config.control.allow_requests_on_db_unavailable) {}

std::shared_ptr<const Principal> Authenticator::unrestricted() {
  static const auto p = std::make_shared<const Principal>();
  return p;
}

boost::asio::awaitable<api::ApiResult<std::shared_ptr<const Principal>>> Authenticator::authenticate(
    std::string_view presented, bool master_matches, std::int64_t now_ms) const {
  using Out = std::shared_ptr<const Principal>;
  if (!keys_) co_return unrestricted();
  if (master_matches) {
    static const Out master = [] {
      Principal p;
      p.master = true;
      return std::make_shared<const Principal>(std::move(p));
    }();
    co_return master;
  }
  if (presented.empty()) {
    co_return api::make_error(Errc::kUnauthorized,
                              "Authentication Error, no API key passed in. Pass it as 'Authorization: Bearer <key>'.");
  }
  std::string token = hash_key(presented);
  Result<Out> found = co_await keys_->lookup(std::move(token));
  if (!found) {
    if (allow_on_db_unavailable_) co_return unrestricted();
    co_return api::make_error(Errc::kDbUnavailable,
                              "Authentication Error, the key cannot be checked: database unavailable. Try again shortly.");
  }
  const Out& p = *found;
  if (!p) co_return api::make_error(Errc::kUnauthorized, "Authentication Error, Invalid proxy server token passed.");
  if (p->expires_ms && *p->expires_ms <= now_ms) {
    co_return api::make_error(Errc::kUnauthorized,
                              "Authentication Error - Expired Key. Key Expiry time " + iso8601(*p->expires_ms) + ".");
  }
  if (p->key.blocked) co_return api::make_error(Errc::kUnauthorized, "Authentication Error, Key is blocked.");
  if (p->team && p->team->blocked) {
    co_return api::make_error(Errc::kUnauthorized, "Authentication Error, Team=" + p->team->id + " is blocked.");
  }
  co_return p;
}

}  // namespace tollgate::auth
