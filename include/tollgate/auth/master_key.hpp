#pragma once
// The master key check, in constant time: both sides are hashed with SHA-256 and the digests
// compared with CRYPTO_memcmp, so neither content nor length leaks through timing.
//
// Thread safety: immutable after construction.
#include <array>
#include <optional>
#include <string_view>

namespace tollgate::auth {

class MasterKey {
 public:
  /// An empty key disables authentication (LiteLLM's behaviour without a master key).
  explicit MasterKey(std::string_view key);
  bool required() const { return required_; }
  bool matches(std::string_view presented) const;

 private:
  std::array<unsigned char, 32> digest_{};
  bool required_ = false;
};

/// The token of an `Authorization` value in the Bearer scheme, the scheme in any case
/// (`Bearer k`, `bearer k`, `BEARER k`); nullopt for another scheme. The view is into `value`.
std::optional<std::string_view> bearer_token(std::string_view value);

/// The key a request presents: `Authorization: Bearer <k>`, else `x-litellm-api-key` (with or
/// without the Bearer scheme), else (Anthropic routes) `x-api-key`. Empty when none.
std::string_view presented_key(std::string_view authorization, std::string_view litellm_key, std::string_view x_api_key);

}  // namespace tollgate::auth
