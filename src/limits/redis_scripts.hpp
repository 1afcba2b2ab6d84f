#pragma once
// The Lua scripts of the Redis limiter: one admit (every scope checked, then every scope charged,
// atomically) and one settle. Key layout, arguments and replies are described above each script
// in redis_scripts.cpp; the rules are those of docs/limits.md.
#include "tollgate/store/redis.hpp"

namespace tollgate::limits::detail {

/// KEYS and ARGV per scope in both scripts.
inline constexpr std::size_t kKeysPerScope = 4;       // requests, tokens, parallel, budget
inline constexpr std::size_t kAdmitArgsPerScope = 6;  // rpm, tpm, max_parallel, max_budget, seed, budget TTL
inline constexpr std::size_t kSettleArgsPerScope = 4; // tpm?, parallel?, budget?, budget TTL

/// Reply: {0, scope, kind, limit, spend, retry_ms} when denied, else {1, then per scope: requests,
/// requests_reset_ms, tokens, tokens_reset_ms, settled}.
inline constexpr std::size_t kDeniedReplySize = 6;
inline constexpr std::size_t kUsagePerScope = 5;

/// Both live for the whole process (a RedisScript passed to eval() must outlive the connection).
const store::RedisScript& admit_script();
const store::RedisScript& settle_script();

}  // namespace tollgate::limits::detail
