#include "support/fake_google_auth.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "support/fake_gemini.hpp"

namespace tollgate::testing {
namespace {

using json = nlohmann::json;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

FakeReply oauth_error(std::string_view description) {
  return fake_error(400, json{{"error", "invalid_grant"}, {"error_description", description}}.dump());
}

// application/x-www-form-urlencoded value of `name` in `body`, percent-decoded.
std::string form_value(std::string_view body, std::string_view name) {
  std::size_t pos = 0;
  while (pos <= body.size()) {
    const std::size_t end = std::min(body.find('&', pos), body.size());
    const std::string_view pair = body.substr(pos, end - pos);
    if (pair.substr(0, pair.find('=')) == name && pair.find('=') != std::string_view::npos) {
      std::string out;
      const std::string_view raw = pair.substr(pair.find('=') + 1);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size()) {
          out.push_back(static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16)));
          i += 2;
        } else {
          out.push_back(raw[i] == '+' ? ' ' : raw[i]);
        }
      }
      return out;
    }
    pos = end + 1;
  }
  return {};
}

}  // namespace

RsaKeyPair make_rsa_key_pair() {
  const std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_RSA_gen(2048));
  if (!key) throw std::runtime_error("RSA key generation failed");
  const std::unique_ptr<BIO, BioFree> priv(BIO_new(BIO_s_mem()));
  const std::unique_ptr<BIO, BioFree> pub(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    throw std::runtime_error("writing the RSA key pair failed");
  }
  return RsaKeyPair{bio_text(priv.get()), bio_text(pub.get())};
}

bool verify_rs256(const std::string& public_pem, const std::string& data, const std::string& signature) {
  const std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())));
  const std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::optional<std::string> base64url_decode(const std::string& text) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    int v = -1;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '-') v = 62;
    else if (ch == '_') v = 63;
    else if (ch == '=') break;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<FakeExchange> FakeGoogleAuth::plan(const FakeRequest& request) {
  const FakeTarget target = split_fake_target(request.target);
  const bool token = target.path == "/token";
  const bool vertex = target.path.find("/publishers/google/models/") != std::string::npos;
  if (!token && !vertex) return std::nullopt;
  const FakeCall call = read_fake_call(request, /*body_controls=*/!token);
  FakeExchange ex;
  ex.controls = call.controls;
  if (token) {
    ex.reply = token_reply(request, target.controls);
  } else if (!target.path.starts_with("/v1/projects/") || target.path.find("/locations/") == std::string::npos) {
    ex.reply = fake_error(404, gemini_error_body(404, "fake: not a Vertex AI model path: " + target.path));
  } else if (!valid(request.authorization)) {
    ex.reply = fake_error(401, gemini_error_body(401, "Request had invalid authentication credentials. Expected OAuth 2 "
                                                      "access token, login cookie or other valid authentication credential."));
  } else {
    ex.reply = plan_gemini(request, ex.controls, call.body, call.body_ok, target.path, target.query, "", /*bearer_ok=*/true);
  }
  add_fake_headers(ex.reply, request, ex.controls);
  return ex;
}

FakeReply FakeGoogleAuth::token_reply(const FakeRequest& request, const json& controls) {
  if (request.method != "POST") return oauth_error("POST required");
  if (form_value(request.body, "grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer") {
    FakeReply r = oauth_error("Invalid grant_type");
    r.body = json{{"error", "unsupported_grant_type"}, {"error_description", "Invalid grant_type"}}.dump();
    return r;
  }
  const std::string jwt = form_value(request.body, "assertion");
  const std::size_t dot1 = jwt.find('.');
  const std::size_t dot2 = jwt.find('.', dot1 == std::string::npos ? 0 : dot1 + 1);
  if (dot1 == std::string::npos || dot2 == std::string::npos) return oauth_error("Invalid JWT: not three parts");
  const auto header = base64url_decode(jwt.substr(0, dot1));
  const auto claims_text = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = base64url_decode(jwt.substr(dot2 + 1));
  if (!header || !claims_text || !signature) return oauth_error("Invalid JWT: bad base64url");
  const json head = json::parse(*header, nullptr, false);
  const json claims = json::parse(*claims_text, nullptr, false);
  if (!head.is_object() || head.value("alg", "") != "RS256") return oauth_error("Invalid JWT: alg must be RS256");
  if (!verify_rs256(public_pem_, jwt.substr(0, dot2), *signature)) return oauth_error("Invalid JWT Signature.");
  if (!claims.is_object() || claims.value("iss", "").empty() ||
      claims.value("scope", "") != "https://www.googleapis.com/auth/cloud-platform" ||
      !claims.value("aud", "").ends_with("/token") || !claims.contains("iat") || !claims["iat"].is_number_integer() ||
      !claims.contains("exp") || !claims["exp"].is_number_integer() ||
      claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>() != 3600) {
    return oauth_error("Invalid JWT: claims");
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (std::llabs(claims["iat"].get<std::int64_t>() - now) > 300) {
    return oauth_error("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
  }
  int expires_in = 3600;
  if (auto it = controls.find("expires_in"); it != controls.end() && it->is_number_integer()) expires_in = it->get<int>();
  std::string token;
  {
    const std::lock_guard lock(mutex_);
    token = "ya29.fake-" + std::to_string(++issued_);
    tokens_[token] = std::chrono::steady_clock::now() + std::chrono::seconds(expires_in);
  }
  FakeReply r;
  r.body = json{{"access_token", token}, {"expires_in", expires_in}, {"token_type", "Bearer"}}.dump();
  return r;
}

bool FakeGoogleAuth::valid(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) return false;
  const std::lock_guard lock(mutex_);
  const auto it = tokens_.find(std::string(authorization.substr(kBearer.size())));
  return it != tokens_.end() && std::chrono::steady_clock::now() < it->second;
}

std::size_t FakeGoogleAuth::tokens_issued() const {
  const std::lock_guard lock(mutex_);
  return issued_;
}

}  // namespace tollgate::testing
