import { adapterError, assertKey, assertTtl, assertValue, assertVersion, assertWrites, describeValue } from '@reprise/core/adapter-kit';
import type { Fence, SessionAdapter, VersionedValue, VersionedWrite } from '@reprise/core';

export const NAME = 'ordered-map';

/** What the fixture keeps per key: a value (none: a floor), its version, and its deadline (ms since the epoch, Infinity for none). */
export interface StoredEntry {
  readonly value: string | undefined;
  readonly version: number;
  readonly expiresAt: number;
}

function deadline(ttlMs: number | undefined): number {
  return ttlMs === undefined ? Infinity : Date.now() + ttlMs;
}

function checkFence(fence: unknown): Fence | undefined {
  if (fence === undefined) return undefined;
  if (fence === null || typeof fence !== 'object')
    throw adapterError(NAME, `fence must be undefined or an object, got ${describeValue(fence)}`);
  const { version, ttlMs } = fence as { version?: unknown; ttlMs?: unknown };
  assertVersion(NAME, version);
  assertTtl(NAME, ttlMs);
  return { version, ttlMs };
}

/**
 * A small, correct ordered adapter on a `Map` (lazy expiry on `Date.now()`, no bound, no sweep),
 * written as a few overridable steps so that each broken variant changes one rule only. It passes
 * the whole suite (the control run proves it).
 */
export class OrderedMapAdapter implements SessionAdapter {
  readonly name: string = NAME;
  protected readonly entries = new Map<string, StoredEntry>();

  /** The live entry of `key` (an expired one is removed). */
  protected read(key: string): StoredEntry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Whether `saveIfNewer(…, version)` stores over `entry`. */
  protected accepts(entry: StoredEntry | undefined, version: number): boolean {
    if (entry === undefined) return true;
    return entry.value === undefined ? entry.version <= version : entry.version < version;
  }

  /** Whether `takeVersioned(…, fence)` takes the value of `entry`. */
  protected takes(entry: StoredEntry, fence: Fence | undefined): boolean {
    return fence === undefined || entry.version <= fence.version;
  }

  /** What a take leaves of `entry` (taken or not): the floor, or `undefined` for nothing. */
  protected after(entry: StoredEntry | undefined, taken: boolean, fence: Fence | undefined): StoredEntry | undefined {
    if (entry?.value !== undefined && !taken) return entry;
    const version = Math.max(entry?.version ?? 0, fence?.version ?? 0);
    const expiresAt = fence === undefined ? entry!.expiresAt : Math.max(entry?.expiresAt ?? -Infinity, deadline(fence.ttlMs));
    return version === 0 ? undefined : { value: undefined, version, expiresAt };
  }

  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    assertKey(NAME, key);
    assertValue(NAME, value);
    assertTtl(NAME, ttlMs);
    this.entries.set(key, { value, version: 0, expiresAt: deadline(ttlMs) });
  }

  async load(key: string): Promise<string | undefined> {
    assertKey(NAME, key);
    return this.read(key)?.value;
  }

  async take(key: string): Promise<string | undefined> {
    return (await this.takeVersioned(key))?.value;
  }

  async delete(key: string): Promise<boolean> {
    assertKey(NAME, key);
    const entry = this.read(key);
    this.entries.delete(key);
    return entry?.value !== undefined;
  }

  async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    this.checkWrite(key, value, version, ttlMs);
    if (!this.accepts(this.read(key), version)) return false;
    this.write(key, value, version, ttlMs);
    return true;
  }

  /** The argument checks of `saveIfNewer()`. */
  protected checkWrite(key: string, value: string, version: number, ttlMs: number | undefined): void {
    assertKey(NAME, key);
    assertValue(NAME, value);
    assertVersion(NAME, version);
    assertTtl(NAME, ttlMs);
  }

  /** Stores `value` at `version` unconditionally. */
  protected write(key: string, value: string, version: number, ttlMs: number | undefined): void {
    this.entries.set(key, { value, version, expiresAt: deadline(ttlMs) });
  }

  async takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    assertKey(NAME, key);
    const checked = checkFence(fence);
    const entry = this.read(key);
    if (entry?.value === undefined && checked === undefined) return undefined;
    const taken = entry?.value !== undefined && this.takes(entry, checked);
    const next = this.after(entry, taken, checked);
    if (next === undefined) this.entries.delete(key);
    else this.entries.set(key, next);
    return taken ? { value: entry!.value!, version: entry!.version } : undefined;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

/**
 * The fixture with the optional batch `saveManyIfNewer()`: the arguments checked first (core's
 * `assertWrites`), then each entry through the same steps as `saveIfNewer()`, all in one synchronous
 * step. Written as overridable steps too, so that each broken batch changes one thing only. It passes
 * the whole suite, batch checks included (the control run proves it).
 */
export class BatchMapAdapter extends OrderedMapAdapter {
  async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    return this.applyBatch(this.checkWrites(writes));
  }

  /** The argument check of `saveManyIfNewer()`: copies of the entries, or a throw naming the bad index. */
  protected checkWrites(writes: unknown): VersionedWrite[] {
    return assertWrites(NAME, writes);
  }

  /** Applies checked entries in order; one result per entry. */
  protected applyBatch(writes: readonly VersionedWrite[]): boolean[] {
    return writes.map((write) => this.storeIfNewer(write));
  }

  /** One entry: the rule of `saveIfNewer()`. */
  protected storeIfNewer({ key, value, version, ttlMs }: VersionedWrite): boolean {
    if (!this.accepts(this.read(key), version)) return false;
    this.write(key, value, version, ttlMs);
    return true;
  }
}
