#include "config/router_settings.hpp"

#include "config/redis_settings.hpp"

#include <algorithm>
#include <array>
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
