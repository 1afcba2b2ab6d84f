#include "tollgate/store/redis.hpp"

#include <array>
#include <utility>

#include <openssl/evp.h>

namespace tollgate::store {

RedisScript::RedisScript(std::string lua) : source_(std::move(lua)) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(source_.data(), source_.size(), md.data(), &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  sha1_.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    sha1_.push_back(kHex[md[i] >> 4]);
    sha1_.push_back(kHex[md[i] & 0x0f]);
  }
}

}  // namespace tollgate::store
