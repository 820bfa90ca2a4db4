import { RepriseError } from '@reprise/core';

/** Describes a value for an error message without echoing it (keys and values may be secrets). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** An `ERR_REPRISE_ADAPTER` error whose message starts with `KeyvAdapter: `. */
export function adapterError(message: string, cause?: unknown): RepriseError {
  return new RepriseError('ERR_REPRISE_ADAPTER', `KeyvAdapter: ${message}`, cause === undefined ? undefined : { cause });
}

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw adapterError(`key must be a string, got ${describe(key)}`);
}

export function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw adapterError(`value must be a string, got ${describe(value)}`);
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
  if (ttlMs === undefined) return 0;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw adapterError(`ttlMs must be undefined or a positive finite number of ms, got ${describe(ttlMs)}`);
  }
  return Math.max(1, Math.min(Math.ceil(ttlMs), Number.MAX_SAFE_INTEGER - now));
}
