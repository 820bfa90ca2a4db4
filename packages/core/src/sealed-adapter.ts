import { openRecord, sealRecord } from './snapshot-cipher.js';
import type { SnapshotEncryption } from './snapshot-keys.js';
import type { SessionAdapter, VersionedValue } from './types.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The adapter as the core sees it when `snapshotKeys` is set: every value written is sealed for its
 * key (see `snapshot-cipher.ts`) and every value read is opened, so nothing the core writes reaches
 * the store in plaintext, whatever the path (a close, a checkpoint, a pointer, a batch, a put-back, a
 * retry), and versions, TTLs and floors stay the adapter's own (they are outside the value).
 * It offers exactly the optional operations the adapter offers (so the core sees the same
 * `ordered`), and forwards `name`, `atomic` and `ephemeral`.
 *
 * A value that does not open rejects the read with a `CodecError` (`ERR_REPRISE_SNAPSHOT_AUTH`),
 * which the core handles as a corrupt snapshot (reported, skipped: a fresh session). A take (the core
 * takes a returning cookie's record before it reads it) puts such a value back first, exactly as it
 * was (same sealed text; on an ordered adapter at its version, over the floor the take left, so it is
 * refused if anything newer came meanwhile), living `refusedTtlMs()` from then on: it stays for
 * inspection until a newer write replaces it, also when the core abandoned that take at its timeout.
 * A fence's take (the core's own write, fenced) is not put back. Without `snapshotKeys` the core uses
 * the adapter itself: no cost.
 * @param refusedTtlMs ms a value put back because it did not open stays (the manager's `snapshotTtl`).
 */
export function sealedAdapter(adapter: SessionAdapter, encryption: SnapshotEncryption, refusedTtlMs: () => number): SessionAdapter {
  const seal = (key: string, value: string): string => sealRecord(value, key, encryption.keyring);
  const open = (key: string, value: string | undefined): string | undefined =>
    value === undefined ? undefined : openRecord(value, key, encryption);
  /** Opens a value taken from `key`; one that does not open is handed to `putBack` (failures ignored) before the error propagates. */
  const openTaken = async (key: string, taken: VersionedValue, putBack?: () => Promise<unknown>): Promise<VersionedValue> => {
    try {
      return { value: openRecord(taken.value, key, encryption), version: taken.version };
    } catch (error) {
      await putBack?.().catch(() => undefined);
      throw error;
    }
  };
  const sealed: Writable<SessionAdapter> = {
    name: adapter.name,
    save: (key, value, ttlMs) => adapter.save(key, seal(key, value), ttlMs),
    load: async (key) => open(key, await adapter.load(key)),
    take: async (key) => {
      const value = await adapter.take(key);
      if (value === undefined) return undefined;
      // Unordered: put back unless the key holds a value again.
      const putBack = async (): Promise<void> => {
        if ((await adapter.load(key)) === undefined) await adapter.save(key, value, refusedTtlMs());
      };
      return (await openTaken(key, { value, version: 0 }, putBack)).value;
    },
    delete: (key) => adapter.delete(key),
  };
  if (adapter.atomic !== undefined) sealed.atomic = adapter.atomic;
  if (adapter.ephemeral !== undefined) sealed.ephemeral = adapter.ephemeral;
  if (typeof adapter.close === 'function') sealed.close = () => adapter.close!();
  if (typeof adapter.saveIfNewer === 'function') {
    sealed.saveIfNewer = (key, value, version, ttlMs) => adapter.saveIfNewer!(key, seal(key, value), version, ttlMs);
  }
  if (typeof adapter.takeVersioned === 'function') {
    sealed.takeVersioned = async (key, fence) => {
      const taken = await (fence === undefined ? adapter.takeVersioned!(key) : adapter.takeVersioned!(key, fence));
      if (taken === undefined) return undefined;
      const putBack =
        fence === undefined && typeof adapter.saveIfNewer === 'function'
          ? () => adapter.saveIfNewer!(key, taken.value, taken.version, refusedTtlMs())
          : undefined;
      return openTaken(key, taken, putBack);
    };
  }
  if (typeof adapter.saveManyIfNewer === 'function') {
    sealed.saveManyIfNewer = (writes) =>
      adapter.saveManyIfNewer!(writes.map((write) => ({ ...write, value: seal(write.key, write.value) })));
  }
  return sealed;
}
