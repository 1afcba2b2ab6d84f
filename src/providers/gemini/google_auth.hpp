#pragma once
// Google service-account OAuth2 (the JWT bearer grant, RFC 7523) as pure functions: parse the
// service-account JSON, sign the RS256 assertion with OpenSSL, read the token endpoint's answer.
// No I/O: the caller sends the request (see Provider::token_request).
//
// Thread safety: pure functions; nothing is kept past a call.
#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/api/api_error.hpp"

namespace tollgate::providers::google {

inline constexpr std::string_view kCloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";
inline constexpr std::string_view kDefaultTokenUri = "https://oauth2.googleapis.com/token";

struct ServiceAccount {
  std::string client_email;  // the JWT's iss
  std::string private_key;   // PEM (PKCS#8), RSA
  std::string token_uri;     // where the assertion is exchanged; the JWT's aud
  std::string project_id;    // Vertex's default project
};

/// A service-account key file's JSON (`"type": "service_account"`). Errors are 401s.
api::ApiResult<ServiceAccount> parse_service_account(std::string_view json_text);

/// base64url without padding (RFC 7515 §2).
std::string base64url(std::string_view bytes);

/// The signed assertion {iss, scope, aud: token_uri, iat, exp: iat+3600}, RS256. A key OpenSSL
/// cannot read or sign with is a 401.
api::ApiResult<std::string> service_account_jwt(const ServiceAccount& account, std::int64_t iat);

/// The token endpoint's form body for `jwt`.
std::string token_request_body(std::string_view jwt);

struct AccessToken {
  std::string token;
  std::int64_t expires_at = 0;  // unix seconds
};

/// The token endpoint's answer ({"access_token","expires_in",...}) received at `now_s`. A refusal
/// ({"error","error_description"}) or a malformed answer is a 401.
api::ApiResult<AccessToken> parse_token_response(unsigned status, std::string_view body, std::int64_t now_s);

}  // namespace tollgate::providers::google
