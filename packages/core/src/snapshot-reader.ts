import { decodeRecord, type DecodedRecord, type SnapshotPointer } from './codec.js';
import type { PersistQueue } from './persist-queue.js';
import type { CloseReason, SessionAdapter, Snapshot } from './types.js';

/** The close reasons a returning cookie may be restored from. */
export function isInvoluntary(reason: CloseReason): boolean {
  return reason !== 'closed';
}

/** Decides whether a snapshot found under a key may be restored. */
export type SnapshotFilter = (snapshot: Snapshot, pointer: SnapshotPointer | undefined) => boolean;

/**
 * Reads snapshots for restores: from the core's write queue first (a snapshot still waiting there
 * is restored from it), then from the adapter. A pointer is followed to the snapshot it names. The
 * record is read and checked before it is taken, so a refused snapshot stays where it is; the take is
 * atomic, so two processes cannot both restore one snapshot. Decoding errors propagate (the caller
 * reports them).
 */
export class SnapshotReader {
  readonly #adapter: SessionAdapter;
  readonly #queue: PersistQueue<Snapshot | undefined>;
  readonly #expiryOf: (closedAt: number) => number;

  /** @param expiryOf when a record closed at `closedAt` (ms since the epoch) stops being restorable. */
  constructor(adapter: SessionAdapter, queue: PersistQueue<Snapshot | undefined>, expiryOf: (closedAt: number) => number) {
    this.#adapter = adapter;
    this.#queue = queue;
    this.#expiryOf = expiryOf;
  }

  /** Takes the snapshot stored under `key` (or the one its pointer names) when `accept` agrees. */
  async take(key: string, accept: SnapshotFilter): Promise<Snapshot | undefined> {
    const record = await this.#load(key);
    if (record === undefined) return undefined;
    if (record.kind === 'snapshot') {
      return accept(record.snapshot, undefined) ? this.#takeMatching(key, record.snapshot.sessionId) : undefined;
    }
    const pointer = record.pointer;
    if (pointer.sessionId !== key || !isInvoluntary(pointer.reason)) return undefined;
    const target = await this.#load(pointer.key);
    if (target?.kind !== 'snapshot') return undefined;
    const snapshot = target.snapshot;
    if (snapshot.sessionId !== pointer.sessionId || !isInvoluntary(snapshot.reason)) return undefined;
    if (!accept(snapshot, pointer)) return undefined;
    const taken = await this.#takeMatching(pointer.key, pointer.sessionId);
    // The snapshot is ours now: a failure to delete the pointer must not lose it. A pointer left
    // behind is harmless (the snapshot it names is gone, and its session id is never reused).
    if (taken !== undefined) await this.#discard(key).catch(() => undefined);
    return taken;
  }

  async #load(key: string): Promise<DecodedRecord | undefined> {
    const text = this.#queue.peek(key) ?? (await this.#adapter.load(key));
    return text === undefined ? undefined : decodeRecord(text);
  }

  /** Takes `key`; if what was taken is no longer the snapshot of `sessionId` (replaced meanwhile), puts it back. */
  async #takeMatching(key: string, sessionId: string): Promise<Snapshot | undefined> {
    const text = await this.#takeText(key);
    if (text === undefined) return undefined;
    const record = decodeRecord(text);
    if (record.kind === 'snapshot' && record.snapshot.sessionId === sessionId) return record.snapshot;
    const closedAt = record.kind === 'snapshot' ? record.snapshot.closedAt : record.pointer.closedAt;
    await this.#queue.write(key, text, this.#expiryOf(closedAt), record.kind === 'snapshot' ? record.snapshot : undefined);
    return undefined;
  }

  async #takeText(key: string): Promise<string | undefined> {
    for (;;) {
      const queued = this.#queue.take(key);
      if (queued === undefined) return this.#adapter.take(key);
      if ('text' in queued) return queued.text;
      await queued.wait;
    }
  }

  async #discard(key: string): Promise<void> {
    if (!this.#queue.cancel(key)) await this.#adapter.delete(key);
  }
}
