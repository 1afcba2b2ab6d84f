#include "config/redis_settings.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <utility>

namespace tollgate::config::detail {
namespace {

constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

std::optional<int> parse_digits(std::string_view text, std::int64_t min, std::int64_t max) {
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  auto n = parse_int(text);
  if (!n || *n < min || *n > max) return std::nullopt;
  return static_cast<int>(*n);
}

// redis://[[user]:password@]host[:port][/db] -> `out` (every field replaced: a URL is a whole
// address). The problem, if any, never quotes the URL: it may hold a password.
std::optional<std::string> parse_redis_url(std::string_view url, RedisSettings& out) {
  constexpr std::string_view kForm = "expected redis://[[user]:password@]host[:port][/db]";
  if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
    return "must not contain spaces or control characters";
  }
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(kForm);
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme == "rediss") return "TLS to Redis is not supported yet";
  if (scheme != "redis") {
    // Built with append: `std::string + ...` here trips GCC 12's false -Warray-bounds.
    std::string message(kForm);
    message.append(", got scheme '").append(scheme).append("'");
    return message;
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return "query parameters are not supported; give the database number as the path (/db)";
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view db = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

  RedisSettings r;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) return "expected [user]:password before '@'";
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(userinfo.substr(colon + 1));
    if (!user || !password) return "bad %-escape in the user or password";
    r.username = std::move(*user);
    r.password = std::move(*password);
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "unclosed '[' in the host";
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::string(kForm);
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    has_port = true;
  }
  if (host.empty()) return "missing host";
  r.host = std::string(host);
  if (has_port) {
    auto n = parse_digits(port, 1, 65535);
    if (!n) return "port must be an integer between 1 and 65535";
    r.port = static_cast<std::uint16_t>(*n);
  }
  if (!db.empty()) {
    auto n = parse_digits(db, 0, kMaxInt);
    if (!n) return "database (the path after the host) must be an integer >= 0";
    r.db = *n;
  }
  out = std::move(r);
  return std::nullopt;
}

// An empty variable is how compose files spell "not set".
std::optional<std::string> env_value(const LoadContext& ctx, const std::string& name) {
  auto v = ctx.env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

// A config string that came from an empty variable counts as absent; a literal "" is an error.
std::optional<std::string> non_empty(const Section& s, LoadContext& ctx, std::string_view key) {
  auto v = s.string(key);
  if (v && v->empty()) {
    if (!ctx.is_from_env(s.path_of(key))) ctx.error(s.path_of(key), "must not be empty");
    return std::nullopt;
  }
  return v;
}

}  // namespace

void read_redis(const Section& s, LoadContext& ctx, RedisSettings& out) {
  auto host = non_empty(s, ctx, "redis_host");
  auto port = s.integer("redis_port", 1, 65535);
  auto password = s.string("redis_password");
  auto url = non_empty(s, ctx, "redis_url");
  const std::string url_path = s.path_of("redis_url");

  RedisSettings r;
  if (url) {
    if (auto problem = parse_redis_url(*url, r)) ctx.error(url_path, *problem);
  } else if (auto env_url = env_value(ctx, "REDIS_URL")) {
    if (auto problem = parse_redis_url(*env_url, r)) ctx.error(url_path, "environment variable REDIS_URL: " + *problem);
  } else {
    r.host = env_value(ctx, "REDIS_HOST").value_or("");
    r.password = env_value(ctx, "REDIS_PASSWORD").value_or("");
    r.username = env_value(ctx, "REDIS_USERNAME").value_or("");
    if (auto env_port = env_value(ctx, "REDIS_PORT"); env_port && !port) {
      if (auto n = parse_digits(*env_port, 1, 65535)) {
        r.port = static_cast<std::uint16_t>(*n);
      } else {
        ctx.error(s.path_of("redis_port"), "environment variable REDIS_PORT: must be an integer between 1 and 65535");
      }
    }
  }
  if (host) r.host = *host;
  if (port) r.port = static_cast<std::uint16_t>(*port);
  if (password) r.password = *password;
  if (!r.enabled() && (port || (password && !password->empty()))) {
    ctx.warn(s.path_of(port ? "redis_port" : "redis_password"),
             "ignored: no redis_host, redis_url, REDIS_URL or REDIS_HOST, so Redis is not used");
  }
  out = std::move(r);
}

}  // namespace tollgate::config::detail
