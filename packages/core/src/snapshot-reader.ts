import { decodeRecord, type DecodedRecord, type SnapshotPointer } from './codec.js';
import type { PersistQueue } from './persist-queue.js';
import type { CloseReason, SessionAdapter, Snapshot } from './types.js';

/** The close reasons a returning cookie may be restored from. */
export function isInvoluntary(reason: CloseReason): boolean {
  return reason !== 'closed';
}

/** A snapshot taken for a restore; `pointer` is the key of the pointer it was reached through, if any. */
export interface TakenSnapshot {
  readonly snapshot: Snapshot;
  readonly pointer: string | undefined;
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

  /**
   * Takes the snapshot stored under `key` (or the one its pointer names) when `accept` agrees. A
   * pointer it came through is left in place: the caller deletes it with {@link discard} once the
   * snapshot is restored, or leaves it when the snapshot is put back.
   */
  async take(key: string, accept: SnapshotFilter): Promise<TakenSnapshot | undefined> {
    const record = await this.#load(key);
    if (record === undefined) return undefined;
    if (record.kind === 'snapshot') {
      if (!accept(record.snapshot, undefined)) return undefined;
      const snapshot = await this.#takeAccepted(key, (taken) => accept(taken, undefined));
      return snapshot === undefined ? undefined : { snapshot, pointer: undefined };
    }
    const pointer = record.pointer;
    if (pointer.sessionId !== key || !isInvoluntary(pointer.reason)) return undefined;
    const target = await this.#load(pointer.key);
    if (target?.kind !== 'snapshot') return undefined;
    const follows = (candidate: Snapshot): boolean =>
      candidate.sessionId === pointer.sessionId && isInvoluntary(candidate.reason) && accept(candidate, pointer);
    if (!follows(target.snapshot)) return undefined;
    const snapshot = await this.#takeAccepted(pointer.key, follows);
    return snapshot === undefined ? undefined : { snapshot, pointer: key };
  }

  /**
   * Deletes the pointer under `key` once its snapshot is restored. A failure is ignored: the snapshot
   * is restored already, and a pointer left behind leads nowhere (its snapshot is gone, and its
   * session id is never reused).
   */
  async discard(key: string | undefined): Promise<void> {
    if (key === undefined) return;
    if (!this.#queue.cancel(key)) await this.#adapter.delete(key).catch(() => undefined);
  }

  async #load(key: string): Promise<DecodedRecord | undefined> {
    const text = this.#queue.peek(key) ?? (await this.#adapter.load(key));
    return text === undefined ? undefined : decodeRecord(text);
  }

  /**
   * Takes `key`. What was taken is checked again (another close may have replaced the record between
   * the read and the take); if `accept` refuses it now, it is put back.
   */
  async #takeAccepted(key: string, accept: (snapshot: Snapshot) => boolean): Promise<Snapshot | undefined> {
    const text = await this.#takeText(key);
    if (text === undefined) return undefined;
    const record = decodeRecord(text);
    if (record.kind === 'snapshot' && accept(record.snapshot)) return record.snapshot;
    const closedAt = record.kind === 'snapshot' ? record.snapshot.closedAt : record.pointer.closedAt;
    await this.putBack(key, text, this.#expiryOf(closedAt), record.kind === 'snapshot' ? record.snapshot : undefined);
    return undefined;
  }

  /**
   * Writes a taken record back under `key`, unless something newer is there already: a write waiting
   * in the queue, or a value in the store (the key was emptied by the take, so whatever is there was
   * written since). When the store cannot be read, the record goes through the queue all the same.
   * Resolves `true` when it was put back.
   */
  async putBack(key: string, text: string, expiresAt: number, payload: Snapshot | undefined): Promise<boolean> {
    if (this.#queue.peek(key) !== undefined) return false;
    const current = await this.#adapter.load(key).catch(() => undefined);
    if (current !== undefined) return false;
    await this.#queue.write(key, text, expiresAt, payload);
    return true;
  }

  async #takeText(key: string): Promise<string | undefined> {
    for (;;) {
      const queued = this.#queue.take(key);
      if (queued === undefined) return this.#adapter.take(key);
      if ('text' in queued) return queued.text;
      await queued.wait;
    }
  }
}
