import { luaScript as script } from './scripts.js';

/**
 * The Lua scripts of `RedisCoordinator`. A lease is a hash `{ owner, token }` under `lease:<id>` with
 * the lease's TTL (`PX`): it disappears by itself when its owner stops renewing it. The fencing token
 * comes from a counter under `token:<id>` that outlives the lease (its own, much longer TTL), so a
 * session's tokens strictly increase across owners, lapses and releases.
 */
/**
 * `claim`: KEYS = lease key, token key; ARGV = owner, lease ms, token retention ms. Returns
 * `{ 1, token }` when held (a new lease with the next token, or this owner's lease extended with its
 * token), `{ 0, owner }` when another owner holds a live lease.
 */
export const CLAIM = script('claim', `
local holder = redis.call('HGET', KEYS[1], 'owner')
if holder and holder ~= ARGV[1] then return { 0, holder } end
if holder then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { 1, redis.call('HGET', KEYS[1], 'token') }
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { 1, tostring(token) }
`);

/**
 * \`renew\`: KEYS = lease key and token key of each session in turn; ARGV = owner, lease ms, token
 * retention ms, then one token per session. Extends each lease this owner holds with that token (and
 * its token counter's retention); returns one 1 (extended) or 0 (no longer held) per session.
 */
export const RENEW = script('renew', `
local out = {}
for i = 1, #KEYS / 2 do
  local lease, counter = KEYS[2 * i - 1], KEYS[2 * i]
  local fields = redis.call('HMGET', lease, 'owner', 'token')
  if fields[1] == ARGV[1] and fields[2] == ARGV[i + 3] then
    redis.call('PEXPIRE', lease, ARGV[2])
    redis.call('PEXPIRE', counter, ARGV[3])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`);

/** \`release\`: KEYS = lease key; ARGV = owner, token. Deletes the lease if it is still that owner's with that token; 1 if it was. */
export const RELEASE = script('release', `
local fields = redis.call('HMGET', KEYS[1], 'owner', 'token')
if fields[1] == ARGV[1] and fields[2] == ARGV[2] then
  redis.call('UNLINK', KEYS[1])
  return 1
end
return 0
`);
