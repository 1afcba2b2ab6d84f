#include "providers/bedrock/sigv4.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace tollgate::providers::bedrock {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string_view view(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Header values are signed trimmed, with runs of spaces collapsed to one.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string uri_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size() * 3);
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return hex(out.data(), out.size());
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[17];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

SigV4Result sigv4_sign(const SigV4Input& input, const AwsCredentials& credentials) {
  SigV4Result r;
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(input.headers.size());
  for (const auto& [name, value] : input.headers) headers.emplace_back(lower(name), canonical_value(value));
  std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    // Repeated names are signed once, their values joined by commas.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();
      canonical_headers.append(",").append(headers[i].second).append("\n");
      continue;
    }
    if (!r.signed_headers.empty()) r.signed_headers.push_back(';');
    r.signed_headers.append(headers[i].first);
    canonical_headers.append(headers[i].first).append(":").append(headers[i].second).append("\n");
  }
  const std::string path = input.path.empty() ? std::string("/") : uri_encode_path(input.path);
  r.canonical_request.append(input.method).append("\n").append(path).append("\n").append(input.query).append("\n");
  r.canonical_request.append(canonical_headers).append("\n").append(r.signed_headers).append("\n");
  r.canonical_request.append(sha256_hex(input.payload));

  const std::string_view date = input.amz_date.substr(0, 8);
  std::string scope(date);
  scope.append("/").append(input.region).append("/").append(input.service).append("/aws4_request");
  r.string_to_sign = "AWS4-HMAC-SHA256\n";
  r.string_to_sign.append(input.amz_date).append("\n").append(scope).append("\n").append(sha256_hex(r.canonical_request));

  const Digest k_date = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  const Digest k_region = hmac_sha256(view(k_date), input.region);
  const Digest k_service = hmac_sha256(view(k_region), input.service);
  const Digest k_signing = hmac_sha256(view(k_service), "aws4_request");
  const Digest signature = hmac_sha256(view(k_signing), r.string_to_sign);
  r.signature = hex(signature.data(), signature.size());
  r.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                    ", SignedHeaders=" + r.signed_headers + ", Signature=" + r.signature;
  return r;
}

}  // namespace tollgate::providers::bedrock
