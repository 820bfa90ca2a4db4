import { RepriseError } from '@reprise/core';

/** Describes a value for an error message without echoing it (keys and values may be secrets). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** An `ERR_REPRISE_ADAPTER` error whose message starts with `RedisAdapter: `. */
export function adapterError(message: string, cause?: unknown): RepriseError {
  return new RepriseError('ERR_REPRISE_ADAPTER', `RedisAdapter: ${message}`, cause === undefined ? undefined : { cause });
}

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw adapterError(`key must be a string, got ${describe(key)}`);
}

export function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw adapterError(`value must be a string, got ${describe(value)}`);
}

/**
 * The `PX` argument for `ttlMs`: rounded **up** to whole milliseconds, so at least 1 (Redis refuses
 * a fractional or non-positive `PX`, and @keyv/redis would report such a failed write as a success),
 * and clamped so that `Date.now() + ttl` stays a safe integer (about 285,000 years). `undefined`
 * stays `undefined`: a plain `SET`, which also clears the TTL of the value it replaces.
 *
 * @throws RepriseError `ERR_REPRISE_ADAPTER` when `ttlMs` is neither undefined nor a positive finite number.
 */
export function redisTtl(ttlMs: unknown, now: number = Date.now()): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw adapterError(`ttlMs must be undefined or a positive finite number of ms, got ${describe(ttlMs)}`);
  }
  return Math.max(1, Math.min(Math.ceil(ttlMs), Number.MAX_SAFE_INTEGER - now));
}

/** A reply of GET/GETDEL as a string: `null` is a miss; a client mapping blobs to Buffers still gives text. */
export function replyToString(reply: unknown): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8');
  throw adapterError(`Redis returned ${describe(reply)} instead of a string`);
}
