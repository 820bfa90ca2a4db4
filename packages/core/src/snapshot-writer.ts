import { decodeRecord, encodePointer, encodeSnapshot } from './codec.js';
import { CodecError, PersistError, type RepriseError } from './errors.js';
import { describeKey } from './redact.js';
import type { KeyLock } from './key-lock.js';
import type { PersistQueue } from './persist-queue.js';
import { isInvoluntary, type SnapshotReader, type TakenSnapshot } from './snapshot-reader.js';
import type { Store } from './store.js';
import type { Snapshot } from './types.js';
import type { VersionClock } from './version-clock.js';

/** What a failed read of a shared key gives: the store's error. */
class Unreadable {
  constructor(readonly error: unknown) {}
}

/** What the writer needs of its manager. */
export interface WriterContext {
  readonly store: Store;
  readonly queue: PersistQueue<Snapshot | undefined>;
  readonly reader: SnapshotReader;
  readonly clock: VersionClock;
  /**
   * The version of the next write under `key` (the clock's, or, with a coordinator, the lease's term
   * for a session id this instance leases; a promise while that lease is being claimed).
   */
  version(key: string): number | Promise<number>;
  /** Per-key lock shared with the reader (which takes through pointers under it). */
  readonly locks: KeyLock;
  /** ms a snapshot stays restorable. */
  snapshotTtl(): number;
  /** Bound on an encoded snapshot, bytes. */
  maxSnapshotBytes(): number;
  /** Reports a handled problem (a value dropped by the codec). */
  report(error: RepriseError): void;
  /** Hands a snapshot that cannot be written to the application. */
  gaveUp(snapshot: Snapshot, error: RepriseError): void;
  /** Counts a snapshot replaced by a newer one of its key before it was written. */
  superseded(snapshot: Snapshot): void;
}

/**
 * Writes the snapshots of closing sessions: encodes them, gives each write a version, leaves the
 * pointer an involuntary close with a `persistKey` of its own needs, and applies the shared-key rule.
 *
 * **Shared keys.** Several sessions may share one `persistKey` (a user logged in on two devices).
 * A close writing such a key first moves a snapshot of *another* session found there, left by an
 * involuntary close (so that session's cookie leads to it through its pointer), under that session's
 * own id, where its cookie still finds it; then the key takes the new snapshot. So the key always
 * holds the newest context of the identity for `restore(key)`, and no visitor's context is destroyed.
 * (A snapshot left there by an explicit close is replaced: the newest saved state of an identity wins.)
 * Writes of one key are serialized in this process.
 */
export class SnapshotWriter {
  readonly #c: WriterContext;

  constructor(context: WriterContext) {
    this.#c = context;
  }

  /**
   * Writes `snapshot` (and the pointer under its session id when its key is another). Resolves after
   * the first attempt. A snapshot under its own session id goes to the queue at once, with no promise
   * of its own around the queue's.
   */
  write(snapshot: Snapshot): Promise<void> {
    let text: string;
    try {
      const encoded = encodeSnapshot(snapshot, this.#c.maxSnapshotBytes());
      for (const dropped of encoded.dropped) this.#c.report(dropped);
      text = encoded.text;
    } catch (error) {
      this.#c.gaveUp(snapshot, error as RepriseError);
      return Promise.resolve();
    }
    const expiresAt = snapshot.closedAt + this.#c.snapshotTtl();
    if (snapshot.key === snapshot.sessionId) return this.#queueWrite(snapshot.key, text, expiresAt, snapshot);
    return this.#writeShared(snapshot, text, expiresAt);
  }

  /** {@link write} of a snapshot under a key of its own (see the class comment), under the key's lock. */
  async #writeShared(snapshot: Snapshot, text: string, expiresAt: number): Promise<void> {
    await this.#c.locks.run(snapshot.key, async () => {
      const displaced = await this.#displace(snapshot.key, snapshot.sessionId);
      if (displaced instanceof Unreadable) {
        await this.#divert(text, snapshot, displaced.error);
        return;
      }
      const writes = [this.#queueWrite(snapshot.key, text, expiresAt, snapshot)];
      // Inside the lock: a later close of the key moves this snapshot home with a newer version
      // than this pointer, so the move is never overwritten by it.
      if (isInvoluntary(snapshot.reason)) writes.push(this.#writePointer(snapshot, expiresAt));
      await Promise.all(writes);
    });
  }

  /**
   * Puts a snapshot taken for a restore that could not use it back where it was, exactly (same
   * version). When its key is shared and meanwhile holds another record (or held a newer one, so the
   * store refuses the put-back), an involuntary snapshot goes under its own session id instead (where
   * its cookie finds it), by the shared-key rule; an explicit one is superseded.
   */
  async putBack({ key, text, snapshot, version, queued, queuedAt, lateFence }: TakenSnapshot): Promise<void> {
    if (key === snapshot.sessionId) {
      await this.#c.reader.putBack(key, text, version, snapshot, { queued, queuedAt, lateFence });
      return;
    }
    await this.#c.locks.run(key, async () => {
      const waiting = this.#c.queue.peek(key);
      // The queue holds this very record (a late take of a write it retries, or has in flight): it
      // goes back there, not home (it would then be in two places).
      if (waiting === text) {
        if (lateFence === true || this.#c.queue.inFlight(key))
          await this.#c.reader.putBack(key, text, version, snapshot, { queued: true, lateFence });
        return;
      }
      // Taken from the queue with nothing queued for the key since, it is newer than what the store holds.
      const newest = queued === true && queuedAt !== undefined && !this.#c.queue.queuedSince(key, queuedAt);
      const found = waiting ?? (newest ? undefined : await this.#peek(key));
      if (found === undefined) await this.#putBackOrHome(key, text, version, snapshot, queued, queuedAt);
      else if (found instanceof Unreadable) await this.#divert(text, snapshot, found.error);
      // The key holds this very snapshot again (a late take put it back, or the write it was copied from landed): one copy is enough.
      else if (sameSnapshot(typeof found === 'string' ? snapshotIn(found) : found, snapshot)) return;
      else if (isInvoluntary(snapshot.reason)) await this.#moveHome(text, snapshot);
      else if (this.#foreign(typeof found === 'string' ? snapshotIn(found) : found, snapshot.sessionId))
        await this.#putBackOver(text, snapshot, version);
      else this.#c.superseded(snapshot);
    });
  }

  /**
   * An explicit close's snapshot goes back to its shared key, which meanwhile took another session's
   * involuntary snapshot (put back there, or written by its close): as at a close, that one moves
   * under its own id (where its cookie finds it), and the key takes this one back.
   */
  async #putBackOver(text: string, snapshot: Snapshot, version: number): Promise<void> {
    const displaced = await this.#displace(snapshot.key, snapshot.sessionId);
    if (displaced instanceof Unreadable) await this.#divert(text, snapshot, displaced.error);
    else await this.#c.reader.putBack(snapshot.key, text, version, snapshot);
  }

  /**
   * Writes a checkpoint (`snapshot.reason` `'checkpoint'`, encoded as `text`) of a live session under
   * its session id, where its cookie finds it after a crash; never under a `persistKey` of its own,
   * which could displace or be taken by another session of the same identity while this one lives.
   * A restore from it keeps the `persistKey` (the snapshot names it). Resolves after the first attempt.
   */
  checkpoint(snapshot: Snapshot, text: string): Promise<void> {
    return this.#queueWrite(snapshot.sessionId, text, snapshot.closedAt + this.#c.snapshotTtl(), snapshot);
  }

  /**
   * Erases the checkpoint under `sessionId` (an explicit close, `persist = false`, a regenerate): an
   * ordered write of a pointer that restores nothing (reason `'closed'`), so that no pending or late
   * checkpoint of the session can land over it. Resolves after the first attempt.
   */
  erase(sessionId: string, closedAt: number): Promise<void> {
    const text = encodePointer({ version: 1, key: sessionId, sessionId, reason: 'closed', closedAt });
    return this.#queueWrite(sessionId, text, closedAt + this.#c.snapshotTtl(), undefined);
  }

  /**
   * Puts a snapshot back under its shared key. Refused when the key has moved on meanwhile (a newer
   * snapshot, taken or not): an involuntary one goes home then, unless the key holds this very
   * snapshot again (landed meanwhile: it stays there, once). A refusal of the first attempt is
   * handled before this resolves, still under the key's lock; one of a later retry, when it comes.
   */
  async #putBackOrHome(
    key: string,
    text: string,
    version: number,
    snapshot: Snapshot,
    queued: boolean | undefined,
    queuedAt: number | undefined,
  ): Promise<void> {
    let settled = false;
    let refusedAtOnce = false;
    const home = (): void => {
      if (settled) void this.#homeUnlessThere(key, text, snapshot);
      else refusedAtOnce = true;
    };
    await this.#c.reader.putBack(key, text, version, snapshot, {
      refused: isInvoluntary(snapshot.reason) ? home : undefined,
      queued,
      queuedAt,
    });
    settled = true;
    if (refusedAtOnce) await this.#homeUnlessThere(key, text, snapshot);
  }

  /** Moves a put-back the key refused home, unless what the key holds is that very snapshot. */
  async #homeUnlessThere(key: string, text: string, snapshot: Snapshot): Promise<void> {
    const found = await this.#peek(key);
    if (!(found instanceof Unreadable) && sameSnapshot(found, snapshot)) return;
    await this.#moveHome(text, snapshot);
  }

  /** Writes an involuntary snapshot under its own session id, where its cookie finds it. */
  async #moveHome(text: string, snapshot: Snapshot): Promise<void> {
    await this.#queueWrite(snapshot.sessionId, text, snapshot.closedAt + this.#c.snapshotTtl(), snapshot);
  }

  /**
   * Queues the write of `text` under `key` with the next version of the key: at once when that
   * version is known (no coordinator, or the lease is held), else once the lease's claim has settled.
   */
  #queueWrite(key: string, text: string, expiresAt: number, payload: Snapshot | undefined): Promise<void> {
    let version: number | Promise<number>;
    try {
      version = this.#c.version(key);
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof version === 'number') return this.#c.queue.write({ key, text, version, expiresAt, payload });
    return version.then((known) => this.#c.queue.write({ key, text, version: known, expiresAt, payload }));
  }

  async #writePointer(snapshot: Snapshot, expiresAt: number): Promise<void> {
    const { key, sessionId, reason, closedAt } = snapshot;
    const text = encodePointer({ version: 1, key, sessionId, reason, closedAt });
    await this.#queueWrite(sessionId, text, expiresAt, undefined);
  }

  /**
   * Moves another session's involuntary snapshot found under `key` to that session's id (see the
   * class comment). {@link Unreadable} when the key cannot be read or taken now: it may hold another
   * session's only copy, so it must not be overwritten blindly.
   */
  async #displace(key: string, sessionId: string): Promise<true | Unreadable> {
    const found = await this.#peek(key);
    if (found instanceof Unreadable) return found;
    if (!this.#foreign(found, sessionId)) return true;
    let taken: Awaited<ReturnType<SnapshotReader['takeValue']>>;
    try {
      taken = await this.#c.reader.takeValue(key);
    } catch (error) {
      return new Unreadable(error);
    }
    if (taken === undefined) return true;
    const record = decodeRecord(taken.value);
    if (record.kind === 'snapshot' && this.#foreign(record.snapshot, sessionId)) await this.#moveHome(taken.value, record.snapshot);
    return true;
  }

  /**
   * The shared key could not be read: an involuntary snapshot goes under its own id (its cookie finds
   * it there; `restore(key)` does not), an explicit close's to `'persistFailed'` (only the key could
   * reach it, and the key is not written blindly).
   */
  async #divert(text: string, snapshot: Snapshot, cause: unknown): Promise<void> {
    if (isInvoluntary(snapshot.reason)) {
      await this.#moveHome(text, snapshot);
      return;
    }
    const error = new PersistError(
      describeKey(snapshot.key),
      `snapshot ${describeKey(snapshot.key)} not written: the shared key could not be read, and it may hold another session's only copy`,
      { cause },
    );
    this.#c.gaveUp(snapshot, error);
  }

  /** The snapshot under `key`, `undefined` when it holds none (or an unreadable record), {@link Unreadable} when the store failed. */
  async #peek(key: string): Promise<Snapshot | undefined | Unreadable> {
    let text: string | undefined;
    try {
      text = this.#c.queue.peek(key) ?? (await this.#c.store.load(key));
    } catch (error) {
      // A record that encryption at rest refuses is unreadable like a corrupt one: not a store failure.
      return error instanceof CodecError ? undefined : new Unreadable(error);
    }
    return text === undefined ? undefined : snapshotIn(text);
  }

  #foreign(snapshot: Snapshot | undefined, sessionId: string): snapshot is Snapshot {
    return snapshot !== undefined && snapshot.sessionId !== sessionId && isInvoluntary(snapshot.reason);
  }
}

/** The snapshot a record's text holds; `undefined` for a pointer or an unreadable record. */
function snapshotIn(text: string): Snapshot | undefined {
  try {
    const record = decodeRecord(text);
    return record.kind === 'snapshot' ? record.snapshot : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `found` is `snapshot` (the same session's record of the same moment and reason). */
function sameSnapshot(found: Snapshot | undefined, snapshot: Snapshot): boolean {
  return (
    found !== undefined &&
    found.sessionId === snapshot.sessionId &&
    found.closedAt === snapshot.closedAt &&
    found.reason === snapshot.reason
  );
}
