#pragma once
// Shared by the provider tests of Provider::classify_error: an upstream response's headers as the
// lookup the proxy hands over, and the class a gateway in front of us reads from an error we send.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/openai/openai_provider.hpp"
#include "tollgate/api/api_error.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

/// Response headers by name, case-insensitively, as http::UpstreamResponse::header reads them.
inline HeaderLookup headers(std::vector<std::pair<std::string, std::string>> list) {
  return [list = std::move(list)](std::string_view name) {
    for (const auto& [key, value] : list) {
      if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return value;
      }
    }
    return std::string();
  };
}

/// Just a `retry-after` header (none when `value` is empty).
inline HeaderLookup retry_after(std::string value) {
  if (value.empty()) return {};
  return headers({{"retry-after", std::move(value)}});
}

/// The class of the error we send to a client, read as an OpenAI-compatible gateway in front of us
/// (another Tollgate, LiteLLM) reads it: our errors keep the vendor's words for that.
inline config::ErrorClass read_downstream(const api::ApiError& sent) {
  return OpenAiProvider().classify_error(sent.status, api::error_json(sent), {}, 0).cls;
}

}  // namespace tollgate::providers
