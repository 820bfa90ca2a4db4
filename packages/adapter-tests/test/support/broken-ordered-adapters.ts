import { adapterError, assertWrites } from '@reprise/core/adapter-kit';
import type { Fence, SessionAdapter, VersionedWrite } from '@reprise/core';
import { BatchMapAdapter, NAME, OrderedMapAdapter } from './ordered-map-adapter.js';
import type { StoredEntry } from './ordered-map-adapter.js';

/**
 * Ordered adapters with one defect each in the rules of ordered writes, built on the correct
 * {@link OrderedMapAdapter}, for proving that the suite's ordered checks catch them.
 */

/** `saveIfNewer()` ignores versions: it always stores (a plain upsert that resolves true). */
export class IgnoresVersions extends OrderedMapAdapter {
  protected override accepts(): boolean {
    return true;
  }
}

/** A take removes the key altogether: no floor, so a late older write lands after it. */
export class TakeLeavesNoFloor extends OrderedMapAdapter {
  protected override after(entry: StoredEntry | undefined, taken: boolean, fence: Fence | undefined): StoredEntry | undefined {
    return fence === undefined ? undefined : super.after(entry, taken, fence);
  }
}

/** A fence takes the value whatever its version (it forgets the `version <= fence` test). */
export class FenceTakesNewer extends OrderedMapAdapter {
  protected override takes(): boolean {
    return true;
  }
}

/** Versions compared as strings (`'9' > '10'`), as a store keeping them in a text field would. */
export class StringVersions extends OrderedMapAdapter {
  protected override accepts(entry: StoredEntry | undefined, version: number): boolean {
    if (entry === undefined) return true;
    const [held, given] = [String(entry.version), String(version)];
    return entry.value === undefined ? held <= given : held < given;
  }
}

/**
 * `saveIfNewer()` reads the version, then writes in a later turn (a round trip between a read and
 * a write, without a transaction or a script): correct one call at a time, racy under concurrency.
 */
export class RacySaveIfNewer extends OrderedMapAdapter {
  override async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    this.checkWrite(key, value, version, ttlMs);
    const accepted = this.accepts(this.read(key), version);
    await new Promise((resolve) => setImmediate(resolve));
    if (accepted) this.write(key, value, version, ttlMs);
    return accepted;
  }
}

/** Only `saveIfNewer()` and no `takeVersioned()`: half an ordered adapter (the interface check must fail it). */
export function halfOrdered(): SessionAdapter {
  const adapter = new OrderedMapAdapter();
  return {
    ...unordered(adapter),
    name: 'half-ordered',
    saveIfNewer: (key, value, version, ttlMs) => adapter.saveIfNewer(key, value, version, ttlMs),
  };
}

/** The fixture without its versioned methods: an unordered adapter. */
export function unordered(adapter: OrderedMapAdapter = new OrderedMapAdapter()): SessionAdapter {
  return {
    name: 'unordered',
    save: (key, value, ttlMs) => adapter.save(key, value, ttlMs),
    load: (key) => adapter.load(key),
    take: (key) => adapter.take(key),
    delete: (key) => adapter.delete(key),
    close: () => adapter.close(),
  };
}

/*
 * Batches (`saveManyIfNewer()`) with one defect each, built on the correct {@link BatchMapAdapter}
 * (whose single calls stay correct), for proving that the suite's checks of batches catch them.
 */

/** A batch that ignores versions: every entry is stored (a plain multi-row upsert) and resolves true. */
export class BatchIgnoresVersions extends BatchMapAdapter {
  protected override storeIfNewer({ key, value, version, ttlMs }: VersionedWrite): boolean {
    this.write(key, value, version, ttlMs);
    return true;
  }
}

/** Correct effects, but the results in reverse order (rows mapped back to entries the wrong way). */
export class BatchResultsReversed extends BatchMapAdapter {
  protected override applyBatch(writes: readonly VersionedWrite[]): boolean[] {
    return super.applyBatch(writes).reverse();
  }
}

/** A transaction: when any entry would be refused, nothing is stored and every entry resolves false. */
export class BatchAllOrNothing extends BatchMapAdapter {
  protected override applyBatch(writes: readonly VersionedWrite[]): boolean[] {
    if (writes.every(({ key, version }) => this.accepts(this.read(key), version))) return super.applyBatch(writes);
    return writes.map(() => false);
  }
}

/** Checks each entry only when it comes to it: the entries before a bad one are stored, then it rejects. */
export class BatchChecksAsItGoes extends BatchMapAdapter {
  override async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    if (!Array.isArray(writes)) assertWrites(NAME, writes);
    return writes.map((_, i) => this.storeIfNewer(assertWrites(NAME, writes.slice(0, i + 1))[i]!));
  }
}

/** Checks every field but not that each key comes once: a key twice is applied twice. */
export class BatchAllowsDuplicateKeys extends BatchMapAdapter {
  protected override checkWrites(writes: unknown): VersionedWrite[] {
    if (!Array.isArray(writes)) return assertWrites(NAME, writes);
    // Each entry checked alone: every field, but never against the other entries.
    return writes.map((write: unknown, i) => {
      try {
        return assertWrites(NAME, [write])[0]!;
      } catch (error) {
        throw adapterError(NAME, (error as Error).message.slice(NAME.length + 2).replace('writes[0]', `writes[${i}]`));
      }
    });
  }
}

/** Stores every entry without its TTL: batch-written values never expire. */
export class BatchIgnoresTtl extends BatchMapAdapter {
  protected override storeIfNewer(write: VersionedWrite): boolean {
    return super.storeIfNewer({ ...write, ttlMs: undefined });
  }
}

/** Treats a floor as no key at all (version 0): a batch entry lands under a take's or a fence's floor. */
export class BatchIgnoresFloors extends BatchMapAdapter {
  protected override storeIfNewer({ key, value, version, ttlMs }: VersionedWrite): boolean {
    const entry = this.read(key);
    if (entry?.value !== undefined && entry.version >= version) return false;
    this.write(key, value, version, ttlMs);
    return true;
  }
}

/**
 * Reads every key's version, then writes the accepted entries a turn later (one round trip to read,
 * one to write, no transaction, no script): correct one call at a time, racy under concurrency.
 */
export class RacyBatch extends BatchMapAdapter {
  override async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    const checked = this.checkWrites(writes);
    const accepted = checked.map(({ key, version }) => this.accepts(this.read(key), version));
    await new Promise((resolve) => setImmediate(resolve));
    checked.forEach(({ key, value, version, ttlMs }, i) => {
      if (accepted[i]) this.write(key, value, version, ttlMs);
    });
    return accepted;
  }
}

/** Applies only the first 100 entries (a page size of its own); the others resolve false, unstored. */
export class BatchStopsAt100 extends BatchMapAdapter {
  protected override applyBatch(writes: readonly VersionedWrite[]): boolean[] {
    return [...super.applyBatch(writes.slice(0, 100)), ...writes.slice(100).map(() => false)];
  }
}

/** An unordered adapter that has a batch anyway (the interface check must fail it). */
export function batchWithoutOrdered(): SessionAdapter {
  const adapter = new BatchMapAdapter();
  return { ...unordered(adapter), name: 'batch-without-ordered', saveManyIfNewer: (writes) => adapter.saveManyIfNewer(writes) };
}
