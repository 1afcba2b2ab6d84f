#include "config/router_settings.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <map>
#include <utility>
#include <vector>

namespace tollgate::config::detail {
namespace {

const Json kNull = nullptr;
constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();

constexpr std::array<std::string_view, 5> kSharedKeys{"num_retries", "fallbacks", "default_fallbacks",
                                                      "context_window_fallbacks", "content_policy_fallbacks"};

constexpr std::array<std::string_view, 24> kRouterKeys{
    "timeout", "stream_timeout", "routing_strategy", "routing_strategy_args", "redis_host", "redis_port",
    "redis_password", "redis_url", "num_retries", "retry_policy", "retry_after", "allowed_fails",
    "allowed_fails_policy", "cooldown_time", "disable_cooldowns", "fallbacks", "default_fallbacks",
    "context_window_fallbacks", "content_policy_fallbacks", "max_fallbacks", "model_group_alias",
    "enable_pre_call_checks", "enable_tag_filtering", "default_max_parallel_requests"};

struct StrategyName {
  std::string_view name;
  RoutingStrategy strategy;
};
constexpr std::array<StrategyName, 5> kStrategies{{
    {"simple-shuffle", RoutingStrategy::kSimpleShuffle},
    {"least-busy", RoutingStrategy::kLeastBusy},
    {"latency-based-routing", RoutingStrategy::kLatency},
    {"cost-based-routing", RoutingStrategy::kCost},
    {"usage-based-routing-v2", RoutingStrategy::kUsage},
}};

// LiteLLM's RetryPolicy / AllowedFailsPolicy field names, without their suffix.
struct ClassName {
  std::string_view name;
  ErrorClass error_class;
};
constexpr std::array<ClassName, 6> kClassNames{{
    {"BadRequestError", ErrorClass::kBadRequest},
    {"AuthenticationError", ErrorClass::kAuthentication},
    {"TimeoutError", ErrorClass::kTimeout},
    {"RateLimitError", ErrorClass::kRateLimit},
    {"ContentPolicyViolationError", ErrorClass::kContentPolicy},
    {"InternalServerError", ErrorClass::kServerError},
}};

// LiteLLM's routing_strategy_args that size its own latency/usage windows.
constexpr std::array<std::string_view, 2> kLitellmWindowArgs{"ttl", "max_latency_list_size"};
constexpr std::array<std::string_view, 1> kStrategyArgs{"lowest_latency_buffer"};
constexpr std::array<std::string_view, 2> kAliasKeys{"model", "hidden"};

// A group name seen in fallbacks or model_group_alias, checked once every block is read.
struct GroupRef {
  std::string path;
  std::string name;
};
// By setting name. A block that sets the key replaces an earlier block's references, as its value
// replaces the earlier value.
using GroupRefs = std::map<std::string, std::vector<GroupRef>, std::less<>>;

std::string item_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

const Json& block_of(const Section& s, std::string_view key) {
  const Json* v = s.get(key);
  return v ? *v : kNull;
}

void read_strategy(const Section& s, LoadContext& ctx, RouterSettings& r) {
  auto name = s.string("routing_strategy");
  if (!name) return;
  if (*name == "usage-based-routing") {
    r.strategy = RoutingStrategy::kUsage;
    ctx.warn(s.path_of("routing_strategy"),
             "'usage-based-routing' is read as 'usage-based-routing-v2', Tollgate's only usage-based strategy");
    return;
  }
  std::string valid;
  for (const auto& [known, strategy] : kStrategies) {
    if (*name == known) {
      r.strategy = strategy;
      return;
    }
    valid.append(valid.empty() ? "" : ", ").append(known);
  }
  ctx.error(s.path_of("routing_strategy"), "expected one of " + valid + ", got '" + *name + "'");
}

void read_strategy_args(const Section& s, LoadContext& ctx, RouterSettings& r) {
  Section args(block_of(s, "routing_strategy_args"), s.path_of("routing_strategy_args"), ctx);
  if (!args.ok()) return;
  args.check_keys(kStrategyArgs, kLitellmWindowArgs);
  for (std::string_view key : kLitellmWindowArgs) {
    if (args.get(key) == nullptr && !ctx.is_unset(args.path_of(key))) continue;
    ctx.warn(args.path_of(key), "accepted but not used: Tollgate keeps its own latency and usage windows "
                                "(docs/configuration.md)");
    ctx.drop_unset_under(args.path_of(key));
  }
  if (auto b = args.number_at_least("lowest_latency_buffer", 0)) r.lowest_latency_buffer = *b;
}

// retry_policy / allowed_fails_policy: `<Class><suffix>: n` per class; the whole map replaces the default.
std::optional<PerClass> read_per_class(const Section& s, std::string_view key, std::string_view suffix,
                                       LoadContext& ctx) {
  const Json& block = block_of(s, key);
  Section m(block, s.path_of(key), ctx);
  if (!m.ok()) return std::nullopt;
  PerClass out;
  for (const auto& [name, value] : block.items()) {
    auto known = std::find_if(kClassNames.begin(), kClassNames.end(), [&, &n = name](const ClassName& c) {
      return n.size() == c.name.size() + suffix.size() && n.starts_with(c.name) && n.ends_with(suffix);
    });
    if (known == kClassNames.end()) {
      std::string valid;
      for (const auto& c : kClassNames) valid.append(valid.empty() ? "" : ", ").append(c.name).append(suffix);
      ctx.error(m.path_of(name), "unknown error class; expected one of " + valid);
      ctx.drop_unset_under(m.path_of(name));
      continue;
    }
    if (auto n = m.integer(name, 0, kMaxInt)) out[static_cast<std::size_t>(known->error_class)] = static_cast<int>(*n);
  }
  return out;
}

// LiteLLM's shape is a list of one-key maps, `[{"gpt-4o": ["claude", "llama"]}]`; a plain map
// `{gpt-4o: [claude]}` is accepted too. A target list may be a single string.
std::optional<FallbackMap> read_fallbacks(const Section& s, std::string_view key, LoadContext& ctx, GroupRefs& refs) {
  const Json* v = s.get(key);
  if (v == nullptr) return std::nullopt;
  const std::string path = s.path_of(key);
  FallbackMap out;
  std::vector<GroupRef> seen;
  auto add_map = [&](const Json& map, const std::string& map_path) {
    Section m(map, map_path, ctx);
    for (const auto& [group, targets_json] : map.items()) {
      const std::string group_path = m.path_of(group);
      auto targets = m.string_list(group, true);
      if (!targets) {
        if (targets_json.is_null() && !ctx.is_unset(group_path)) {
          ctx.error(group_path, "expected a string or a list of strings, got null");
        }
        continue;
      }
      if (out.count(group) != 0) {
        // LiteLLM walks the list and uses the first map naming the group.
        ctx.warn(group_path, "'" + group + "' is listed again; the first entry is used");
        continue;
      }
      seen.push_back({group_path, group});
      for (std::size_t i = 0; i < targets->size(); ++i) {
        seen.push_back({targets_json.is_string() ? group_path : item_path(group_path, i), (*targets)[i]});
      }
      out.emplace(group, std::move(*targets));
    }
  };
  if (v->is_object()) {
    add_map(*v, path);
  } else if (v->is_array()) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      const Json& item = (*v)[i];
      if (item.is_object()) {
        add_map(item, item_path(path, i));
      } else if (!(item.is_null() && ctx.is_unset(item_path(path, i)))) {
        ctx.error(item_path(path, i), "expected a map of model group to fallback groups, got " + describe(item));
      }
    }
  } else {
    ctx.error(path, "expected a list of {model group: [fallback groups]} maps, got " + describe(*v));
    return std::nullopt;
  }
  refs[std::string(key)] = std::move(seen);
  return out;
}

// The keys litellm_settings shares with router_settings. Called for litellm_settings first, so
// router_settings' values replace them key by key.
void read_shared(const Section& s, LoadContext& ctx, RouterSettings& r, GroupRefs& refs) {
  if (auto n = s.integer("num_retries", 0, 20)) r.num_retries = static_cast<int>(*n);
  for (auto [key, field] : {std::pair{"fallbacks", &RouterSettings::fallbacks},
                            std::pair{"context_window_fallbacks", &RouterSettings::context_window_fallbacks},
                            std::pair{"content_policy_fallbacks", &RouterSettings::content_policy_fallbacks}}) {
    if (auto f = read_fallbacks(s, key, ctx, refs)) r.*field = std::move(*f);
  }
  if (auto targets = s.string_list("default_fallbacks", true)) {
    const std::string path = s.path_of("default_fallbacks");
    const bool one = s.get("default_fallbacks")->is_string();
    std::vector<GroupRef>& seen = refs["default_fallbacks"];
    seen.clear();
    for (std::size_t i = 0; i < targets->size(); ++i) seen.push_back({one ? path : item_path(path, i), (*targets)[i]});
    r.default_fallbacks = std::move(*targets);
  }
}

void read_aliases(const Section& s, LoadContext& ctx, RouterSettings& r, GroupRefs& refs) {
  const Json& block = block_of(s, "model_group_alias");
  Section m(block, s.path_of("model_group_alias"), ctx);
  if (!m.ok()) return;
  std::vector<GroupRef>& seen = refs["model_group_alias"];
  for (const auto& [alias, target] : block.items()) {
    const std::string path = m.path_of(alias);
    RouterSettings::Alias a;
    if (target.is_object()) {
      Section t(target, path, ctx);
      t.check_keys(kAliasKeys);
      auto model = t.required_string("model");
      a.hidden = t.boolean("hidden").value_or(false);
      if (!model) continue;
      a.model = *model;
      seen.push_back({t.path_of("model"), a.model});
    } else if (target.is_string()) {
      auto model = m.required_string(alias);
      if (!model) continue;
      a.model = *model;
      seen.push_back({path, a.model});
    } else {
      if (!(target.is_null() && ctx.is_unset(path))) {
        ctx.error(path, "expected a model group name or {model: ..., hidden: ...}, got " + describe(target));
      }
      continue;
    }
    r.model_group_alias[alias] = std::move(a);
  }
}

// ---- Redis --------------------------------------------------------------------------------------

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
  if (scheme != "redis") return std::string(kForm) + ", got scheme '" + scheme + "'";
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

// Lowest to highest: environment (REDIS_URL, else REDIS_HOST/PORT/PASSWORD/USERNAME), redis_url
// (which replaces the environment entirely), then redis_host/redis_port/redis_password one by one.
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

// ---- group names --------------------------------------------------------------------------------

// '*' matches any run of characters; nothing else is special (LiteLLM's wildcard model_names).
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p, ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

void check_group_refs(const GroupRefs& refs, const std::set<std::string, std::less<>>& groups,
                      const RouterSettings& r, LoadContext& ctx) {
  auto known = [&](const std::string& name) {
    // A name with '*' is a pattern itself ("*" is LiteLLM's catch-all fallback key).
    if (name.find('*') != std::string::npos || groups.count(name) != 0 || r.model_group_alias.count(name) != 0) {
      return true;
    }
    return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
      return g.find('*') != std::string::npos && glob_match(g, name);
    });
  };
  for (const auto& [key, list] : refs) {
    for (const GroupRef& ref : list) {
      if (known(ref.name)) continue;
      ctx.warn(ref.path, "model group '" + ref.name + "' is not in model_list (no model_name, alias or wildcard matches it)");
    }
  }
}

}  // namespace

std::span<const std::string_view> litellm_router_keys() { return kSharedKeys; }

void read_router_settings(const Json& router, const Json& litellm, const std::set<std::string, std::less<>>& groups,
                          LoadContext& ctx, Config& cfg) {
  RouterSettings& r = cfg.router;
  GroupRefs refs;
  if (litellm.is_object()) read_shared(Section(litellm, "litellm_settings", ctx), ctx, r, refs);

  Section s(router, "router_settings", ctx);
  s.check_keys(kRouterKeys);
  if (auto t = s.seconds("timeout")) cfg.upstream.default_timeout = *t;
  if (auto t = s.seconds("stream_timeout")) cfg.upstream.default_stream_timeout = *t;
  read_shared(s, ctx, r, refs);
  read_strategy(s, ctx, r);
  read_strategy_args(s, ctx, r);
  if (auto p = read_per_class(s, "retry_policy", "Retries", ctx)) r.retry_policy = *p;
  if (auto t = s.seconds_or_zero("retry_after")) r.retry_after = *t;
  if (auto n = s.integer("allowed_fails", 0, kMaxInt)) r.allowed_fails = static_cast<int>(*n);
  if (auto p = read_per_class(s, "allowed_fails_policy", "AllowedFails", ctx)) r.allowed_fails_policy = *p;
  if (auto t = s.seconds_or_zero("cooldown_time")) r.cooldown_time = *t;
  if (auto b = s.boolean("disable_cooldowns")) r.disable_cooldowns = *b;
  if (auto n = s.integer("max_fallbacks", 0, kMaxInt)) r.max_fallbacks = static_cast<int>(*n);
  read_aliases(s, ctx, r, refs);
  if (auto b = s.boolean("enable_pre_call_checks")) r.enable_pre_call_checks = *b;
  if (auto b = s.boolean("enable_tag_filtering")) r.enable_tag_filtering = *b;
  if (auto n = s.integer("default_max_parallel_requests", 1, kMaxInt)) {
    r.default_max_parallel_requests = static_cast<int>(*n);
  }
  read_redis(s, ctx, r.redis);
  check_group_refs(refs, groups, r, ctx);
}

}  // namespace tollgate::config::detail
