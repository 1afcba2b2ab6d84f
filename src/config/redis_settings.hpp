#pragma once
// Loader-private: where shared router state lives (RouterSettings::redis). Sources, lowest to
// highest precedence: the environment (REDIS_URL, else REDIS_HOST/REDIS_PORT/REDIS_PASSWORD/
// REDIS_USERNAME), `redis_url` (which replaces the environment entirely: a URL is a whole
// address), then `redis_host` / `redis_port` / `redis_password`, each overriding its own field.
#include "config/load_context.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config::detail {

/// Reads the redis_* keys of router_settings (`s` may be an absent block) and the environment
/// into `out`. Problems are reported at the redis_* paths and never quote a URL or password.
void read_redis(const Section& s, LoadContext& ctx, RedisSettings& out);

}  // namespace tollgate::config::detail
