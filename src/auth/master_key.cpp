#include "tollgate/auth/master_key.hpp"

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

std::string_view presented_key(std::string_view authorization, std::string_view litellm_key, std::string_view x_api_key) {
  if (authorization.size() > 7 && (authorization.substr(0, 7) == "Bearer " || authorization.substr(0, 7) == "bearer ")) {
    std::string_view key = authorization.substr(7);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    return key;
  }
  if (!litellm_key.empty()) {
    // LiteLLM accepts this header with or without the Bearer prefix.
    if (litellm_key.substr(0, 7) == "Bearer ") litellm_key.remove_prefix(7);
    return litellm_key;
  }
  return x_api_key;
}

}  // namespace tollgate::auth
