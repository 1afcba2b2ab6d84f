#include "tollgate/auth/master_key.hpp"

#include <cctype>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace tollgate::auth {
namespace {

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out.data());
  return out;
}

}  // namespace

MasterKey::MasterKey(std::string_view key) : required_(!key.empty()) {
  if (required_) digest_ = sha256(key);
}

bool MasterKey::matches(std::string_view presented) const {
  if (!required_) return true;
  const auto d = sha256(presented);
  return CRYPTO_memcmp(d.data(), digest_.data(), d.size()) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view value) {
  // RFC 9110 §11.1: the scheme is case-insensitive; one or more spaces separate it from the token.
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::nullopt;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

std::string_view presented_key(std::string_view authorization, std::string_view litellm_key, std::string_view x_api_key) {
  if (auto token = bearer_token(authorization); token && !token->empty()) return *token;
  if (!litellm_key.empty()) {
    // LiteLLM accepts this header with or without the Bearer prefix.
    return bearer_token(litellm_key).value_or(litellm_key);
  }
  return x_api_key;
}

}  // namespace tollgate::auth
