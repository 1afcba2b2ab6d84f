#pragma once
// AWS Signature Version 4 (header-based) for the Bedrock adapter: pure functions over a request's
// method, wire path, query, headers and payload, with the signing time given by the caller (tests
// fix it; the provider reads the clock). Canonical URIs follow AWS's rules for every service but
// S3: each segment of the path as sent is URI-encoded once more, so Bedrock's `%3A` in a model id
// is signed as `%253A`.
//
// Thread safety: pure functions; nothing is kept past a call.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::providers::bedrock {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only; empty otherwise
};

struct SigV4Input {
  std::string_view method;        // "POST"
  std::string_view path;          // as sent on the request line (already percent-encoded), "/" when empty
  std::string_view query;         // canonical query string (sorted, encoded); empty when none
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign, host and x-amz-date included
  std::string_view payload;       // the body
  std::string_view region;        // "us-east-1"
  std::string_view service;       // "bedrock"
  std::string_view amz_date;      // "20150830T123600Z"
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // lowercase hex
  std::string authorization;   // the Authorization header's value
};

/// Signs `input` with `credentials`.
SigV4Result sigv4_sign(const SigV4Input& input, const AwsCredentials& credentials);

/// `/a b/c:d` → `/a%20b/c%3Ad`: every byte but A-Z a-z 0-9 - _ . ~ encoded, '/' kept.
std::string uri_encode_path(std::string_view path);

/// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// `time` as x-amz-date's basic ISO 8601 form, UTC: "20150830T123600Z".
std::string amz_date(std::chrono::system_clock::time_point time);

}  // namespace tollgate::providers::bedrock
