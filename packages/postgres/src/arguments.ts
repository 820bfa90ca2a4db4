import { assertFence, assertKey, assertTtl, assertValue, assertVersion, assertWrites } from '@reprise/core/adapter-kit';
import type { Fence, VersionedWrite } from '@reprise/core';
import { isWellFormed } from './codec.js';
import { adapterError } from './errors.js';

const NAME = 'PostgresAdapter';

/**
 * Longest TTL honoured, in ms (about 10,000 years); longer ones are cut to it, so that the deadline
 * stays within the range of `timestamptz`.
 */
export const MAX_TTL_MS = 10_000 * 365.25 * 24 * 3600e3;

/** Throws `ERR_REPRISE_ADAPTER` unless `key` is a well-formed string. */
export function checkKey(key: unknown): asserts key is string {
  assertKey(NAME, key);
  if (!isWellFormed(key)) throw adapterError('key is not well-formed Unicode (it has a lone surrogate)');
}

/** Throws `ERR_REPRISE_ADAPTER` unless `value` is a well-formed string (only those have an exact UTF-8 form). */
export function checkValue(value: unknown): asserts value is string {
  assertValue(NAME, value);
  if (!isWellFormed(value)) {
    throw adapterError('value is not well-formed Unicode (it has a lone surrogate), so it has no exact UTF-8 form');
  }
}

/** Throws `ERR_REPRISE_ADAPTER` unless `version` is a non-negative safe integer. */
export function checkVersion(version: unknown): asserts version is number {
  assertVersion(NAME, version);
}

/**
 * The `ttlMs` argument as the statements take it: ms (fractions kept), cut to {@link MAX_TTL_MS},
 * `null` for no expiry. Throws `ERR_REPRISE_ADAPTER` unless `undefined` or a positive finite number.
 */
export function checkTtl(ttlMs: unknown): number | null {
  assertTtl(NAME, ttlMs);
  return ttlMs === undefined ? null : Math.min(ttlMs, MAX_TTL_MS);
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
 * Checks the argument of `saveManyIfNewer`: core's `assertWrites` (an array of
 * `{ key, value, version, ttlMs? }`, no key twice), then every key and value well-formed, as
 * {@link checkKey} and {@link checkValue} require. Returns copies of the entries.
 * @throws AdapterError `ERR_REPRISE_ADAPTER` naming the index of the first bad entry (`writes[2]: …`).
 */
export function checkWrites(writes: unknown): VersionedWrite[] {
  const checked = assertWrites(NAME, writes);
  checked.forEach(({ key, value }, index) => {
    if (!isWellFormed(key)) throw adapterError(`writes[${index}]: key is not well-formed Unicode (it has a lone surrogate)`);
    if (!isWellFormed(value)) {
      throw adapterError(`writes[${index}]: value is not well-formed Unicode (it has a lone surrogate), so it has no exact UTF-8 form`);
    }
  });
  return checked;
}
