// Config loader: router_settings (and the keys litellm_settings shares), Redis, and the router
// fields of each deployment.
#include "tollgate/config/loader.hpp"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "unit/config/config_test_util.hpp"
#include "support/build_paths.hpp"

namespace tollgate::config {
namespace {

using namespace std::chrono_literals;
using test_util::Env;
using test_util::env_of;
using test_util::Strings;
using test_util::strings;

// Groups a, b and c (one mocked deployment each), then `rest`.
LoadResult load(std::string_view rest, Env vars = {}) {
  std::string yaml = R"(
model_list:
  - model_name: a
    litellm_params: {model: openai/a, mock_response: hi}
  - model_name: b
    litellm_params: {model: openai/b, mock_response: hi}
  - model_name: c
    litellm_params: {model: openai/c, mock_response: hi}
)";
  yaml += rest;
  return load_config_text(yaml, env_of(std::move(vars)));
}

// Loads, expects neither errors nor warnings, returns the router settings.
RouterSettings router_of(std::string_view rest, Env vars = {}) {
  auto r = load(rest, std::move(vars));
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{});
  return r.config ? r.config->router : RouterSettings{};
}

Strings errors_of(std::string_view rest, Env vars = {}) {
  auto r = load(rest, std::move(vars));
  EXPECT_FALSE(r.config.has_value());
  return strings(r.errors);
}

int at(const PerClass& p, ErrorClass c) { return p[static_cast<std::size_t>(c)].value_or(-1); }

// ---- routing_strategy ---------------------------------------------------------------------------

TEST(RouterSettingsTest, DefaultsWhenAbsent) {
  RouterSettings r = router_of("");
  EXPECT_EQ(r.strategy, RoutingStrategy::kSimpleShuffle);
  EXPECT_EQ(r.num_retries, 2);
  EXPECT_EQ(r.allowed_fails, 3);
  EXPECT_EQ(r.cooldown_time, 5'000ms);
  EXPECT_EQ(r.max_fallbacks, 5);
  EXPECT_TRUE(r.fallbacks.empty());
  EXPECT_FALSE(r.redis.enabled());
  EXPECT_EQ(r.default_max_parallel_requests, std::nullopt);
}

TEST(RouterSettingsTest, EveryRoutingStrategyName) {
  const std::map<std::string, RoutingStrategy> names{
      {"simple-shuffle", RoutingStrategy::kSimpleShuffle}, {"least-busy", RoutingStrategy::kLeastBusy},
      {"latency-based-routing", RoutingStrategy::kLatency}, {"cost-based-routing", RoutingStrategy::kCost},
      {"usage-based-routing-v2", RoutingStrategy::kUsage}};
  for (const auto& [name, strategy] : names) {
    SCOPED_TRACE(name);
    EXPECT_EQ(router_of("router_settings:\n  routing_strategy: " + name + "\n").strategy, strategy);
  }
}

TEST(RouterSettingsTest, UsageBasedRoutingV1IsReadAsV2WithWarning) {
  auto r = load("router_settings:\n  routing_strategy: usage-based-routing\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->router.strategy, RoutingStrategy::kUsage);
  EXPECT_EQ(strings(r.warnings), Strings{"router_settings.routing_strategy: 'usage-based-routing' is read as "
                                         "'usage-based-routing-v2', Tollgate's only usage-based strategy"});
}

TEST(RouterSettingsTest, UnknownRoutingStrategyListsValidOnes) {
  EXPECT_EQ(errors_of("router_settings:\n  routing_strategy: round-robin\n"),
            Strings{"router_settings.routing_strategy: expected one of simple-shuffle, least-busy, "
                    "latency-based-routing, cost-based-routing, usage-based-routing-v2, got 'round-robin'"});
}

TEST(RouterSettingsTest, RoutingStrategyArgs) {
  EXPECT_EQ(router_of("router_settings:\n  routing_strategy_args: {lowest_latency_buffer: 0.5}\n").lowest_latency_buffer,
            0.5);
  auto r = load("router_settings:\n  routing_strategy_args: {ttl: 3600, max_latency_list_size: 10, foo: 1}\n");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings),
            (Strings{"router_settings.routing_strategy_args.foo: unknown key, ignored",
                     "router_settings.routing_strategy_args.ttl: accepted but not used: Tollgate keeps its own "
                     "latency and usage windows (docs/configuration.md)",
                     "router_settings.routing_strategy_args.max_latency_list_size: accepted but not used: Tollgate "
                     "keeps its own latency and usage windows (docs/configuration.md)"}));
  EXPECT_EQ(errors_of("router_settings:\n  routing_strategy_args: {lowest_latency_buffer: -1}\n"),
            Strings{"router_settings.routing_strategy_args.lowest_latency_buffer: must be >= 0, got -1"});
  EXPECT_EQ(errors_of("router_settings:\n  routing_strategy_args: [1]\n"),
            Strings{"router_settings.routing_strategy_args: expected a map, got a list"});
}

// ---- retries, cooldowns -------------------------------------------------------------------------

TEST(RouterSettingsTest, NumRetriesRange) {
  EXPECT_EQ(router_of("router_settings:\n  num_retries: 0\n").num_retries, 0);
  EXPECT_EQ(router_of("router_settings:\n  num_retries: 20\n").num_retries, 20);
  EXPECT_EQ(errors_of("router_settings:\n  num_retries: 21\n"),
            Strings{"router_settings.num_retries: must be between 0 and 20, got 21"});
  EXPECT_EQ(errors_of("router_settings:\n  num_retries: two\n"),
            Strings{"router_settings.num_retries: expected an integer, got a string"});
}

TEST(RouterSettingsTest, RetryPolicyMapsEveryLiteLlmName) {
  RouterSettings r = router_of(R"(
router_settings:
  retry_policy:
    BadRequestErrorRetries: 1
    AuthenticationErrorRetries: 2
    TimeoutErrorRetries: 3
    RateLimitErrorRetries: 4
    ContentPolicyViolationErrorRetries: 5
    InternalServerErrorRetries: 6
)");
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kBadRequest), 1);
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kAuthentication), 2);
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kTimeout), 3);
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kRateLimit), 4);
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kContentPolicy), 5);
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kServerError), 6);
  EXPECT_FALSE(r.retry_policy[static_cast<std::size_t>(ErrorClass::kContextWindow)].has_value());
  EXPECT_FALSE(r.allowed_fails_policy[static_cast<std::size_t>(ErrorClass::kRateLimit)].has_value());
}

TEST(RouterSettingsTest, RetryPolicyRejectsUnknownNamesAndNegatives) {
  EXPECT_EQ(errors_of("router_settings:\n  retry_policy: {NotFoundErrorRetries: 1, TimeoutErrorRetries: -1}\n"),
            (Strings{"router_settings.retry_policy.NotFoundErrorRetries: unknown error class; expected one of "
                     "BadRequestErrorRetries, AuthenticationErrorRetries, TimeoutErrorRetries, RateLimitErrorRetries, "
                     "ContentPolicyViolationErrorRetries, InternalServerErrorRetries",
                     "router_settings.retry_policy.TimeoutErrorRetries: must be between 0 and 2147483647, got -1"}));
  EXPECT_EQ(errors_of("router_settings:\n  retry_policy: 3\n"),
            Strings{"router_settings.retry_policy: expected a map, got a number"});
}

TEST(RouterSettingsTest, AllowedFailsAndPolicy) {
  RouterSettings r = router_of(R"(
router_settings:
  allowed_fails: 0
  allowed_fails_policy:
    BadRequestErrorAllowedFails: 100
    AuthenticationErrorAllowedFails: 1
    TimeoutErrorAllowedFails: 2
    RateLimitErrorAllowedFails: 3
    ContentPolicyViolationErrorAllowedFails: 4
    InternalServerErrorAllowedFails: 5
)");
  EXPECT_EQ(r.allowed_fails, 0);
  EXPECT_EQ(at(r.allowed_fails_policy, ErrorClass::kBadRequest), 100);
  EXPECT_EQ(at(r.allowed_fails_policy, ErrorClass::kAuthentication), 1);
  EXPECT_EQ(at(r.allowed_fails_policy, ErrorClass::kTimeout), 2);
  EXPECT_EQ(at(r.allowed_fails_policy, ErrorClass::kRateLimit), 3);
  EXPECT_EQ(at(r.allowed_fails_policy, ErrorClass::kContentPolicy), 4);
  EXPECT_EQ(at(r.allowed_fails_policy, ErrorClass::kServerError), 5);
  auto errors = errors_of("router_settings:\n  allowed_fails: -1\n  allowed_fails_policy: {RateLimitErrorRetries: 1}\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "router_settings.allowed_fails: must be between 0 and 2147483647, got -1");
  EXPECT_TRUE(errors[1].starts_with("router_settings.allowed_fails_policy.RateLimitErrorRetries: unknown error class; "
                                    "expected one of BadRequestErrorAllowedFails, "))
      << errors[1];
}

TEST(RouterSettingsTest, RetryAfterAndCooldownAcceptZeroAndFractions) {
  RouterSettings r = router_of("router_settings:\n  retry_after: 0\n  cooldown_time: 1.5\n  disable_cooldowns: true\n");
  EXPECT_EQ(r.retry_after, 0ms);
  EXPECT_EQ(r.cooldown_time, 1'500ms);
  EXPECT_TRUE(r.disable_cooldowns);
  EXPECT_EQ(router_of("router_settings:\n  retry_after: 2\n  cooldown_time: 0\n").cooldown_time, 0ms);
  EXPECT_EQ(errors_of("router_settings:\n  retry_after: -1\n  cooldown_time: soon\n  disable_cooldowns: \"yes\"\n"),
            (Strings{"router_settings.retry_after: must be a number of seconds >= 0, got -1",
                     "router_settings.cooldown_time: expected a number, got a string",
                     "router_settings.disable_cooldowns: expected true or false, got a string"}));
}

TEST(RouterSettingsTest, ValuesFromVariablesAreParsed) {
  RouterSettings r = router_of(R"(
router_settings:
  num_retries: os.environ/N
  cooldown_time: os.environ/COOL
  disable_cooldowns: os.environ/OFF
  retry_policy: {RateLimitErrorRetries: os.environ/RL}
)",
                               {{"N", "4"}, {"COOL", "0"}, {"OFF", "yes"}, {"RL", "7"}});
  EXPECT_EQ(r.num_retries, 4);
  EXPECT_EQ(r.cooldown_time, 0ms);
  EXPECT_TRUE(r.disable_cooldowns);
  EXPECT_EQ(at(r.retry_policy, ErrorClass::kRateLimit), 7);
}

// ---- fallbacks ----------------------------------------------------------------------------------

TEST(RouterSettingsTest, FallbacksInLiteLlmShape) {
  RouterSettings r = router_of(R"(
router_settings:
  fallbacks: [{"a": ["b", "c"], "b": "c"}, {"c": ["a"]}]
  context_window_fallbacks: [{"a": ["c"]}]
  content_policy_fallbacks: [{"b": "a"}]
  default_fallbacks: ["c", "b"]
  max_fallbacks: 0
)");
  EXPECT_EQ(r.fallbacks, (FallbackMap{{"a", {"b", "c"}}, {"b", {"c"}}, {"c", {"a"}}}));
  EXPECT_EQ(r.context_window_fallbacks, (FallbackMap{{"a", {"c"}}}));
  EXPECT_EQ(r.content_policy_fallbacks, (FallbackMap{{"b", {"a"}}}));
  EXPECT_EQ(r.default_fallbacks, (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(r.max_fallbacks, 0);
}

TEST(RouterSettingsTest, FallbacksAsPlainMapAndDefaultAsOneString) {
  RouterSettings r = router_of("router_settings:\n  fallbacks: {a: [b], b: [c]}\n  default_fallbacks: a\n");
  EXPECT_EQ(r.fallbacks, (FallbackMap{{"a", {"b"}}, {"b", {"c"}}}));
  EXPECT_EQ(r.default_fallbacks, std::vector<std::string>{"a"});
}

TEST(RouterSettingsTest, RepeatedFallbackGroupKeepsTheFirstWithWarning) {
  auto r = load("router_settings:\n  fallbacks: [{a: [b]}, {a: [c]}]\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->router.fallbacks, (FallbackMap{{"a", {"b"}}}));
  EXPECT_EQ(strings(r.warnings),
            Strings{"router_settings.fallbacks[1].a: 'a' is listed again; the first entry is used"});
}

TEST(RouterSettingsTest, MalformedFallbacksAreErrorsWithPaths) {
  EXPECT_EQ(errors_of(R"(
router_settings:
  fallbacks: [{a: [b, 3]}, "b", {c: {x: y}}, {b: ~}]
  context_window_fallbacks: a
  content_policy_fallbacks: [{a: [""]}]
  default_fallbacks: {a: b}
  max_fallbacks: -1
)"),
            (Strings{"router_settings.fallbacks[0].a[1]: expected a string, got a number",
                     "router_settings.fallbacks[1]: expected a map of model group to fallback groups, got a string",
                     "router_settings.fallbacks[2].c: expected a string or a list of strings, got a map",
                     "router_settings.fallbacks[3].b: expected a string or a list of strings, got null",
                     "router_settings.context_window_fallbacks: expected a list of {model group: [fallback groups]} "
                     "maps, got a string",
                     "router_settings.content_policy_fallbacks[0].a[0]: must not be empty",
                     "router_settings.default_fallbacks: expected a string or a list of strings, got a map",
                     "router_settings.max_fallbacks: must be between 0 and 2147483647, got -1"}));
}

// ---- litellm_settings / router_settings precedence ----------------------------------------------

TEST(RouterSettingsTest, LitellmSettingsSharedKeysAreRead) {
  RouterSettings r = router_of(R"(
litellm_settings:
  num_retries: 7
  fallbacks: [{a: [b]}]
  default_fallbacks: [c]
  context_window_fallbacks: [{a: [c]}]
  content_policy_fallbacks: [{b: [a]}]
)");
  EXPECT_EQ(r.num_retries, 7);
  EXPECT_EQ(r.fallbacks, (FallbackMap{{"a", {"b"}}}));
  EXPECT_EQ(r.default_fallbacks, std::vector<std::string>{"c"});
  EXPECT_EQ(r.context_window_fallbacks, (FallbackMap{{"a", {"c"}}}));
  EXPECT_EQ(r.content_policy_fallbacks, (FallbackMap{{"b", {"a"}}}));
}

TEST(RouterSettingsTest, RouterSettingsWinPerKey) {
  RouterSettings r = router_of(R"(
litellm_settings:
  num_retries: 7
  fallbacks: [{a: [b]}]
  default_fallbacks: [c]
router_settings:
  num_retries: 1
  fallbacks: [{b: [c]}]
)");
  EXPECT_EQ(r.num_retries, 1);
  EXPECT_EQ(r.fallbacks, (FallbackMap{{"b", {"c"}}}));           // replaced, not merged
  EXPECT_EQ(r.default_fallbacks, std::vector<std::string>{"c"});  // only litellm_settings set it
}

TEST(RouterSettingsTest, OverriddenLitellmFallbacksAreNotCheckedForGroups) {
  auto r = load("litellm_settings:\n  fallbacks: [{nope: [b]}]\nrouter_settings:\n  fallbacks: [{a: [b]}]\n");
  EXPECT_EQ(strings(r.warnings), Strings{});
  auto kept = load("litellm_settings:\n  fallbacks: [{nope: [b]}]\n");
  EXPECT_EQ(strings(kept.warnings), Strings{"litellm_settings.fallbacks[0].nope: model group 'nope' is not in "
                                            "model_list (no model_name, alias or wildcard matches it)"});
}

TEST(RouterSettingsTest, LitellmSharedKeysValidatedWithTheirPath) {
  EXPECT_EQ(errors_of("litellm_settings:\n  num_retries: 30\n  fallbacks: 1\n"),
            (Strings{"litellm_settings.num_retries: must be between 0 and 20, got 30",
                     "litellm_settings.fallbacks: expected a list of {model group: [fallback groups]} maps, got a "
                     "number"}));
}

// ---- aliases, flags -----------------------------------------------------------------------------

TEST(RouterSettingsTest, ModelGroupAliasStringOrMap) {
  RouterSettings r = router_of(R"(
router_settings:
  model_group_alias:
    gpt-4: a
    secret: {model: b, hidden: true}
    shown: {model: c}
)");
  ASSERT_EQ(r.model_group_alias.size(), 3u);
  EXPECT_EQ(r.model_group_alias.at("gpt-4").model, "a");
  EXPECT_FALSE(r.model_group_alias.at("gpt-4").hidden);
  EXPECT_EQ(r.model_group_alias.at("secret").model, "b");
  EXPECT_TRUE(r.model_group_alias.at("secret").hidden);
  EXPECT_EQ(r.model_group_alias.at("shown").model, "c");
  EXPECT_FALSE(r.model_group_alias.at("shown").hidden);
}

TEST(RouterSettingsTest, ModelGroupAliasErrors) {
  auto r = load(R"(
router_settings:
  model_group_alias:
    x: {hidden: true, color: red}
    y: [a]
    z: {model: a, hidden: maybe}
    w: ""
)");
  EXPECT_EQ(strings(r.errors),
            (Strings{"router_settings.model_group_alias.w: must not be empty",
                     "router_settings.model_group_alias.x.model: required",
                     "router_settings.model_group_alias.y: expected a model group name or {model: ..., hidden: ...}, "
                     "got a list",
                     "router_settings.model_group_alias.z.hidden: expected true or false, got a string"}));
  EXPECT_EQ(strings(r.warnings), Strings{"router_settings.model_group_alias.x.color: unknown key, ignored"});
  EXPECT_EQ(errors_of("router_settings:\n  model_group_alias: [a]\n"),
            Strings{"router_settings.model_group_alias: expected a map, got a list"});
}

TEST(RouterSettingsTest, FlagsAndParallelDefault) {
  RouterSettings r = router_of(
      "router_settings:\n  enable_pre_call_checks: true\n  enable_tag_filtering: true\n"
      "  default_max_parallel_requests: 8\n");
  EXPECT_TRUE(r.enable_pre_call_checks);
  EXPECT_TRUE(r.enable_tag_filtering);
  EXPECT_EQ(r.default_max_parallel_requests, 8);
  EXPECT_EQ(errors_of("router_settings:\n  enable_tag_filtering: 1\n  default_max_parallel_requests: 0\n"),
            (Strings{"router_settings.enable_tag_filtering: expected true or false, got a number",
                     "router_settings.default_max_parallel_requests: must be between 1 and 2147483647, got 0"}));
}

TEST(RouterSettingsTest, UnknownKeysStillWarnAndReadKeysDoNot) {
  auto r = load(R"(
litellm_settings:
  num_retries: 1
  default_fallbacks: [a]
  model_group_alias: {x: a}
router_settings:
  num_retries: 1
  max_fallbacks: 2
  redis_url: redis://h
  retries: 1
)");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), (Strings{"litellm_settings.model_group_alias: unknown key, ignored",
                                          "router_settings.retries: unknown key, ignored"}));
}

// ---- group names --------------------------------------------------------------------------------

TEST(RouterSettingsTest, UnknownGroupsInFallbacksAndAliasesWarn) {
  auto r = load(R"(
router_settings:
  fallbacks: [{a: [typo, b]}, {ghost: c}]
  default_fallbacks: missing
  model_group_alias: {gpt-4: nowhere, gpt-3: {model: gone}}
)");
  EXPECT_EQ(strings(r.errors), Strings{});
  ASSERT_TRUE(r.config);
  const std::string tail = " is not in model_list (no model_name, alias or wildcard matches it)";
  EXPECT_EQ(strings(r.warnings), (Strings{"router_settings.default_fallbacks: model group 'missing'" + tail,
                                          "router_settings.fallbacks[0].a[0]: model group 'typo'" + tail,
                                          "router_settings.fallbacks[1].ghost: model group 'ghost'" + tail,
                                          "router_settings.model_group_alias.gpt-3.model: model group 'gone'" + tail,
                                          "router_settings.model_group_alias.gpt-4: model group 'nowhere'" + tail}));
}

TEST(RouterSettingsTest, AliasesWildcardsAndDisabledDeploymentsCountAsKnownGroups) {
  auto r = load(R"(
  - model_name: "openai/*"
    litellm_params: {model: "openai/*", api_key: k}
  - model_name: keyed
    litellm_params: {model: openai/k, api_key: os.environ/UNSET_KEY}
router_settings:
  model_group_alias: {gpt-4: a}
  fallbacks: [{gpt-4: ["openai/gpt-4o", keyed]}, {"*": [a]}]
)");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{"model_list[4].litellm_params.api_key: environment variable UNSET_KEY is "
                                         "not set; deployment 'keyed' disabled"});
}

// ---- Redis --------------------------------------------------------------------------------------

TEST(RouterSettingsTest, RedisFromKeys) {
  RedisSettings r = router_of("router_settings:\n  redis_host: cache\n  redis_port: 6380\n  redis_password: pw\n").redis;
  EXPECT_TRUE(r.enabled());
  EXPECT_EQ(r.host, "cache");
  EXPECT_EQ(r.port, 6380);
  EXPECT_EQ(r.password, "pw");
  EXPECT_EQ(r.username, "");
  EXPECT_EQ(r.db, 0);
  RedisSettings from_vars = router_of(
      "router_settings:\n  redis_host: os.environ/H\n  redis_port: os.environ/P\n  redis_password: os.environ/W\n",
      {{"H", "10.0.0.5"}, {"P", "6390"}, {"W", "s3"}}).redis;
  EXPECT_EQ(from_vars.host, "10.0.0.5");
  EXPECT_EQ(from_vars.port, 6390);
  EXPECT_EQ(from_vars.password, "s3");
  EXPECT_EQ(errors_of("router_settings:\n  redis_host: \"\"\n  redis_port: 0\n"),
            (Strings{"router_settings.redis_host: must not be empty",
                     "router_settings.redis_port: must be between 1 and 65535, got 0"}));
}

TEST(RouterSettingsTest, RedisUrlWithUserPasswordPortAndDb) {
  RedisSettings r = router_of("router_settings:\n  redis_url: redis://app:p%40ss@cache.internal:6381/3\n").redis;
  EXPECT_EQ(r.host, "cache.internal");
  EXPECT_EQ(r.port, 6381);
  EXPECT_EQ(r.username, "app");
  EXPECT_EQ(r.password, "p@ss");
  EXPECT_EQ(r.db, 3);

  RedisSettings bare = router_of("router_settings:\n  redis_url: REDIS://cache\n").redis;
  EXPECT_EQ(bare.host, "cache");
  EXPECT_EQ(bare.port, 6379);
  EXPECT_EQ(bare.password, "");
  EXPECT_EQ(bare.db, 0);

  RedisSettings password_only = router_of("router_settings:\n  redis_url: \"redis://:secret@[::1]:7000/\"\n").redis;
  EXPECT_EQ(password_only.host, "::1");
  EXPECT_EQ(password_only.port, 7000);
  EXPECT_EQ(password_only.username, "");
  EXPECT_EQ(password_only.password, "secret");
  EXPECT_EQ(password_only.db, 0);
}

TEST(RouterSettingsTest, BadRedisUrlsAreErrorsThatNeverQuoteTheUrl) {
  const std::map<std::string, std::string> cases{
      {"rediss://u:hunter2@h:6380", "TLS to Redis is not supported yet"},
      {"http://u:hunter2@h", "expected redis://[[user]:password@]host[:port][/db], got scheme 'http'"},
      {"cache:6379", "expected redis://[[user]:password@]host[:port][/db]"},
      {"redis://hunter2@h", "expected [user]:password before '@'"},
      {"redis://u:hunter2@h:99999", "port must be an integer between 1 and 65535"},
      {"redis://u:hunter2@h:", "port must be an integer between 1 and 65535"},
      {"redis://u:hunter2@h/x", "database (the path after the host) must be an integer >= 0"},
      {"redis://u:hunter2@:6379", "missing host"},
      {"redis://u:hunter2@h/0?ssl=true", "query parameters are not supported; give the database number as the path (/db)"},
      {"redis://u:hunter2%zz@h", "bad %-escape in the user or password"},
  };
  for (const auto& [url, message] : cases) {
    SCOPED_TRACE(url);
    EXPECT_EQ(errors_of("router_settings:\n  redis_url: \"" + url + "\"\n"),
              Strings{"router_settings.redis_url: " + message});
  }
}

TEST(RouterSettingsTest, RedisFromEnvironmentWithoutRouterSettings) {
  RedisSettings r = router_of("", {{"REDIS_HOST", "envhost"}, {"REDIS_PORT", "6400"}, {"REDIS_PASSWORD", "envpw"},
                                   {"REDIS_USERNAME", "envuser"}}).redis;
  EXPECT_EQ(r.host, "envhost");
  EXPECT_EQ(r.port, 6400);
  EXPECT_EQ(r.password, "envpw");
  EXPECT_EQ(r.username, "envuser");

  RedisSettings url = router_of("", {{"REDIS_URL", "redis://u:p@urlhost:6500/2"}, {"REDIS_HOST", "envhost"},
                                     {"REDIS_PASSWORD", "envpw"}}).redis;
  EXPECT_EQ(url.host, "urlhost");  // REDIS_URL is a whole address: REDIS_HOST/PASSWORD are not mixed in
  EXPECT_EQ(url.port, 6500);
  EXPECT_EQ(url.username, "u");
  EXPECT_EQ(url.password, "p");
  EXPECT_EQ(url.db, 2);

  EXPECT_FALSE(router_of("", {{"REDIS_HOST", ""}}).redis.enabled());  // empty = not set
}

TEST(RouterSettingsTest, BadRedisEnvironmentIsErrorNamingTheVariable) {
  EXPECT_EQ(errors_of("", {{"REDIS_URL", "rediss://h"}}),
            Strings{"router_settings.redis_url: environment variable REDIS_URL: TLS to Redis is not supported yet"});
  EXPECT_EQ(errors_of("", {{"REDIS_HOST", "h"}, {"REDIS_PORT", "six"}}),
            Strings{"router_settings.redis_port: environment variable REDIS_PORT: must be an integer between 1 and "
                    "65535"});
  // Not consulted when the config gives the port.
  EXPECT_EQ(router_of("router_settings:\n  redis_port: 6380\n", {{"REDIS_HOST", "h"}, {"REDIS_PORT", "six"}}).redis.port,
            6380);
}

TEST(RouterSettingsTest, RedisPrecedenceKeysOverUrlOverEnvironment) {
  const Env env{{"REDIS_URL", "redis://:envpw@envurl:1111/1"}, {"REDIS_HOST", "envhost"}};
  RedisSettings url = router_of("router_settings:\n  redis_url: redis://cfg:6390/4\n", env).redis;
  EXPECT_EQ(url.host, "cfg");
  EXPECT_EQ(url.port, 6390);
  EXPECT_EQ(url.password, "");  // the config URL replaces the environment entirely
  EXPECT_EQ(url.db, 4);

  RedisSettings keys = router_of(
      "router_settings:\n  redis_url: redis://u:urlpw@cfg:6390/4\n  redis_host: keyhost\n  redis_password: keypw\n",
      env).redis;
  EXPECT_EQ(keys.host, "keyhost");
  EXPECT_EQ(keys.port, 6390);
  EXPECT_EQ(keys.username, "u");
  EXPECT_EQ(keys.password, "keypw");
  EXPECT_EQ(keys.db, 4);

  RedisSettings over_env = router_of("router_settings:\n  redis_port: 7000\n", {{"REDIS_HOST", "envhost"}, {"REDIS_PORT", "1"}}).redis;
  EXPECT_EQ(over_env.host, "envhost");
  EXPECT_EQ(over_env.port, 7000);
}

TEST(RouterSettingsTest, RedisPortWithoutAnyHostWarns) {
  auto r = load("router_settings:\n  redis_port: 6380\n");
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->router.redis.enabled());
  EXPECT_EQ(strings(r.warnings), Strings{"router_settings.redis_port: ignored: no redis_host, redis_url, REDIS_URL or "
                                         "REDIS_HOST, so Redis is not used"});
}

// ---- per-deployment router fields ---------------------------------------------------------------

LoadResult load_deployment(std::string_view params, std::string_view info = "{}", Env vars = {}) {
  std::string yaml = "model_list:\n  - model_name: g\n    litellm_params: {model: openai/x, mock_response: hi, ";
  yaml.append(params).append("}\n    model_info: ").append(info).append("\n");
  return load_config_text(yaml, env_of(std::move(vars)));
}

TEST(DeploymentRouterFieldsTest, AllFieldsRead) {
  auto r = load_deployment(
      "weight: 2.5, rpm: 100, tpm: 50000, order: 1, tags: [fast, default], max_parallel_requests: 4, "
      "cooldown_time: 0, num_retries: 3, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002",
      "{max_input_tokens: 128000, access_groups: [beta, internal]}");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{});
  ASSERT_TRUE(r.config);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.weight, 2.5);
  EXPECT_EQ(d.rpm, 100);
  EXPECT_EQ(d.tpm, 50000);
  EXPECT_EQ(d.order, 1);
  EXPECT_EQ(d.tags, (std::vector<std::string>{"fast", "default"}));
  EXPECT_EQ(d.max_parallel_requests, 4);
  EXPECT_EQ(d.cooldown_time, 0ms);
  EXPECT_EQ(d.num_retries, 3);
  EXPECT_EQ(d.input_cost_per_token, 0.000001);
  EXPECT_EQ(d.output_cost_per_token, 0.000002);
  EXPECT_EQ(d.max_input_tokens, 128000);
  EXPECT_EQ(d.access_groups, (std::vector<std::string>{"beta", "internal"}));
}

TEST(DeploymentRouterFieldsTest, UnsetWhenAbsent) {
  auto r = load_deployment("timeout: 5");
  ASSERT_TRUE(r.config);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.weight, std::nullopt);
  EXPECT_EQ(d.rpm, std::nullopt);
  EXPECT_EQ(d.order, std::nullopt);
  EXPECT_TRUE(d.tags.empty());
  EXPECT_EQ(d.cooldown_time, std::nullopt);
  EXPECT_EQ(d.num_retries, std::nullopt);
  EXPECT_EQ(d.input_cost_per_token, std::nullopt);
  EXPECT_EQ(d.max_input_tokens, std::nullopt);
  EXPECT_TRUE(d.access_groups.empty());
}

TEST(DeploymentRouterFieldsTest, MaxRetriesIsASynonymAndNumRetriesWins) {
  auto only = load_deployment("max_retries: 5");
  ASSERT_TRUE(only.config);
  EXPECT_EQ(only.config->model_list.at(0).num_retries, 5);
  auto both = load_deployment("max_retries: 5, num_retries: 1");
  ASSERT_TRUE(both.config);
  EXPECT_EQ(both.config->model_list.at(0).num_retries, 1);
}

TEST(DeploymentRouterFieldsTest, CostsFromModelInfoAndLitellmParamsWins) {
  auto info = load_deployment("rpm: 1", "{input_cost_per_token: 0.5, output_cost_per_token: 1.5}");
  ASSERT_TRUE(info.config);
  EXPECT_EQ(info.config->model_list.at(0).input_cost_per_token, 0.5);
  EXPECT_EQ(info.config->model_list.at(0).output_cost_per_token, 1.5);
  auto both = load_deployment("input_cost_per_token: 0.25", "{input_cost_per_token: 0.5, output_cost_per_token: 1.5}");
  ASSERT_TRUE(both.config);
  EXPECT_EQ(both.config->model_list.at(0).input_cost_per_token, 0.25);
  EXPECT_EQ(both.config->model_list.at(0).output_cost_per_token, 1.5);
}

TEST(DeploymentRouterFieldsTest, CacheCostsAndBaseModel) {
  auto r = load_deployment("cache_read_input_token_cost: 0.1, cache_creation_input_token_cost: 0.2",
                           "{cache_read_input_token_cost: 0.7, cache_creation_input_token_cost: 0.8, base_model: azure/gpt-4o}");
  EXPECT_EQ(strings(r.errors), Strings{});
  EXPECT_EQ(strings(r.warnings), Strings{});
  ASSERT_TRUE(r.config);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.cache_read_input_token_cost, 0.1);  // litellm_params wins
  EXPECT_EQ(d.cache_creation_input_token_cost, 0.2);
  EXPECT_EQ(d.base_model, "azure/gpt-4o");
  auto info = load_deployment("rpm: 1", "{cache_read_input_token_cost: 0.7}");
  ASSERT_TRUE(info.config);
  EXPECT_EQ(info.config->model_list.at(0).cache_read_input_token_cost, 0.7);
  EXPECT_EQ(info.config->model_list.at(0).cache_creation_input_token_cost, std::nullopt);
  EXPECT_EQ(info.config->model_list.at(0).base_model, "");

  auto bad = load_deployment("cache_read_input_token_cost: -1, cache_creation_input_token_cost: x",
                             "{cache_creation_input_token_cost: -3, base_model: 4}");
  const std::string p = "model_list[0].litellm_params.";
  const std::string i = "model_list[0].model_info.";
  EXPECT_EQ(strings(bad.errors), (Strings{
                                     i + "base_model: expected a string, got a number",
                                     p + "cache_read_input_token_cost: must be >= 0, got -1",
                                     p + "cache_creation_input_token_cost: expected a number, got a string",
                                     i + "cache_creation_input_token_cost: must be >= 0, got -3",
                                 }));
  EXPECT_FALSE(bad.config);
}

TEST(DeploymentRouterFieldsTest, ValuesFromVariables) {
  auto r = load_deployment("weight: os.environ/W, rpm: os.environ/RPM, tags: [os.environ/TAG]", "{max_input_tokens: os.environ/MAX}",
                           {{"W", "0.25"}, {"RPM", "60"}, {"TAG", "eu"}, {"MAX", "8192"}});
  EXPECT_EQ(strings(r.errors), Strings{});
  ASSERT_TRUE(r.config);
  const Deployment& d = r.config->model_list.at(0);
  EXPECT_EQ(d.weight, 0.25);
  EXPECT_EQ(d.rpm, 60);
  EXPECT_EQ(d.tags, std::vector<std::string>{"eu"});
  EXPECT_EQ(d.max_input_tokens, 8192);
}

TEST(DeploymentRouterFieldsTest, InvalidValuesAreErrorsWithPaths) {
  auto r = load_deployment(
      "weight: 0, rpm: -1, tpm: 1.5, order: 0, tags: a, max_parallel_requests: 0, cooldown_time: -1, "
      "num_retries: -1, max_retries: x, input_cost_per_token: -0.1, output_cost_per_token: cheap",
      "{max_input_tokens: 0, access_groups: [1], input_cost_per_token: -2}");
  const std::string p = "model_list[0].litellm_params.";
  const std::string i = "model_list[0].model_info.";
  EXPECT_EQ(strings(r.errors), (Strings{
                                   i + "max_input_tokens: must be between 1 and 9223372036854775807, got 0",
                                   i + "access_groups[0]: expected a string, got a number",
                                   p + "weight: must be > 0, got 0",
                                   p + "rpm: must be between 0 and 9223372036854775807, got -1",
                                   p + "tpm: expected an integer, got a number",
                                   p + "order: must be between 1 and 2147483647, got 0",
                                   p + "tags: expected a list of strings, got a string",
                                   p + "max_parallel_requests: must be between 1 and 2147483647, got 0",
                                   p + "cooldown_time: must be a number of seconds >= 0, got -1",
                                   p + "num_retries: must be between 0 and 2147483647, got -1",
                                   p + "max_retries: expected an integer, got a string",
                                   p + "input_cost_per_token: must be >= 0, got -0.1",
                                   i + "input_cost_per_token: must be >= 0, got -2",
                                   p + "output_cost_per_token: expected a number, got a string",
                               }));
  EXPECT_FALSE(r.config);
}

// ---- the shipped LiteLLM example ----------------------------------------------------------------

TEST(RouterSettingsTest, FullLiteLlmExampleReadsItsRouterSettings) {
  auto r = load_config_file(std::string(TOLLGATE_SOURCE_DIR) + "/config/examples/litellm_full.yaml",
                            env_of({{"OPENAI_API_KEY", "k"}, {"OPENAI_API_KEY_2", "k"}, {"ANTHROPIC_API_KEY", "k"},
                                    {"AZURE_API_KEY", "k"}, {"AZURE_API_BASE", "https://x.openai.azure.com"},
                                    {"GROQ_API_KEY", "k"}, {"VLLM_API_KEY", "k"}, {"REDIS_HOST", "10.1.1.1"},
                                    {"REDIS_PORT", "6380"}, {"REDIS_PASSWORD", "pw"}, {"DATABASE_URL", "postgresql://x"},
                                    {"LITELLM_MASTER_KEY", "sk-x"}}));
  EXPECT_EQ(strings(r.errors), Strings{});
  ASSERT_TRUE(r.config);
  const RouterSettings& rs = r.config->router;
  EXPECT_EQ(rs.strategy, RoutingStrategy::kUsage);
  EXPECT_EQ(rs.redis.host, "10.1.1.1");
  EXPECT_EQ(rs.redis.port, 6380);
  EXPECT_EQ(rs.redis.password, "pw");
  EXPECT_EQ(rs.num_retries, 3);
  EXPECT_EQ(rs.retry_after, 5'000ms);
  EXPECT_EQ(rs.cooldown_time, 30'000ms);
  EXPECT_EQ(at(rs.retry_policy, ErrorClass::kRateLimit), 3);
  EXPECT_EQ(at(rs.retry_policy, ErrorClass::kAuthentication), 0);
  EXPECT_EQ(rs.fallbacks, (FallbackMap{{"gpt-4o", {"claude-3-5-sonnet"}}, {"gpt-4o-mini", {"llama-3.1-8b"}}}));
  EXPECT_EQ(rs.context_window_fallbacks, (FallbackMap{{"gpt-4o-mini", {"gpt-4o"}}}));
  EXPECT_EQ(rs.model_group_alias.at("gpt-4").model, "gpt-4o");
  EXPECT_TRUE(rs.enable_pre_call_checks);
  const Deployment& claude = r.config->model_list.at(4);
  ASSERT_EQ(claude.model_name, "claude-3-5-sonnet");
  EXPECT_EQ(claude.num_retries, 3);  // from max_retries
  EXPECT_EQ(claude.input_cost_per_token, 0.000003);
  EXPECT_EQ(claude.max_input_tokens, 200000);
  EXPECT_EQ(r.config->model_list.at(6).tags, std::vector<std::string>{"self-hosted"});
  EXPECT_EQ(r.config->model_list.at(6).access_groups, std::vector<std::string>{"internal"});
}

}  // namespace
}  // namespace tollgate::config
