import {
  DeadlineHeap,
  adapterError,
  assertFence,
  assertKey,
  assertTtl,
  assertValue,
  assertVersion,
  assertWrites,
} from '@reprise/core/adapter-kit';
import type { AdapterError, Fence, SessionAdapter, VersionedValue, VersionedWrite } from '@reprise/core';
import { acceptsVersion, deadlineOf, takeOutcome } from './entry.js';
import type { Entry } from './entry.js';
import { resolveOptions, show } from './options.js';
import type { MemoryAdapterOptions, ResolvedOptions } from './options.js';

const NAME = 'MemoryAdapter';

function memoryError(message: string): AdapterError {
  return adapterError(NAME, message);
}

/**
 * The in-process {@link SessionAdapter}: the embedded default of Reprise, and the adapter for tests.
 *
 * Entries live in this process only (a restart loses them) and are bounded by `maxEntries`
 * (default 10,000; past it the oldest-written entry is dropped and reported). TTLs are in ms and
 * exact against the `now` clock: an entry is unreadable from `now() >= savedAt + ttlMs`. Expired
 * entries are swept at the start of every call through a deadline heap, O(log n) per expired
 * entry, never a scan; the adapter holds no timer, so it never keeps the process alive.
 *
 * It is *ordered* (see "Ordered writes" on {@link SessionAdapter}): `saveIfNewer` and
 * `takeVersioned` keep a version per key, and a take leaves a floor (the key's version without a
 * value, for the rest of the value's TTL); `saveManyIfNewer` applies a batch of such writes. Every
 * call runs in one synchronous step after its arguments are checked, so each is atomic: of
 * concurrent takes exactly one gets the value.
 */
export class MemoryAdapter implements SessionAdapter {
  /** `'memory'`, for reports. */
  readonly name = 'memory';
  /** `true`: `take` reads and deletes in one synchronous step, so one caller gets each value. */
  readonly atomic = true;
  /** `true`: its entries die with the process, so checkpoints default to off on it (see `checkpointInterval`). */
  readonly ephemeral = true;

  readonly #options: ResolvedOptions;
  /** Entries (values and floors) by key, in write order: a write of a value moves its key to the newest end. */
  readonly #entries = new Map<string, Entry>();
  /**
   * Walks `#entries` in write order for {@link #enforceBound}, kept between calls: every key it has
   * passed was dropped (a key written again moved behind it), so the oldest key is its next one.
   * A fresh iterator would step over every deleted slot at the head of the Map on each write.
   */
  #oldest: Iterator<string> | undefined;
  /** Keys whose entry has a finite deadline, by that deadline (ms since the epoch). */
  readonly #deadlines = new DeadlineHeap<string>();
  #closed = false;

  /**
   * @param options see {@link MemoryAdapterOptions}.
   * @throws RepriseError `ERR_REPRISE_OPTION` when an option has a wrong type or value, or is unknown.
   */
  constructor(options?: MemoryAdapterOptions) {
    this.#options = resolveOptions(options);
  }

  /**
   * Number of entries stored right now: values and floors (keys left with only a version by
   * `takeVersioned`). Expired entries not yet swept count until the next call sweeps them (they
   * are never returned). 0 after `close()`.
   */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Upserts `value` under `key` at version 0 (replacing any floor) and makes it the newest-written entry.
   * @param ttlMs positive finite number of ms the value stays readable; `undefined` = no expiry.
   * Rejects with `ERR_REPRISE_ADAPTER` on a non-string key or value, an invalid `ttlMs`, or after `close()`.
   */
  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    const now = this.#begin();
    assertKey(NAME, key);
    assertValue(NAME, value);
    assertTtl(NAME, ttlMs);
    this.#put(key, { value, version: 0, deadline: deadlineOf(now, ttlMs) });
  }

  /**
   * Stores `value` at `version` when the key holds a value of a lower version, or holds no value
   * and its version is at most `version`; resolves whether it stored. A stored value becomes the
   * newest-written entry.
   * @param version non-negative safe integer.
   * @param ttlMs positive finite number of ms the value stays readable; `undefined` = no expiry.
   * Rejects with `ERR_REPRISE_ADAPTER` on an invalid argument or after `close()`.
   */
  async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    const now = this.#begin();
    assertKey(NAME, key);
    assertValue(NAME, value);
    assertVersion(NAME, version);
    assertTtl(NAME, ttlMs);
    return this.#storeIfNewer(now, { key, value, version, ttlMs });
  }

  /**
   * A batch of conditional writes: each entry is stored exactly as `saveIfNewer(key, value,
   * version, ttlMs)` stores it, one after the other, in one synchronous step (so the whole batch is
   * applied at one instant of the clock). Resolves one boolean per entry, in the order given:
   * whether it was stored. Entries are independent: a refused one does not stop the others.
   * An empty batch resolves `[]`.
   * @param writes `{ key, value, version, ttlMs? }` each, no key twice; `version` a non-negative
   *   safe integer, `ttlMs` a positive finite number of ms or `undefined` (no expiry).
   * Rejects with `ERR_REPRISE_ADAPTER` naming the index of the first bad entry (nothing is stored
   * then), or after `close()`. When `onDrop` throws, every entry is still applied, then the call
   * rejects with the first such error.
   */
  async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    const now = this.#begin();
    const checked = assertWrites(NAME, writes);
    let dropError: { error: unknown } | undefined;
    const stored = checked.map((write) => {
      try {
        return this.#storeIfNewer(now, write);
      } catch (error) {
        dropError ??= { error };
        return true; // only onDrop throws here, after the value was stored
      }
    });
    if (dropError !== undefined) throw dropError.error;
    return stored;
  }

  /** The value under `key`, or `undefined` when missing, expired, or only a floor. Rejects after `close()`. */
  async load(key: string): Promise<string | undefined> {
    this.#begin();
    assertKey(NAME, key);
    return this.#entries.get(key)?.value;
  }

  /**
   * Reads and removes the value of `key` in one step (leaving a floor at its version, like
   * `takeVersioned`): `undefined` when missing or expired. Rejects after `close()`.
   */
  async take(key: string): Promise<string | undefined> {
    return this.#takeVersioned(key, undefined)?.value;
  }

  /**
   * Takes the value of `key` with its version, leaving a floor; with `fence`, takes only a value of
   * a version up to `fence.version` and raises the key's version to at least it (a floor it creates
   * lives `fence.ttlMs` ms, `undefined`: until `delete`). See "Ordered writes" on {@link SessionAdapter}.
   * An entry a fence creates is the newest-written; one it changes keeps its place.
   * Rejects with `ERR_REPRISE_ADAPTER` on an invalid argument or after `close()`.
   */
  async takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    return this.#takeVersioned(key, fence);
  }

  /** Deletes `key` (value and floor); `true` when a readable (unexpired) value was deleted. Rejects after `close()`. */
  async delete(key: string): Promise<boolean> {
    this.#begin();
    assertKey(NAME, key);
    const entry = this.#entries.get(key);
    this.#remove(key);
    return entry?.value !== undefined;
  }

  /** Drops every entry; later calls reject with `ERR_REPRISE_ADAPTER`. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    this.#oldest = undefined;
    this.#deadlines.clear();
  }

  /** The rule of `saveIfNewer` on checked arguments, at `now`: stores and returns `true`, or returns `false`. */
  #storeIfNewer(now: number, { key, value, version, ttlMs }: VersionedWrite): boolean {
    if (!acceptsVersion(this.#entries.get(key), version)) return false;
    this.#put(key, { value, version, deadline: deadlineOf(now, ttlMs) });
    return true;
  }

  #takeVersioned(key: string, fence: unknown): VersionedValue | undefined {
    const now = this.#begin();
    assertKey(NAME, key);
    const checked = assertFence(NAME, fence);
    const entry = this.#entries.get(key);
    const at = checked && { version: checked.version, deadline: deadlineOf(now, checked.ttlMs) };
    const { taken, next } = takeOutcome(entry, at);
    if (next === undefined) this.#remove(key);
    else if (entry === undefined) this.#put(key, next);
    else if (next !== entry) this.#replace(key, next);
    return taken;
  }

  /**
   * Common start of every call: rejects when closed, reads the clock once and sweeps every entry
   * whose deadline is `<= now`. Afterwards every stored entry is live at `now`, so the callers
   * need no expiry check of their own.
   */
  #begin(): number {
    if (this.#closed) throw memoryError('the adapter is closed');
    const now = this.#options.now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw memoryError(`now() must return a finite number of ms, got ${show(now)}`);
    }
    this.#sweep(now);
    return now;
  }

  /** Removes entries whose deadline is `<= now`, earliest first; O(log n) each. */
  #sweep(now: number): void {
    while (this.#deadlines.peekDeadline() <= now) {
      this.#entries.delete(this.#deadlines.shift()!);
    }
  }

  /** Stores `entry` as the newest-written entry of `key`, then honours `maxEntries`. */
  #put(key: string, entry: Entry): void {
    this.#remove(key);
    this.#entries.set(key, entry);
    this.#schedule(key, entry);
    this.#enforceBound();
  }

  /** Replaces the existing entry of `key`, keeping its place in the write order. */
  #replace(key: string, entry: Entry): void {
    this.#entries.set(key, entry);
    this.#schedule(key, entry);
  }

  #schedule(key: string, entry: Entry): void {
    if (entry.deadline === Infinity) this.#deadlines.delete(key);
    else this.#deadlines.set(key, entry.deadline);
  }

  /** Removes `key` from the store and from the deadline heap; `true` when it was stored. */
  #remove(key: string): boolean {
    this.#deadlines.delete(key);
    return this.#entries.delete(key);
  }

  /** Drops oldest-written entries past `maxEntries`, reporting each key once the store is consistent. */
  #enforceBound(): void {
    const dropped: string[] = [];
    while (this.#entries.size > this.#options.maxEntries) {
      const key = this.#nextOldest();
      if (key === undefined) break;
      this.#remove(key);
      dropped.push(key);
    }
    for (const key of dropped) this.#options.onDrop(key);
  }

  /** The oldest key still stored (see {@link #oldest}); `undefined` when none is. */
  #nextOldest(): string | undefined {
    this.#oldest ??= this.#entries.keys();
    const next = this.#oldest.next();
    if (!next.done) return next.value;
    // Only when nothing is stored: every stored key is ahead of the iterator. Start over next time.
    this.#oldest = undefined;
    return undefined;
  }
}
