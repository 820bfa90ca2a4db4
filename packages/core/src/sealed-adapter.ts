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
 * which the core handles as a corrupt snapshot (reported, skipped: a fresh session). (A take that the
 * core abandoned at `adapterTimeout` and that lands later with such a value is dropped unreported:
 * the core reads a record, and refuses it, before it takes it.) Without `snapshotKeys` the core uses
 * the adapter itself: no cost.
 */
export function sealedAdapter(adapter: SessionAdapter, encryption: SnapshotEncryption): SessionAdapter {
  const seal = (key: string, value: string): string => sealRecord(value, key, encryption.keyring);
  const open = (key: string, value: string | undefined): string | undefined =>
    value === undefined ? undefined : openRecord(value, key, encryption);
  const openVersioned = (key: string, taken: VersionedValue | undefined): VersionedValue | undefined =>
    taken === undefined ? undefined : { value: openRecord(taken.value, key, encryption), version: taken.version };
  const sealed: Writable<SessionAdapter> = {
    name: adapter.name,
    save: (key, value, ttlMs) => adapter.save(key, seal(key, value), ttlMs),
    load: async (key) => open(key, await adapter.load(key)),
    take: async (key) => open(key, await adapter.take(key)),
    delete: (key) => adapter.delete(key),
  };
  if (adapter.atomic !== undefined) sealed.atomic = adapter.atomic;
  if (adapter.ephemeral !== undefined) sealed.ephemeral = adapter.ephemeral;
  if (typeof adapter.close === 'function') sealed.close = () => adapter.close!();
  if (typeof adapter.saveIfNewer === 'function') {
    sealed.saveIfNewer = (key, value, version, ttlMs) => adapter.saveIfNewer!(key, seal(key, value), version, ttlMs);
  }
  if (typeof adapter.takeVersioned === 'function') {
    sealed.takeVersioned = async (key, fence) =>
      openVersioned(key, await (fence === undefined ? adapter.takeVersioned!(key) : adapter.takeVersioned!(key, fence)));
  }
  if (typeof adapter.saveManyIfNewer === 'function') {
    sealed.saveManyIfNewer = (writes) =>
      adapter.saveManyIfNewer!(writes.map((write) => ({ ...write, value: seal(write.key, write.value) })));
  }
  return sealed;
}
