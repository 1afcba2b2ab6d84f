#pragma once
// Google's OAuth2 token endpoint and Vertex AI's generateContent paths for the fake provider.
//
// FakeGoogleAuth answers `POST .../token` (the JWT bearer grant) by verifying the assertion's RS256
// signature with the public key it was given and its claims (scope cloud-platform, aud ending in
// /token, exp = iat + 3600, iat within five minutes of now); a bad one gets Google's 400
// {"error":"invalid_grant",...}. Tokens are `ya29.fake-<n>`, valid for `expires_in` seconds (the
// `expires_in=<s>` path control before /token, else 3600). Vertex paths
// (`.../v1/projects/<p>/locations/<l>/publishers/google/models/<m>:<method>`) need
// `Authorization: Bearer <a valid token>` (else 401 UNAUTHENTICATED) and are then answered as
// Gemini (fake_gemini.hpp).
//
// Thread safety: all members may be called from any thread (a mutex guards the issued tokens).
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "support/fake_exchange.hpp"

namespace tollgate::testing {

/// A fresh RSA-2048 key pair as PEM: PKCS#8 private key and SubjectPublicKeyInfo public key.
struct RsaKeyPair {
  std::string private_pem;
  std::string public_pem;
};
RsaKeyPair make_rsa_key_pair();

/// True when `signature` is `data`'s RS256 signature under `public_pem`.
bool verify_rs256(const std::string& public_pem, const std::string& data, const std::string& signature);

/// base64url (padding optional) decoded; nullopt when malformed.
std::optional<std::string> base64url_decode(const std::string& text);

class FakeGoogleAuth {
 public:
  explicit FakeGoogleAuth(std::string public_pem) : public_pem_(std::move(public_pem)) {}

  /// The exchange for a token or Vertex request; nullopt for every other request.
  std::optional<FakeExchange> plan(const FakeRequest& request);

  std::size_t tokens_issued() const;

 private:
  FakeReply token_reply(const FakeRequest& request, const nlohmann::json& controls);
  bool valid(std::string_view authorization) const;

  std::string public_pem_;
  mutable std::mutex mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> tokens_;  // guarded by mutex_
  std::size_t issued_ = 0;                                               // guarded by mutex_
};

}  // namespace tollgate::testing
