import { AdapterError } from './errors.js';
import type { Fence, VersionedWrite } from './types.js';

/**
 * Helpers for adapter authors: the argument checks every `SessionAdapter` makes, with the same
 * messages everywhere. Errors are `RepriseError`s of code `ERR_REPRISE_ADAPTER` whose message starts
 * with the adapter's name.
 */

/** Describes a value for an error message without echoing it (keys and values may be secrets). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * An `ERR_REPRISE_ADAPTER` error whose message starts with `<adapter>: `, with `cause` when given.
 * `transient` (default `true`): whether a later attempt may succeed (false for configuration errors).
 */
export function adapterError(adapter: string, message: string, cause?: unknown, transient = true): AdapterError {
  return new AdapterError('ERR_REPRISE_ADAPTER', `${adapter}: ${message}`, { cause, transient });
}

/**
 * A transient `ERR_REPRISE_ADAPTER` error (message `<adapter>: …`) for an operation that certainly
 * never reached the store, because the client was not connected (see `AdapterError.unsent`).
 */
export function unsentError(adapter: string, message: string, cause?: unknown): AdapterError {
  return new AdapterError('ERR_REPRISE_ADAPTER', `${adapter}: ${message}`, { cause, transient: true, unsent: true });
}

/** Throws unless `version` is a non-negative safe integer (the version of a conditional write). */
export function assertVersion(adapter: string, version: unknown): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw adapterError(adapter, `version must be a non-negative safe integer, got ${describeValue(version)}`);
  }
}

/** Throws unless `key` is a string. */
export function assertKey(adapter: string, key: unknown): asserts key is string {
  if (typeof key !== 'string') throw adapterError(adapter, `key must be a string, got ${describeValue(key)}`);
}

/** Throws unless `value` is a string. */
export function assertValue(adapter: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw adapterError(adapter, `value must be a string, got ${describeValue(value)}`);
}

/** Throws unless `ttlMs` is `undefined` (no expiry) or a positive, finite number of ms. */
export function assertTtl(adapter: string, ttlMs: unknown): asserts ttlMs is number | undefined {
  if (ttlMs === undefined) return;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw adapterError(adapter, `ttlMs must be undefined or a positive finite number of ms, got ${describeValue(ttlMs)}`);
  }
}

/**
 * `ttlMs` as whole milliseconds for stores that refuse fractions: rounded up (so at least 1) and
 * clamped so that `now + ttl` stays a safe integer. `undefined` stays `undefined` (no expiry).
 */
export function wholeMsTtl(adapter: string, ttlMs: unknown, now: number = Date.now()): number | undefined {
  assertTtl(adapter, ttlMs);
  if (ttlMs === undefined) return undefined;
  return Math.max(1, Math.min(Math.ceil(ttlMs), Number.MAX_SAFE_INTEGER - now));
}

/**
 * Checks the `fence` argument of `takeVersioned`: `undefined`, or an object whose `version` is a
 * non-negative safe integer and whose `ttlMs` is `undefined` or a positive finite number of ms.
 * Returns a copy holding just those two fields.
 */
export function assertFence(adapter: string, fence: unknown): Fence | undefined {
  if (fence === undefined) return undefined;
  if (fence === null || typeof fence !== 'object' || Array.isArray(fence)) {
    throw adapterError(adapter, `fence must be undefined or an object { version, ttlMs? }, got ${describeValue(fence)}`);
  }
  const { version, ttlMs } = fence as { version?: unknown; ttlMs?: unknown };
  assertVersion(adapter, version);
  assertTtl(adapter, ttlMs);
  return { version, ttlMs };
}

/** The most entries the core puts in one {@link SessionAdapter.saveManyIfNewer} call. */
export const MAX_BATCH_WRITES = 1_000;

/**
 * Checks the argument of `saveManyIfNewer`: an array of `{ key, value, version, ttlMs? }` whose fields
 * pass `assertKey`, `assertValue`, `assertVersion` and `assertTtl`, with no key twice. Returns copies
 * holding just those fields. The message names the index of the first bad entry.
 */
export function assertWrites(adapter: string, writes: unknown): VersionedWrite[] {
  if (!Array.isArray(writes)) throw adapterError(adapter, `writes must be an array, got ${describeValue(writes)}`);
  const keys = new Set<string>();
  return writes.map((write: unknown, index) => {
    if (write === null || typeof write !== 'object' || Array.isArray(write)) {
      throw adapterError(adapter, `writes[${index}] must be an object { key, value, version, ttlMs? }, got ${describeValue(write)}`);
    }
    const { key, value, version, ttlMs } = write as Record<string, unknown>;
    try {
      assertKey(adapter, key);
      assertValue(adapter, value);
      assertVersion(adapter, version);
      assertTtl(adapter, ttlMs);
    } catch (error) {
      throw adapterError(adapter, `writes[${index}]: ${(error as Error).message.slice(adapter.length + 2)}`);
    }
    if (keys.has(key)) throw adapterError(adapter, `writes[${index}]: the key is already in this batch (one write per key)`);
    keys.add(key);
    return { key, value, version, ttlMs };
  });
}
