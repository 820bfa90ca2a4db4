import { luaScript as script } from './scripts.js';

/**
 * The Lua scripts of `RedisCoordinator`. A lease is a hash `{ owner, token }` under `lease:<id>` with
 * the lease's TTL (`PX`): it disappears by itself when its owner stops renewing it. The fencing token
 * comes from a counter under `token:<id>` that outlives the lease (its own, much longer TTL), so a
 * session's tokens strictly increase across owners, lapses and releases.
 */
/**
 * The idle deadlines of leased sessions are a sorted set (`deadlines`: member the session id, score
 * the deadline in ms since the epoch), written by claims and renewals that carry one, and cleared by
 * releases; `ADOPTABLE` reads it from the oldest deadline.
 */
/**
 * `claim`: KEYS = lease key, token key, deadlines key; ARGV = owner, lease ms, token retention ms,
 * session id, deadline ms (or ''). Returns `{ 1, token }` when held (a new lease with the next token,
 * or this owner's lease extended with its token), `{ 0, owner }` when another owner holds a live lease.
 */
export const CLAIM = script(
  'claim',
  `
local holder = redis.call('HGET', KEYS[1], 'owner')
if holder and holder ~= ARGV[1] then return { 0, holder } end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4]) end
if holder then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { 1, redis.call('HGET', KEYS[1], 'token') }
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { 1, tostring(token) }
`,
);

/**
 * \`renew\`: KEYS = the deadlines key, then the lease key and token key of each session in turn;
 * ARGV = owner, lease ms, token retention ms, then session id, token and deadline (or '') per
 * session. Extends each lease this owner holds with that token (and its token counter's retention),
 * indexing its deadline; returns one 1 (extended) or 0 (no longer held) per session.
 */
export const RENEW = script(
  'renew',
  `
local out = {}
for i = 1, (#KEYS - 1) / 2 do
  local lease, counter = KEYS[2 * i], KEYS[2 * i + 1]
  local id, token, deadline = ARGV[3 * i + 1], ARGV[3 * i + 2], ARGV[3 * i + 3]
  local fields = redis.call('HMGET', lease, 'owner', 'token')
  if fields[1] == ARGV[1] and fields[2] == token then
    redis.call('PEXPIRE', lease, ARGV[2])
    redis.call('PEXPIRE', counter, ARGV[3])
    if deadline ~= '' then redis.call('ZADD', KEYS[1], deadline, id) end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`,
);

/**
 * \`release\`: KEYS = lease key, deadlines key; ARGV = owner, token, session id. Deletes the lease
 * and its deadline if it is still that owner's with that token; 1 if it was.
 */
export const RELEASE = script(
  'release',
  `
local fields = redis.call('HMGET', KEYS[1], 'owner', 'token')
if fields[1] == ARGV[1] and fields[2] == ARGV[2] then
  redis.call('UNLINK', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
return 0
`,
);

/**
 * \`adoptable\`: KEYS = deadlines key; ARGV = limit, lease key prefix. Up to \`limit\` session ids
 * whose deadline passed on Redis's clock (\`TIME\`) and whose lease key is gone, oldest deadline
 * first. It looks at most 4 × limit entries past their deadline: those with a live lease (an owner
 * about to expire them itself) are skipped, and a later call looks again. The lease keys are named
 * from the prefix (not declared in KEYS): like the adapter, this targets a standalone Redis.
 */
export const ADOPTABLE = script(
  'adoptable',
  `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local limit = tonumber(ARGV[1])
local candidates = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit * 4)
local out = {}
for _, id in ipairs(candidates) do
  if redis.call('EXISTS', ARGV[2] .. id) == 0 then
    out[#out + 1] = id
    if #out >= limit then break end
  end
end
return out
`,
);
