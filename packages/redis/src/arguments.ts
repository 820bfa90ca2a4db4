import { adapterError as coreAdapterError, assertKey, assertValue, describeValue, wholeMsTtl, type RepriseError } from '@reprise/core';

const NAME = 'RedisAdapter';

/** Describes a value for an error message without echoing it (keys and values may be secrets). */
export const describe = describeValue;

/** An `ERR_REPRISE_ADAPTER` error whose message starts with `RedisAdapter: `. */
export function adapterError(message: string, cause?: unknown): RepriseError {
  return coreAdapterError(NAME, message, cause);
}

export function checkKey(key: unknown): asserts key is string {
  assertKey(NAME, key);
}

export function checkValue(value: unknown): asserts value is string {
  assertValue(NAME, value);
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
  return wholeMsTtl(NAME, ttlMs, now);
}

/** A reply of GET/GETDEL as a string: `null` is a miss; a client mapping blobs to Buffers still gives text. */
export function replyToString(reply: unknown): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8');
  throw adapterError(`Redis returned ${describe(reply)} instead of a string`);
}
