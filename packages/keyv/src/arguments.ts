import type { RepriseError } from '@reprise/core';
import { adapterError as coreAdapterError, assertKey, assertValue, describeValue, wholeMsTtl } from '@reprise/core/adapter-kit';

const NAME = 'KeyvAdapter';

/** Describes a value for an error message without echoing it (keys and values may be secrets). */
export const describe = describeValue;

/** An `ERR_REPRISE_ADAPTER` error whose message starts with `KeyvAdapter: `. */
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
 * The TTL handed to Keyv: `ttlMs` rounded **up** to whole milliseconds (so at least 1, never 0,
 * which Keyv reads as "no expiry", and never a fraction, which @keyv/redis turns into a silently
 * failed `SET … PX 1500.5`), and clamped so that `Date.now() + ttl` stays a safe integer (about
 * 285,000 years: a longer TTL is indistinguishable from it). `undefined` (no expiry) becomes `0`,
 * which Keyv reads as "no expiry" even when the Keyv has a default `ttl` (an `undefined` TTL would
 * silently pick that default up).
 *
 * @throws RepriseError `ERR_REPRISE_ADAPTER` when `ttlMs` is neither undefined nor a positive finite number.
 */
export function keyvTtl(ttlMs: unknown, now: number = Date.now()): number {
  return wholeMsTtl(NAME, ttlMs, now) ?? 0;
}
