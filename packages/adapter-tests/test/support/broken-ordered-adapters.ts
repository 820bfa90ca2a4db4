import type { Fence, SessionAdapter } from '@reprise/core';
import { OrderedMapAdapter } from './ordered-map-adapter.js';
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
  return { ...unordered(adapter), name: 'half-ordered', saveIfNewer: (key, value, version, ttlMs) => adapter.saveIfNewer(key, value, version, ttlMs) };
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
