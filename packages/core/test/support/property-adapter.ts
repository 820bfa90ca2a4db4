import type fc from 'fast-check';
import { decodeRecord, type DecodedRecord } from '../../src/codec.js';
import type { Fence, SessionAdapter, VersionedValue, VersionedWrite } from '../../src/types.js';

/** Which adapter calls may fail in a run of the exactly-once property. */
export type FailMode = 'none' | 'saves' | 'all';

type Method = 'save' | 'load' | 'take' | 'delete';

/** One call that reached the store and took effect (or, `refused`, a conditional write that did not). */
export interface StoreEvent {
  method: Method | 'fence' | 'refused';
  key: string;
  /** What was written (save) or returned (load, take, fence); `undefined` when nothing. */
  value: string | undefined;
  /** `value`, decoded. */
  record: DecodedRecord | undefined;
  /** For a save: the value is one a take() or fence returned before (the core putting back what it took). */
  putBack: boolean;
  /** For a save: the key held this very value already (a write rewritten over its own landed copy, at a newer version). */
  rewrite: boolean;
  /** The version written or returned (ordered mode). */
  version: number;
}

/** The error a planned adapter failure throws (so the test can recognise it in reports). */
export class PlannedAdapterFailure extends Error {
  constructor(method: Method, key: string) {
    super(`planned ${method} failure on ${JSON.stringify(key)}`);
    this.name = 'PlannedAdapterFailure';
  }
}

interface Entry {
  /** `undefined`: a floor (ordered mode: the key keeps a version without a value). */
  value: string | undefined;
  version: number;
  expiresAt: number;
}

/**
 * A Map-based SessionAdapter whose every call resolves through fast-check's scheduler, so the
 * property explores every order in which adapter calls complete. The operation itself happens
 * atomically when the scheduler releases the call (like a real store acting some time after the
 * call, possibly after the caller gave up waiting: a late write). Failures follow a cyclic boolean
 * plan (per call number), for the methods `mode` allows; a failing call throws before touching the
 * store. Every call that took effect is logged with the decoded record.
 *
 * With `ordered`, it also offers `saveIfNewer` and `takeVersioned` with the rules of
 * `SessionAdapter` ("Ordered writes"): a version per key, floors left by takes, fences.
 */
export class ScheduledAdapter implements SessionAdapter {
  readonly name = 'scheduled';
  readonly atomic = true;
  /** In-process, like `MemoryAdapter`: checkpoints default to off (the model counts closes' writes only). */
  readonly ephemeral = true;
  readonly entries = new Map<string, Entry>();
  /** Calls that took effect, in the order they did. */
  readonly log: StoreEvent[] = [];
  /** Failed calls, by method and key. */
  readonly failures: { method: Method; key: string }[] = [];
  saveIfNewer?: (key: string, value: string, version: number, ttlMs?: number) => Promise<boolean>;
  takeVersioned?: (key: string, fence?: Fence) => Promise<VersionedValue | undefined>;
  saveManyIfNewer?: (writes: readonly VersionedWrite[]) => Promise<boolean[]>;
  #calls = 0;
  readonly #s: fc.Scheduler;
  readonly #now: () => number;
  readonly #mode: FailMode;
  readonly #plan: readonly boolean[];

  /**
   * @param ordered offers `saveIfNewer` and `takeVersioned`.
   * @param batched (with `ordered`) offers `saveManyIfNewer` too: one scheduled call for the whole
   *   batch, which fails as a whole or applies every entry at once.
   */
  constructor(s: fc.Scheduler, now: () => number, mode: FailMode, plan: readonly boolean[], ordered = false, batched = false) {
    this.#s = s;
    this.#now = now;
    this.#mode = mode;
    this.#plan = plan.length === 0 ? [false] : plan;
    if (ordered) {
      this.saveIfNewer = (key, value, version, ttlMs) => this.#saveIfNewer(key, value, version, ttlMs);
      this.takeVersioned = (key, fence) => this.#takeVersioned(key, fence);
      if (batched) this.saveManyIfNewer = (writes) => this.#saveManyIfNewer(writes);
    }
  }

  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.#gate('save', key);
    this.#write(key, value, 0, ttlMs);
  }

  async load(key: string): Promise<string | undefined> {
    await this.#gate('load', key);
    const value = this.#live(key)?.value;
    this.#log('load', key, value, 0);
    return value;
  }

  async take(key: string): Promise<string | undefined> {
    await this.#gate('take', key);
    return this.#take(key, undefined)?.value;
  }

  async delete(key: string): Promise<boolean> {
    await this.#gate('delete', key);
    const existed = this.#live(key)?.value !== undefined;
    this.entries.delete(key);
    this.#log('delete', key, undefined, 0);
    return existed;
  }

  /** The record stored (and readable) under `key` now, decoded. */
  peek(key: string): DecodedRecord | undefined {
    const value = this.#live(key)?.value;
    return value === undefined ? undefined : decodeRecord(value);
  }

  /** Keys holding a readable value now. */
  keys(): string[] {
    return [...this.entries.keys()].filter((key) => this.#live(key)?.value !== undefined);
  }

  /** Whether a load or take of `key` failed. */
  readFailed(key: string): boolean {
    return this.failures.some((f) => f.key === key && (f.method === 'load' || f.method === 'take'));
  }

  async #saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    await this.#gate('save', key);
    return this.#applySaveIfNewer(key, value, version, ttlMs);
  }

  async #saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    await this.#gate('save', `batch of ${writes.length}: ${writes.map((w) => w.key.slice(0, 8)).join(' ')}`);
    return writes.map((w) => this.#applySaveIfNewer(w.key, w.value, w.version, w.ttlMs));
  }

  #applySaveIfNewer(key: string, value: string, version: number, ttlMs?: number): boolean {
    const entry = this.#live(key);
    const accepts = entry === undefined || (entry.value === undefined ? entry.version <= version : entry.version < version);
    if (!accepts) {
      this.#log('refused', key, value, version);
      return false;
    }
    this.#write(key, value, version, ttlMs);
    return true;
  }

  async #takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    await this.#gate('take', key);
    return this.#take(key, fence);
  }

  #take(key: string, fence: Fence | undefined): VersionedValue | undefined {
    const entry = this.#live(key);
    const takes = entry?.value !== undefined && (fence === undefined || entry.version <= fence.version);
    const taken = takes ? { value: entry!.value!, version: entry!.version } : undefined;
    if (fence === undefined) {
      if (taken !== undefined) this.#setFloor(key, entry!.version, entry!.expiresAt);
    } else if (entry?.value === undefined || takes) {
      const version = Math.max(entry?.version ?? 0, fence.version);
      const expiresAt = Math.max(entry?.expiresAt ?? -Infinity, fence.ttlMs === undefined ? Infinity : this.#now() + fence.ttlMs);
      this.#setFloor(key, version, expiresAt);
    }
    this.#log(fence === undefined ? 'take' : 'fence', key, taken?.value, taken?.version ?? 0);
    return taken;
  }

  #setFloor(key: string, version: number, expiresAt: number): void {
    if (version === 0) this.entries.delete(key);
    else this.entries.set(key, { value: undefined, version, expiresAt });
  }

  #write(key: string, value: string, version: number, ttlMs: number | undefined): void {
    const rewrite = this.#live(key)?.value === value;
    this.entries.delete(key);
    this.entries.set(key, { value, version, expiresAt: ttlMs === undefined ? Infinity : this.#now() + ttlMs });
    const putBack = this.log.some((e) => (e.method === 'take' || e.method === 'fence') && e.value === value);
    this.#log('save', key, value, version, putBack, rewrite);
  }

  #log(method: StoreEvent['method'], key: string, value: string | undefined, version: number, putBack = false, rewrite = false): void {
    this.log.push({ method, key, value, record: value === undefined ? undefined : decodeRecord(value), putBack, rewrite, version });
  }

  async #gate(method: Method, key: string): Promise<void> {
    const n = this.#calls++;
    await this.#s.schedule(Promise.resolve(), `${method} ${key.slice(0, 8)}`);
    const mayFail = this.#mode === 'all' || (this.#mode === 'saves' && method === 'save');
    if (mayFail && this.#plan[n % this.#plan.length]) {
      this.failures.push({ method, key });
      throw new PlannedAdapterFailure(method, key);
    }
  }

  #live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
