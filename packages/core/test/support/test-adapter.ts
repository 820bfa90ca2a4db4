import type { Fence, SessionAdapter, VersionedValue, VersionedWrite } from '../../src/types.js';
import { decodeRecord, type DecodedRecord } from '../../src/codec.js';

interface Entry {
  value: string;
  /** ms since the epoch, or Infinity. */
  expiresAt: number;
}

/** One recorded call to the adapter. */
export interface AdapterCall {
  /** `saveIfNewer` is recorded as `'save'` (with its `version`), `takeVersioned` without a fence as `'take'`, with one as `'fence'`. */
  method: 'save' | 'load' | 'take' | 'fence' | 'delete' | 'close';
  key?: string;
  ttlMs?: number | undefined;
  /** The version of a `saveIfNewer`, or of a fence. */
  version?: number;
}

/**
 * A tiny in-test SessionAdapter: a Map with TTLs against an injectable clock, a log of calls, and
 * switchable failures. Core tests use it instead of @reprise/memory (core must not depend on it).
 * It has no conditional writes (`ordered` false in the core); {@link OrderedTestAdapter} adds them.
 */
export class TestAdapter implements SessionAdapter {
  readonly name: string = 'test';
  readonly atomic = true;
  /**
   * An in-process Map dies with the process, like `MemoryAdapter`: checkpoints default to off, so
   * the tests of closes and restores see only their own writes. Checkpoint tests set `checkpointInterval`.
   */
  ephemeral = true;
  readonly entries = new Map<string, Entry>();
  readonly calls: AdapterCall[] = [];
  /** When true, save() rejects. */
  failSaves = false;
  /** When true, load() and take() reject. */
  failReads = false;
  /** When true, delete() rejects. */
  failDeletes = false;
  /** When set, save() rejects with this error (for non-transient failures). */
  saveError: Error | undefined;
  /** When set, save() waits for this promise before storing. */
  saveGate: Promise<void> | undefined;
  /** When set, take() waits for this promise before reading. */
  takeGate: Promise<void> | undefined;
  /** Each load() waits for the next promise of this list (taken out), while there is one. */
  readonly loadGates: Promise<void>[] = [];
  /** Each take() (fences included) waits for the next promise of this list (taken out), while there is one. */
  readonly takeGates: Promise<void>[] = [];
  closed = 0;
  protected readonly now: () => number;

  constructor(now: () => number = () => Date.now()) {
    this.now = now;
  }

  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    this.calls.push({ method: 'save', key, ttlMs });
    await this.beforeSave(key);
    this.store(key, value, ttlMs);
  }

  async load(key: string): Promise<string | undefined> {
    this.calls.push({ method: 'load', key });
    const gate = this.loadGates.shift();
    if (gate !== undefined) await gate;
    if (this.failReads) throw new Error(`load of ${key} failed (test)`);
    return this.read(key);
  }

  async take(key: string): Promise<string | undefined> {
    this.calls.push({ method: 'take', key });
    await this.beforeTake(key);
    const value = this.read(key);
    this.entries.delete(key);
    return value;
  }

  async delete(key: string): Promise<boolean> {
    this.calls.push({ method: 'delete', key });
    if (this.failDeletes) throw new Error(`delete of ${key} failed (test)`);
    return this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.calls.push({ method: 'close' });
    this.closed += 1;
  }

  /** Stores a raw value (for corrupt-record tests). */
  put(key: string, value: string, ttlMs?: number): void {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.now() + ttlMs });
  }

  /** The stored value, decoded; `undefined` when missing. */
  record(key: string): DecodedRecord | undefined {
    const value = this.read(key);
    return value === undefined ? undefined : decodeRecord(value);
  }

  /** Keys currently readable. */
  keys(): string[] {
    return [...this.entries.keys()].filter((key) => this.read(key) !== undefined);
  }

  /** Calls of one method. */
  callsOf(method: AdapterCall['method']): AdapterCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  protected async beforeSave(key: string): Promise<void> {
    if (this.saveGate !== undefined) await this.saveGate;
    if (this.saveError !== undefined) throw this.saveError;
    if (this.failSaves) throw new Error(`save of ${key} failed (test)`);
  }

  protected async beforeTake(key: string): Promise<void> {
    if (this.takeGate !== undefined) await this.takeGate;
    const gate = this.takeGates.shift();
    if (gate !== undefined) await gate;
    if (this.failReads) throw new Error(`take of ${key} failed (test)`);
  }

  protected store(key: string, value: string, ttlMs: number | undefined): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.now() + ttlMs });
  }

  protected read(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }
}

/**
 * A {@link TestAdapter} with ordered (conditional) writes, as `SessionAdapter` describes them: a
 * version per key, floors left by takes, fences. `saveIfNewer` honours `failSaves`/`saveGate`,
 * `takeVersioned` honours `failReads`/`takeGate` (fences included).
 */
export class OrderedTestAdapter extends TestAdapter {
  override readonly name: string = 'ordered-test';
  /** Version of each stored value (0 for a plain `save`). */
  readonly versions = new Map<string, number>();
  /** Keys without a value that keep a version (left by takes and fences). */
  readonly floors = new Map<string, { version: number; expiresAt: number }>();
  /** When set, fences (`takeVersioned` with a fence) wait for this promise, after `takeGate`. */
  fenceGate: Promise<void> | undefined;

  override async save(key: string, value: string, ttlMs?: number): Promise<void> {
    await super.save(key, value, ttlMs);
    this.versions.set(key, 0);
    this.floors.delete(key);
  }

  async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    this.calls.push({ method: 'save', key, ttlMs, version });
    await this.beforeSave(key);
    if (!this.accepts(key, version)) return false;
    this.store(key, value, ttlMs);
    this.versions.set(key, version);
    this.floors.delete(key);
    return true;
  }

  override async take(key: string): Promise<string | undefined> {
    return (await this.takeVersioned(key))?.value;
  }

  async takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    this.calls.push(fence === undefined ? { method: 'take', key } : { method: 'fence', key, version: fence.version, ttlMs: fence.ttlMs });
    await this.beforeTake(key);
    if (fence !== undefined && this.fenceGate !== undefined) await this.fenceGate;
    const value = this.read(key);
    const expiresAt = this.entries.get(key)?.expiresAt ?? -Infinity;
    const version = value === undefined ? (this.floor(key)?.version ?? 0) : (this.versions.get(key) ?? 0);
    const takes = value !== undefined && (fence === undefined || version <= fence.version);
    if (value !== undefined && !takes) return undefined;
    if (value === undefined && fence === undefined) return undefined;
    this.entries.delete(key);
    this.versions.delete(key);
    const floorVersion = Math.max(version, fence?.version ?? 0);
    const fenceDeadline = fence === undefined ? -Infinity : fence.ttlMs === undefined ? Infinity : this.now() + fence.ttlMs;
    const floorDeadline = Math.max(value === undefined ? (this.floor(key)?.expiresAt ?? -Infinity) : expiresAt, fenceDeadline);
    if (floorVersion > 0) this.floors.set(key, { version: floorVersion, expiresAt: floorDeadline });
    else this.floors.delete(key);
    return takes ? { value: value!, version } : undefined;
  }

  override async delete(key: string): Promise<boolean> {
    const existed = await super.delete(key);
    this.versions.delete(key);
    this.floors.delete(key);
    return existed;
  }

  /** The version of `key` now: its value's, its floor's, or 0. */
  versionOf(key: string): number {
    return this.read(key) !== undefined ? (this.versions.get(key) ?? 0) : (this.floor(key)?.version ?? 0);
  }

  /** Writes a raw value at `version` (a late write landing, for example). */
  putVersioned(key: string, value: string, version: number, ttlMs?: number): void {
    this.put(key, value, ttlMs);
    this.versions.set(key, version);
    this.floors.delete(key);
  }

  protected accepts(key: string, version: number): boolean {
    if (this.read(key) !== undefined) return (this.versions.get(key) ?? 0) < version;
    return (this.floor(key)?.version ?? 0) <= version;
  }

  private floor(key: string): { version: number; expiresAt: number } | undefined {
    const floor = this.floors.get(key);
    if (floor !== undefined && this.now() >= floor.expiresAt) {
      this.floors.delete(key);
      return undefined;
    }
    return floor;
  }
}

/**
 * An {@link OrderedTestAdapter} that also writes batches (`saveManyIfNewer`): each call is logged
 * with its size in `batches`, waits for the next of `batchGates` (taken out) while there is one, and
 * fails as a whole when `failSaves` is set; otherwise each entry is applied as `saveIfNewer` would.
 */
export class BatchingTestAdapter extends OrderedTestAdapter {
  override readonly name: string = 'batching-test';
  /** Sizes of the `saveManyIfNewer` calls, in order. */
  readonly batches: number[] = [];
  /** Batches started and not yet settled. */
  inFlight = 0;
  /** Most batches in flight at once so far. */
  maxInFlight = 0;
  /** Each batch waits for the next promise of this list (taken out), while there is one. */
  readonly batchGates: Promise<void>[] = [];
  /** When set, `saveManyIfNewer` resolves this instead of its results (a broken adapter). */
  brokenResult: unknown;

  async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    this.batches.push(writes.length);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const gate = this.batchGates.shift();
      if (gate !== undefined) await gate;
      await this.beforeSave(`a batch of ${writes.length}`);
      if (this.brokenResult !== undefined) return this.brokenResult as boolean[];
      return writes.map((w) => {
        if (!this.accepts(w.key, w.version)) return false;
        this.store(w.key, w.value, w.ttlMs);
        this.versions.set(w.key, w.version);
        this.floors.delete(w.key);
        return true;
      });
    } finally {
      this.inFlight -= 1;
    }
  }
}
