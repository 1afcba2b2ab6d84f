#pragma once
// Module-private to proxy/: answers the gateway sends itself, and the headers every answer
// carries (x-litellm-*, x-ratelimit-*), computed when the response head goes out.
#include <string>

#include <boost/asio/awaitable.hpp>

#include "proxy/request_context.hpp"
#include "tollgate/api/api_error.hpp"
#include "tollgate/http/server.hpp"

namespace tollgate::proxy {

http::HeaderList response_headers(const RequestContext& ctx);
/// A 200 JSON answer.
boost::asio::awaitable<void> send_json(http::Exchange& ex, std::string&& body, RequestContext& ctx);
/// An error in the request's front-end dialect (counted as a control rejection).
boost::asio::awaitable<void> send_error(http::Exchange& ex, const api::ApiError& error, RequestContext& ctx);

}  // namespace tollgate::proxy
