#pragma once
// The start every vendor adapter's build_request shares: refusing the endpoints it does not speak,
// and the JSON POST it then completes with its own auth and accept headers.
//
// Thread safety: pure functions.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tollgate/api/api_error.hpp"
#include "tollgate/api/request.hpp"
#include "tollgate/http/upstream_client.hpp"

namespace tollgate::providers {

/// Adapters that speak only chat: a 400 naming `vendor` for any other endpoint.
inline std::optional<api::ApiError> chat_only(api::Endpoint endpoint, std::string_view vendor) {
  if (endpoint == api::Endpoint::kChatCompletions) return std::nullopt;
  return api::make_error(Errc::kInvalidRequest,
                         std::string(api::endpoint_path(endpoint)) + " is not supported by " + std::string(vendor) +
                             " deployments; use /chat/completions.",
                         "model");
}

/// A POST of the JSON `body` to `target` on `base`'s host, content-type set, with room for
/// `header_count` headers in all.
inline http::UpstreamRequest json_post(const http::Url& base, std::string target, std::string body,
                                       std::size_t header_count) {
  http::UpstreamRequest out;
  out.url = base;
  out.target = std::move(target);
  out.body = std::move(body);
  out.headers.reserve(header_count);
  out.headers.emplace_back("content-type", "application/json");
  return out;
}

}  // namespace tollgate::providers
