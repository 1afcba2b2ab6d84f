#include "providers/gemini/google_auth.hpp"

#include <memory>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tollgate/api/json_fields.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::providers::google {
namespace {

using json = nlohmann::ordered_json;
using api::json_fields::string_field;

api::ApiError auth_error(std::string message) {
  return api::make_error(Errc::kUnauthorized, "Vertex AI credentials: " + std::move(message));
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

api::ApiResult<ServiceAccount> parse_service_account(std::string_view json_text) {
  const json in = api::read_ordered_json_lenient(json_text);
  if (!in.is_object()) return auth_error("vertex_credentials is neither a service-account JSON file nor JSON text.");
  const std::string type = string_field(in, "type");
  if (!type.empty() && type != "service_account") {
    return auth_error("only service-account credentials are supported, not '" + type + "'.");
  }
  ServiceAccount out;
  out.client_email = string_field(in, "client_email");
  out.private_key = string_field(in, "private_key");
  out.token_uri = string_field(in, "token_uri");
  out.project_id = string_field(in, "project_id");
  if (out.client_email.empty() || out.private_key.empty()) {
    return auth_error("the service account has no client_email or private_key.");
  }
  if (out.token_uri.empty()) out.token_uri = std::string(kDefaultTokenUri);
  return out;
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

api::ApiResult<std::string> service_account_jwt(const ServiceAccount& account, std::int64_t iat) {
  constexpr std::int64_t kLifetime = 3600;  // Google's maximum
  json claims;
  claims["iss"] = account.client_email;
  claims["scope"] = kCloudPlatformScope;
  claims["aud"] = account.token_uri;
  claims["iat"] = iat;
  claims["exp"] = iat + kLifetime;
  const std::string signing_input = base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(claims.dump());

  const std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(account.private_key.data(), static_cast<int>(account.private_key.size())));
  if (!bio) return auth_error("out of memory reading the private key.");
  const std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) return auth_error("the private_key is not a PEM RSA key.");
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return auth_error("could not sign with the private_key.");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    return auth_error("could not sign with the private_key.");
  }
  signature.resize(length);
  return signing_input + "." + base64url(signature);
}

std::string token_request_body(std::string_view jwt) {
  // A JWT is base64url and dots: nothing in it needs form encoding.
  return "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + std::string(jwt);
}

api::ApiResult<AccessToken> parse_token_response(unsigned status, std::string_view body, std::int64_t now_s) {
  const json in = api::read_ordered_json_lenient(body);
  if (status != 200) {
    std::string why = string_field(in, "error_description");
    if (why.empty()) why = string_field(in, "error");
    if (why.empty()) why = "HTTP " + std::to_string(status);
    return auth_error("the token endpoint refused the service account: " + why + ".");
  }
  AccessToken out;
  out.token = string_field(in, "access_token");
  const auto expires = in.is_object() ? in.find("expires_in") : in.end();
  if (out.token.empty() || expires == in.end() || !expires->is_number_integer()) {
    return auth_error("the token endpoint sent no access_token and expires_in.");
  }
  out.expires_at = now_s + expires->get<std::int64_t>();
  return out;
}

}  // namespace tollgate::providers::google
