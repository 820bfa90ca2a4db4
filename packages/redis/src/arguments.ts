import {
  adapterError as coreAdapterError,
  unsentError as coreUnsentError,
  assertFence,
  assertKey,
  assertValue,
  assertVersion,
  assertWrites,
  describeValue,
  wholeMsTtl,
} from '@reprise/core/adapter-kit';
import type { AdapterError, Fence, VersionedWrite } from '@reprise/core';

const NAME = 'RedisAdapter';

/** Describes a value for an error message without echoing it (keys and values may be secrets). */
export const describe = describeValue;

/**
 * An `ERR_REPRISE_ADAPTER` error whose message starts with `RedisAdapter: `.
 * @param transient whether a later attempt may succeed; default `true` (`false` for configuration errors).
 */
export function adapterError(message: string, cause?: unknown, transient = true): AdapterError {
  return coreAdapterError(NAME, message, cause, transient);
}

/** A transient `ERR_REPRISE_ADAPTER` error for a command that was never sent (the client was not connected). */
export function unsentError(message: string, cause?: unknown): AdapterError {
  return coreUnsentError(NAME, message, cause);
}

export function checkKey(key: unknown): asserts key is string {
  assertKey(NAME, key);
}

export function checkValue(value: unknown): asserts value is string {
  assertValue(NAME, value);
}

export function checkVersion(version: unknown): asserts version is number {
  assertVersion(NAME, version);
}

/**
 * Checks the `fence` of `takeVersioned`: `undefined`, or `{ version, ttlMs? }` with a non-negative
 * safe integer `version` and a `ttlMs` that is `undefined` or a positive finite number of ms.
 * @throws AdapterError `ERR_REPRISE_ADAPTER` otherwise.
 */
/** Checks the `fence` argument of `takeVersioned` (core's `assertFence`, with this adapter's name). */
export function checkFence(fence: unknown): Fence | undefined {
  return assertFence(NAME, fence);
}

/**
 * Checks the argument of `saveManyIfNewer` (core's `assertWrites`, with this adapter's name): an
 * array of `{ key, value, version, ttlMs? }`, no key twice. Returns copies of the entries.
 * @throws AdapterError `ERR_REPRISE_ADAPTER` naming the index of the first bad entry.
 */
export function checkWrites(writes: unknown): VersionedWrite[] {
  return assertWrites(NAME, writes);
}

/**
 * The `PEXPIRE` argument for `ttlMs`, as the decimal string the scripts take: rounded **up** to
 * whole milliseconds, so at least 1 (Redis refuses a fractional or non-positive expiry), and
 * clamped so that `Date.now() + ttl` stays a safe integer (about 285,000 years). `undefined`
 * becomes `''`: no expiry (a write without a TTL also clears the TTL of what it replaces).
 *
 * @throws RepriseError `ERR_REPRISE_ADAPTER` when `ttlMs` is neither undefined nor a positive finite number.
 */
export function redisTtl(ttlMs: unknown, now: number = Date.now()): string {
  const whole = wholeMsTtl(NAME, ttlMs, now);
  return whole === undefined ? '' : String(whole);
}
