import type { VersionedValue } from '@reprise/core';

/**
 * What the adapter keeps for a key: a value (or none: a *floor*, only a version) and its deadline.
 * Versions are non-negative safe integers (0 for plain `save`); deadlines are ms since the epoch,
 * `Infinity` for none. A floor at version 0 means nothing (every version is at least 0), so the
 * rules below never produce one: the key is removed instead.
 */
export interface Entry {
  readonly value: string | undefined;
  readonly version: number;
  readonly deadline: number;
}

/** A fence with its `ttlMs` turned into a deadline (ms since the epoch; `Infinity` for none). */
export interface FenceAt {
  readonly version: number;
  readonly deadline: number;
}

/** What `takeVersioned` does to an entry: what it returns, and what the key holds afterwards. */
export interface TakeOutcome {
  readonly taken: VersionedValue | undefined;
  /** The entry afterwards: the same object when nothing changed, `undefined` for no entry. */
  readonly next: Entry | undefined;
}

/**
 * Whether `saveIfNewer(…, version)` stores over `entry` (a live entry, or `undefined`): when the key
 * holds a value of a lower version, or holds no value and its version is at most `version`.
 */
export function acceptsVersion(entry: Entry | undefined, version: number): boolean {
  if (entry === undefined) return true;
  return entry.value === undefined ? entry.version <= version : entry.version < version;
}

/** A floor at `version` until `deadline`, or no entry at all for version 0. */
function floor(version: number, deadline: number): Entry | undefined {
  return version === 0 ? undefined : { value: undefined, version, deadline };
}

/**
 * The rules of `takeVersioned(key, fence?)` for the live `entry` of a key:
 * - without a fence, a value is taken and leaves a floor at its version, with its deadline;
 * - with a fence, a value of a version up to `fence.version` is taken; a newer value stays as it is;
 *   otherwise the key keeps a floor at the higher of its version and the fence's, living the longer
 *   of its own remaining time and the fence's (a floor never shrinks).
 */
export function takeOutcome(entry: Entry | undefined, fence: FenceAt | undefined): TakeOutcome {
  const value = entry?.value;
  const takes = entry !== undefined && value !== undefined && (fence === undefined || entry.version <= fence.version);
  const taken = takes ? { value, version: entry.version } : undefined;
  if (fence === undefined) return { taken, next: takes ? floor(entry.version, entry.deadline) : entry };
  if (value !== undefined && !takes) return { taken, next: entry };
  const version = Math.max(entry?.version ?? 0, fence.version);
  const deadline = Math.max(entry?.deadline ?? -Infinity, fence.deadline);
  return { taken, next: floor(version, deadline) };
}

/** The deadline of a TTL given at `now`: `Infinity` for none. */
export function deadlineOf(now: number, ttlMs: number | undefined): number {
  return ttlMs === undefined ? Infinity : now + ttlMs;
}
