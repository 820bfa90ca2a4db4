import { DeadlineHeap, OptionError, describeOptionValue, RepriseError, adapterError as coreAdapterError, assertKey, assertTtl, assertValue } from '@reprise/core';
import type { SessionAdapter } from '@reprise/core';

/** Options of {@link MemoryAdapter}. Every option is optional; `undefined` means the default. */
export interface MemoryAdapterOptions {
  /**
   * Bound on stored entries (a count, not bytes). When a save of a new key would pass it, the
   * oldest-written entry is dropped and reported through `onDrop`. Positive integer; default 10,000.
   */
  maxEntries?: number;
  /** Clock in ms since the epoch; default `Date.now`. Inject one in tests. */
  now?: () => number;
  /**
   * Called with the key of each entry dropped to honour `maxEntries`, after the save that caused the
   * drop has stored its value. Default: `process.emitWarning` with code `'REPRISE_MEMORY_DROPPED'`
   * (a warning, never a throw). If it throws, that save rejects with its error (the value stays saved).
   */
  onDrop?: (key: string) => void;
}

/** Code of the process warning the default `onDrop` emits. */
const DROPPED_WARNING_CODE = 'REPRISE_MEMORY_DROPPED';

/** Default `onDrop`: a process warning, never a throw. */
function warnDropped(key: string): void {
  process.emitWarning(`MemoryAdapter: maxEntries reached, dropped the oldest entry ${JSON.stringify(key)}`, {
    code: DROPPED_WARNING_CODE,
  });
}

/** Normalized options, frozen once per adapter. */
type ResolvedOptions = Readonly<Required<MemoryAdapterOptions>>;

const DEFAULTS: ResolvedOptions = Object.freeze({
  maxEntries: 10_000,
  now: Date.now,
  onDrop: warnDropped,
});

const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULTS));

const show = describeOptionValue;

function optionError(message: string): OptionError {
  return new OptionError(`MemoryAdapter: ${message}`);
}

const NAME = 'MemoryAdapter';

function adapterError(message: string): RepriseError {
  return coreAdapterError(NAME, message);
}

function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) return DEFAULTS;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw optionError(`options must be an object, got ${show(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!OPTION_NAMES.has(name)) throw optionError(`unknown option ${JSON.stringify(name)}`);
  }
  const { maxEntries = DEFAULTS.maxEntries, now = DEFAULTS.now, onDrop = DEFAULTS.onDrop } = given;
  if (typeof maxEntries !== 'number' || !Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw optionError(`maxEntries must be a positive integer, got ${show(maxEntries)}`);
  }
  if (typeof now !== 'function') throw optionError(`now must be a function, got ${show(now)}`);
  if (typeof onDrop !== 'function') throw optionError(`onDrop must be a function, got ${show(onDrop)}`);
  return Object.freeze({ maxEntries, now: now as () => number, onDrop: onDrop as (key: string) => void });
}


/**
 * The in-process {@link SessionAdapter}: the embedded default of Reprise, and the adapter for tests.
 *
 * Entries live in this process only (a restart loses them) and are bounded by `maxEntries`
 * (default 10,000; past it the oldest-written entry is dropped and reported). TTLs are in ms and
 * exact against the `now` clock: an entry is unreadable from `now() >= savedAt + ttlMs`. Expired
 * entries are swept at the start of every call through a deadline heap, O(log n) per expired
 * entry, never a scan; the adapter holds no timer, so it never keeps the process alive.
 * `take` is atomic: the read and the delete happen in one synchronous step.
 */
export class MemoryAdapter implements SessionAdapter {
  /** `'memory'`, for reports. */
  readonly name = 'memory';
  /** `true`: `take` reads and deletes in one synchronous step, so one caller gets each value. */
  readonly atomic = true;

  readonly #options: ResolvedOptions;
  /** Values by key, in write order: an upsert moves its key to the newest end. */
  readonly #entries = new Map<string, string>();
  /** Keys that have a TTL, by deadline (ms since the epoch); the only record of deadlines. */
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
   * Number of entries stored right now. Expired entries not yet swept count until the next
   * call to `save`, `load`, `take` or `delete` sweeps them (they are never returned). 0 after `close()`.
   */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Upserts `value` under `key` and makes it the newest-written entry.
   * @param ttlMs positive finite number of ms the value stays readable; `undefined` = no expiry.
   * Rejects with `ERR_REPRISE_ADAPTER` on a non-string key or value, an invalid `ttlMs`, or after `close()`.
   */
  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    const now = this.#begin();
    assertKey(NAME, key);
    assertValue(NAME, value);
    assertTtl(NAME, ttlMs);
    this.#remove(key);
    this.#entries.set(key, value);
    if (ttlMs !== undefined) this.#deadlines.set(key, now + ttlMs);
    this.#enforceBound();
  }

  /** The value under `key`, or `undefined` when missing or expired. Rejects after `close()`. */
  async load(key: string): Promise<string | undefined> {
    this.#begin();
    assertKey(NAME, key);
    return this.#entries.get(key);
  }

  /** Reads and deletes `key` in one step: `undefined` when missing or expired. Rejects after `close()`. */
  async take(key: string): Promise<string | undefined> {
    this.#begin();
    assertKey(NAME, key);
    const value = this.#entries.get(key);
    if (value !== undefined) this.#remove(key);
    return value;
  }

  /** Deletes `key`; `true` when a readable (unexpired) entry was deleted. Rejects after `close()`. */
  async delete(key: string): Promise<boolean> {
    this.#begin();
    assertKey(NAME, key);
    return this.#remove(key);
  }

  /** Drops every entry; later calls reject with `ERR_REPRISE_ADAPTER`. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    this.#deadlines.clear();
  }

  /**
   * Common start of every call: rejects when closed, reads the clock once and sweeps every entry
   * whose deadline is `<= now`. Afterwards every stored entry is readable at `now`, so the
   * callers need no expiry check of their own.
   */
  #begin(): number {
    if (this.#closed) throw adapterError('the adapter is closed');
    const now = this.#options.now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw adapterError(`now() must return a finite number of ms, got ${show(now)}`);
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

  /** Removes `key` from the store and from the deadline heap; `true` when it was stored. */
  #remove(key: string): boolean {
    this.#deadlines.delete(key);
    return this.#entries.delete(key);
  }

  /** Drops oldest-written entries past `maxEntries`, reporting each key once the store is consistent. */
  #enforceBound(): void {
    const dropped: string[] = [];
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#options.maxEntries) break;
      this.#remove(key);
      dropped.push(key);
    }
    for (const key of dropped) this.#options.onDrop(key);
  }
}
