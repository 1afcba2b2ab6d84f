#include "limits/redis_scripts.hpp"

#include <string>
#include <string_view>

namespace tollgate::limits::detail {
namespace {

// Key layout, per scope (4 KEYS): the requests and tokens windows (hashes unix second -> amount,
// TTL 61 s after the last charge), the parallel slots and the budget counter. Slots and cost
// reservations are hash fields 'r<unix minute of the admit>' that count until `lease` + 1 minute
// after that minute, so a replica that dies holding them cannot hold them for ever; the budget
// hash also holds 's', the settled spend. Money is in integer nano-dollars.
//
// ARGV: now (unix ms), lease (ms), demand tokens, demand cost, then 6 per scope: rpm, tpm,
// max_parallel, max_budget, spend seed, budget counter TTL (ms); -1 = no such limit.
// Denied: {0, scope (0-based), kind (0 rpm, 1 tpm, 2 parallel, 3 budget), limit, spend +
// reservations, retry after (ms)}, and nothing is charged (expired fields are still cleaned up).
// Admitted: {1, then 5 per scope: requests in the window, ms until the oldest leaves, tokens in
// the window, ms until the oldest leaves, settled spend}.
constexpr std::string_view kAdmitLua = R"lua(
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local sec, minute = math.floor(now / 1000), math.floor(now / 60000)

local function window(key)
  local live, total = {}, 0
  local all = redis.call('HGETALL', key)
  for j = 1, #all, 2 do
    local s, n = tonumber(all[j]), tonumber(all[j + 1])
    if s <= sec - 60 or n <= 0 then
      redis.call('HDEL', key, all[j])
    else
      live[#live + 1] = {s, n}
      total = total + n
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return live, total
end

local function until_at_most(live, total, target)
  if total <= target then return 0 end
  for _, b in ipairs(live) do
    total = total - b[2]
    if total <= target then return (b[1] + 60) * 1000 - now end
  end
  return 60000
end

local function oldest_leaves(live, charged)
  local first = nil
  if #live > 0 then first = live[1][1] end
  if charged and (first == nil or sec < first) then first = sec end
  if first == nil then return 0 end
  return (first + 60) * 1000 - now
end

local function leased(key)
  local total = 0
  local all = redis.call('HGETALL', key)
  for j = 1, #all, 2 do
    if string.byte(all[j], 1) == 114 then
      if (tonumber(string.sub(all[j], 2)) + 1) * 60000 + lease <= now then
        redis.call('HDEL', key, all[j])
      else
        total = total + tonumber(all[j + 1])
      end
    end
  end
  return total
end

local seen = {}
for i = 1, #KEYS / 4 do
  local k, a = (i - 1) * 4, 4 + (i - 1) * 6
  local rpm, tpm, par = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local maxb, seed = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local s = {}
  if rpm >= 0 then
    s.req, s.nreq = window(KEYS[k + 1])
    if s.nreq > rpm - 1 then return {0, i - 1, 0, rpm, 0, until_at_most(s.req, s.nreq, rpm - 1)} end
  end
  if tpm >= 0 then
    local target = -1
    if tpm > 0 then target = math.max(tpm - tokens, 0) end
    s.tok, s.ntok = window(KEYS[k + 2])
    if s.ntok > target then return {0, i - 1, 1, tpm, 0, until_at_most(s.tok, s.ntok, target)} end
  end
  if par >= 0 and leased(KEYS[k + 3]) + 1 > par then return {0, i - 1, 2, par, 0, 1000} end
  if maxb >= 0 then
    local stored = redis.call('HGET', KEYS[k + 4], 's')
    s.settled = seed
    if stored then s.settled = math.max(tonumber(stored), seed) end
    local reserved = leased(KEYS[k + 4])
    if s.settled >= maxb or (reserved > 0 and s.settled + reserved + cost > maxb) then
      return {0, i - 1, 3, 0, s.settled + reserved, 0}
    end
  end
  seen[i] = s
end

local out = {1}
for i = 1, #KEYS / 4 do
  local k, a = (i - 1) * 4, 4 + (i - 1) * 6
  local rpm, tpm, par, maxb = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local s = seen[i]
  local req, req_reset, tok, tok_reset, settled = 0, 0, 0, 0, 0
  if rpm >= 0 then
    redis.call('HINCRBY', KEYS[k + 1], sec, 1)
    redis.call('PEXPIRE', KEYS[k + 1], 61000)
    req, req_reset = s.nreq + 1, oldest_leaves(s.req, true)
  end
  if tpm >= 0 then
    if tokens > 0 then
      redis.call('HINCRBY', KEYS[k + 2], sec, ARGV[3])
      redis.call('PEXPIRE', KEYS[k + 2], 61000)
    end
    tok, tok_reset = s.ntok + tokens, oldest_leaves(s.tok, tokens > 0)
  end
  if par >= 0 then
    redis.call('HINCRBY', KEYS[k + 3], 'r' .. minute, 1)
    redis.call('PEXPIRE', KEYS[k + 3], lease + 120000)
  end
  if maxb >= 0 then
    redis.call('HSET', KEYS[k + 4], 's', string.format('%d', s.settled))
    if cost > 0 then redis.call('HINCRBY', KEYS[k + 4], 'r' .. minute, ARGV[4]) end
    redis.call('PEXPIRE', KEYS[k + 4], ARGV[a + 6])
    settled = s.settled
  end
  out[#out + 1] = req
  out[#out + 1] = req_reset
  out[#out + 1] = tok
  out[#out + 1] = tok_reset
  out[#out + 1] = settled
end
return out
)lua";

// KEYS as for admit. ARGV: now (unix ms), lease (ms), claimed (unix ms of the admit), tokens to
// add (actual - estimate), actual cost, reserved cost, then 4 per scope: has tpm, has
// max_parallel, has max_budget ('1'/'0'), budget counter TTL (ms). Creates nothing admit would
// not have: a budget counter that expired stays gone (the next admit seeds it), and a slot or
// reservation whose lease ran out is not given back.
constexpr std::string_view kSettleLua = R"lua(
local now, claimed = tonumber(ARGV[1]), tonumber(ARGV[3])
local delta, actual, reserved = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local csec, field = math.floor(claimed / 1000), 'r' .. math.floor(claimed / 60000)

local function release(key, amount)
  if redis.call('HEXISTS', key, field) == 1 and
     redis.call('HINCRBY', key, field, string.format('%d', -amount)) <= 0 then
    redis.call('HDEL', key, field)
  end
end

for i = 1, #KEYS / 4 do
  local k, a = (i - 1) * 4, 6 + (i - 1) * 4
  if ARGV[a + 1] == '1' and delta ~= 0 and csec > math.floor(now / 1000) - 60 then
    if redis.call('HINCRBY', KEYS[k + 2], csec, ARGV[4]) < 0 then redis.call('HSET', KEYS[k + 2], csec, 0) end
    redis.call('PEXPIRE', KEYS[k + 2], 61000)
  end
  if ARGV[a + 2] == '1' then release(KEYS[k + 3], 1) end
  if ARGV[a + 3] == '1' and redis.call('EXISTS', KEYS[k + 4]) == 1 then
    if actual > 0 then redis.call('HINCRBY', KEYS[k + 4], 's', ARGV[5]) end
    if reserved > 0 then release(KEYS[k + 4], reserved) end
    redis.call('PEXPIRE', KEYS[k + 4], ARGV[a + 4])
  end
end
return 1
)lua";

}  // namespace

const store::RedisScript& admit_script() {
  static const store::RedisScript script{std::string(kAdmitLua)};
  return script;
}

const store::RedisScript& settle_script() {
  static const store::RedisScript script{std::string(kSettleLua)};
  return script;
}

}  // namespace tollgate::limits::detail
