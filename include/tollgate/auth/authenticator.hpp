#pragma once
// Who is calling (docs/admin-api.md, "Enforcement"): the master key, or a virtual key from the
// key cache — expired, blocked and unknown keys refused; a database outage answered per
// allow_requests_on_db_unavailable. Without a key cache (no master key) every caller passes as
// the unrestricted principal. Also holds the model catalog model access is checked against.
//
// Thread safety: immutable (part of a config snapshot). Lifetime: the key cache outlives it.
#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "tollgate/api/api_error.hpp"
#include "tollgate/auth/model_access.hpp"
#include "tollgate/auth/principal.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::auth {

class KeyCache;

class Authenticator {
 public:
  /// `keys` null: no control plane, every request is let through unchecked.
  Authenticator(const config::Config& config, KeyCache* keys);

  /// Whether keys are checked (a control plane, with its key cache, is configured).
  bool enabled() const { return keys_ != nullptr; }
  const ModelCatalog& catalog() const { return catalog_; }

  /// The principal of a presented key, or the error to answer (401, 503).
  boost::asio::awaitable<api::ApiResult<std::shared_ptr<const Principal>>> authenticate(
      std::string_view presented, bool master_matches, std::int64_t now_ms) const;

  /// A principal for requests that pass without one (no master key, or the database is down and
  /// allow_requests_on_db_unavailable is set): no limits, every model.
  static std::shared_ptr<const Principal> unrestricted();

 private:
  KeyCache* keys_;
  ModelCatalog catalog_;
  bool allow_on_db_unavailable_;
};

}  // namespace tollgate::auth
