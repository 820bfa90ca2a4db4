import { decodeRecord, type DecodedRecord, type SnapshotPointer } from './codec.js';
import type { KeyLock } from './key-lock.js';
import { isSessionId } from './session-id.js';
import type { PersistQueue, QueuedValue, WriteRequest } from './persist-queue.js';
import type { Store } from './store.js';
import type { Snapshot, SnapshotReason, VersionedValue } from './types.js';
import type { VersionClock } from './version-clock.js';

/** Whether a returning cookie may restore a snapshot of this reason: every close but an explicit one (`'closed'`), and checkpoints. */
export function isInvoluntary(reason: SnapshotReason): boolean {
  return reason !== 'closed';
}

/**
 * A snapshot taken for a restore: the key it was taken from, its text and version (what a put-back
 * writes there), and the key of the pointer it was reached through, if any.
 */
export interface TakenSnapshot {
  readonly snapshot: Snapshot;
  readonly key: string;
  readonly text: string;
  readonly version: number;
  readonly pointer: string | undefined;
  /**
   * The pointer `pointer` names, taken on the way (its text and version as it was in the store): a
   * restore that cannot use the snapshot puts it back with it, so the returning cookie still finds it.
   */
  readonly pointerRecord?: TakenRecord | undefined;
  /** Taken from the write queue (the store never had it): a put-back re-queues it, whatever the store holds. */
  readonly queued?: boolean;
  /** When taken from the queue: the queue's `sequence` then (see `PersistQueue.queuedSince`). */
  readonly queuedAt?: number | undefined;
  /** Taken out of the store by a take or fence of this process that landed after its timeout (see {@link PutBackOptions}). */
  readonly lateFence?: boolean;
  /** Read, not taken: the record is still in the store (see {@link SnapshotReader.keep}); nothing to put back. */
  readonly kept?: boolean;
}

/** A record taken from the store or the queue, as {@link SnapshotReader.putBack} writes it back. */
export interface TakenRecord {
  readonly text: string;
  readonly version: number;
  readonly queued?: boolean | undefined;
  readonly queuedAt?: number | undefined;
}

/** A value taken by {@link SnapshotReader.takeValue}, and whether it came from the write queue. */
export interface TakenValue extends VersionedValue {
  readonly queued: boolean;
  /** When taken from the queue: the queue's `sequence` then. */
  readonly queuedAt?: number | undefined;
}

/** How {@link SnapshotReader.putBack} puts a record back. */
export interface PutBackOptions {
  /** Called when the store refuses it (it holds something newer). */
  readonly refused?: (() => void) | undefined;
  /**
   * It was taken from the write queue: it goes back there even when the store (unordered) holds a
   * value, which is older (the queued write would have replaced it).
   */
  readonly queued?: boolean | undefined;
  /** When taken from the queue: the queue's `sequence` then (a put-back that nothing queued since is the newest). */
  readonly queuedAt?: number | undefined;
  /**
   * It was taken out of the store by a take or fence that landed after its timeout: the write the queue holds
   * for the key may be this very record, which had landed before the fence took it, so it is written
   * once more (refused if it is there again) rather than trusted to the queue.
   */
  readonly lateFence?: boolean | undefined;
}

/** Decides whether a snapshot found under a key may be restored. */
export type SnapshotFilter = (snapshot: Snapshot, pointer: SnapshotPointer | undefined) => boolean;

/**
 * Takes snapshots for restores: from the core's write queue first (a snapshot still waiting there is
 * restored from it, and the store is fenced against an earlier attempt that may still land), then
 * from the store. A pointer is followed to the snapshot it names. The take is atomic, so two
 * processes cannot both restore one snapshot. Under a session id the record is taken at once and
 * decoded once (a returning cookie costs one round trip); one refused after the take is put back
 * exactly (same version: refused if anything newer came meanwhile). Under a shared key the record is
 * read and checked before it is taken, so a refused snapshot (another session's) stays where it is,
 * and one that changed between the read and the take and is refused is put back exactly. Decoding
 * errors propagate (the caller reports them).
 */
export class SnapshotReader {
  readonly #store: Store;
  readonly #queue: PersistQueue<Snapshot | undefined>;
  readonly #clock: VersionClock;
  readonly #expiryOf: (closedAt: number) => number;
  readonly #now: () => number;
  readonly #locks: KeyLock;
  /**
   * Keys being fenced after a waiting write was taken from the queue: the value that write may have
   * left in the store is the same snapshot, so no other take of the key may run until the fence has
   * removed it.
   */
  readonly #fencing = new Map<string, { readonly version: number; readonly done: Promise<void> }>();

  /**
   * @param expiryOf when a record closed at `closedAt` (ms since the epoch) stops being restorable.
   * @param locks the per-key lock the writer holds while it writes a shared key (and moves snapshots home).
   */
  constructor(
    store: Store,
    queue: PersistQueue<Snapshot | undefined>,
    clock: VersionClock,
    expiryOf: (closedAt: number) => number,
    now: () => number,
    locks: KeyLock,
  ) {
    this.#store = store;
    this.#queue = queue;
    this.#clock = clock;
    this.#expiryOf = expiryOf;
    this.#now = now;
    this.#locks = locks;
  }

  /**
   * Takes the snapshot stored under `key` (or the one its pointer names) when `accept` agrees.
   *
   * With `takeFirst` (a returning cookie's restore: the hot path; its filter depends on nothing that
   * changes while the take is in flight, but time), under a session id whose key has nothing in the
   * write queue, the record is taken from the store first and decoded once: one round trip, one decode. A record
   * refused after the take (it does not decode, `accept` refuses it, or it is a pointer that leads
   * nowhere) is put back exactly (same version: refused if anything newer came meanwhile); a decoding
   * error then propagates. A pointer is followed with one more take, of the key it names; the pointer
   * itself is then out of the store already (see {@link TakenSnapshot.pointerRecord}).
   *
   * Otherwise the record is read and checked before it is taken, so a refused one stays where it is:
   * restores by key (whose filters look at the live sessions here, which may change during a take),
   * under a shared key (a `persistKey` of the application's: another session's snapshot there never
   * leaves the store), and when the queue holds a write for the key (read without a round trip; a
   * take from the queue may have to fence the store). A pointer it came through is then left in
   * place for {@link discard}.
   */
  async take(key: string, accept: SnapshotFilter, takeFirst = false): Promise<TakenSnapshot | undefined> {
    if (!takeFirst || !isSessionId(key) || this.#queue.peek(key) !== undefined) return this.#readThenTakeRecord(key, accept);
    const taken = await this.takeValue(key);
    if (taken === undefined) return undefined;
    let record: DecodedRecord;
    try {
      record = decodeRecord(taken.value);
    } catch (error) {
      // Taken already: a record that does not decode goes back where it was (for inspection), and the error propagates.
      await this.#putBackTaken(key, taken, undefined).catch(() => undefined);
      throw error;
    }
    if (record.kind === 'snapshot') {
      if (accept(record.snapshot, undefined)) {
        const { value: text, version, queued, queuedAt } = taken;
        return { snapshot: record.snapshot, key, text, version, queued, queuedAt, pointer: undefined };
      }
      await this.#putBackTaken(key, taken, record.snapshot);
      return undefined;
    }
    const pointer = record.pointer;
    if (pointer.sessionId !== key || !isInvoluntary(pointer.reason)) {
      await this.#putBackTaken(key, taken, undefined);
      return undefined;
    }
    const through = await this.#followPointer(key, pointer, accept);
    if (through?.pointer !== undefined) {
      const pointerRecord = { text: taken.value, version: taken.version, queued: taken.queued, queuedAt: taken.queuedAt };
      return { ...through, pointerRecord };
    }
    // Nothing to restore through it: the pointer goes back (unless the key holds something newer).
    if (through === undefined) await this.#putBackTaken(key, taken, undefined);
    return through;
  }

  /** The record under `key` read and checked, then taken (see {@link take}); a pointer it came through stays in place. */
  async #readThenTakeRecord(key: string, accept: SnapshotFilter): Promise<TakenSnapshot | undefined> {
    const record = await this.#load(key);
    if (record === undefined) return undefined;
    if (record.kind === 'snapshot') {
      if (!accept(record.snapshot, undefined)) return undefined;
      const takeIt = (): Promise<Omit<TakenSnapshot, 'pointer'> | undefined> =>
        this.#takeAccepted(key, (snapshot) => accept(snapshot, undefined));
      // A shared key is taken under its lock, like the writers and the pointer-led restores that use it.
      const taken = await (isSessionId(key) ? takeIt() : this.#locks.run(key, takeIt));
      return taken === undefined ? undefined : { ...taken, pointer: undefined };
    }
    const pointer = record.pointer;
    if (pointer.sessionId !== key || !isInvoluntary(pointer.reason)) return undefined;
    return this.#followPointer(key, pointer, accept);
  }

  /**
   * Takes the snapshot `pointer` (stored under `key`) names, under the lock of the key it names: a
   * close writing that key may be moving the snapshot home. When it was moved home (under `key`,
   * replacing the pointer) before the lock was ours, takes it from there (then `pointer` is
   * `undefined`: no pointer led to it).
   */
  async #followPointer(key: string, pointer: SnapshotPointer, accept: SnapshotFilter): Promise<TakenSnapshot | undefined> {
    const taken = await this.#locks.run(pointer.key, () => this.#takeThrough(pointer, accept));
    if (taken !== undefined) return { ...taken, pointer: key };
    const home = await this.#load(key);
    if (home?.kind !== 'snapshot' || !accept(home.snapshot, undefined)) return undefined;
    const moved = await this.#takeAccepted(key, (snapshot) => accept(snapshot, undefined));
    return moved === undefined ? undefined : { ...moved, pointer: undefined };
  }

  /** Puts a value taken from `key` and refused back exactly (see {@link putBack}). */
  #putBackTaken(key: string, taken: TakenValue, payload: Snapshot | undefined): Promise<void> {
    return this.putBack(key, taken.value, taken.version, payload, { queued: taken.queued, queuedAt: taken.queuedAt });
  }

  /**
   * Several instances: reads the snapshot stored directly under the session id `key` for the holder
   * of its lease, and leaves it there. The lease makes the restore exclusive already, and the record
   * stays in the store until the new owner's first write replaces it, so an owner that dies right
   * after its restore loses nothing that was stored (a take would have removed the only copy).
   * `'pointer'` when the record is a pointer (the caller takes through it: the snapshot it names
   * lives under a shared key); `undefined` when there is none or `accept` refuses it.
   */
  async keep(key: string, accept: SnapshotFilter): Promise<TakenSnapshot | 'pointer' | undefined> {
    const text = this.#queue.peek(key) ?? (await this.#store.load(key));
    if (text === undefined) return undefined;
    const record = decodeRecord(text);
    if (record.kind === 'pointer') return 'pointer';
    if (!accept(record.snapshot, undefined)) return undefined;
    return { snapshot: record.snapshot, key, text, version: 0, pointer: undefined, kept: true };
  }

  async #takeThrough(pointer: SnapshotPointer, accept: SnapshotFilter): Promise<Omit<TakenSnapshot, 'pointer'> | undefined> {
    const target = await this.#load(pointer.key);
    if (target?.kind !== 'snapshot') return undefined;
    const follows = (candidate: Snapshot): boolean =>
      candidate.sessionId === pointer.sessionId && isInvoluntary(candidate.reason) && accept(candidate, pointer);
    if (!follows(target.snapshot)) return undefined;
    return this.#takeAccepted(pointer.key, follows);
  }

  /**
   * Removes the pointer under `key` once the snapshot it led to is restored (best effort: a pointer
   * left behind leads nowhere). Nothing to do when the pointer was taken first (see {@link take}).
   */
  async discard(taken: TakenSnapshot): Promise<void> {
    if (taken.pointer === undefined || taken.pointerRecord !== undefined) return;
    const queued = this.#queue.take(taken.pointer);
    if (queued === undefined || 'wait' in queued) await this.#store.take(taken.pointer).catch(() => undefined);
  }

  /** Puts back the pointer a snapshot was reached through (see {@link TakenSnapshot.pointerRecord}), exactly as it was. */
  async putBackPointer(taken: TakenSnapshot): Promise<void> {
    const record = taken.pointerRecord;
    if (taken.pointer === undefined || record === undefined) return;
    await this.putBack(taken.pointer, record.text, record.version, undefined, { queued: record.queued, queuedAt: record.queuedAt });
  }

  /**
   * Takes whatever value `key` holds (queue first, then store), with its version, or `undefined`.
   * Every version read is observed by the clock, so that later writes are newer.
   */
  async takeValue(key: string): Promise<TakenValue | undefined> {
    for (;;) {
      const fencing = this.#fencing.get(key);
      if (fencing !== undefined) {
        await fencing.done;
        continue;
      }
      const queued = this.#queue.take(key);
      if (queued === undefined) {
        const taken = await this.#store.take(key);
        if (taken === undefined) return undefined;
        this.#clock.observe(taken.version);
        // A take that was already in flight when another take of the key began fencing: what it got
        // is a copy of the write the other one holds (an earlier attempt that landed in between). The
        // other one uses or puts back that snapshot; this copy is dropped, and the key is read again.
        const other = this.#fencing.get(key);
        if (other !== undefined && taken.version <= other.version) {
          await other.done;
          continue;
        }
        if (!this.#store.mayLand(key, taken.version)) return { ...taken, queued: false };
        // An attempt of this very write, abandoned at the timeout, may land over the take's floor.
        return {
          ...(await this.#fenced(key, { text: taken.value, version: taken.version, request: this.#requestOf(key, taken) })),
          queued: false,
        };
      }
      if ('wait' in queued) {
        await queued.wait;
        continue;
      }
      if (!queued.ambiguous || !this.#store.ordered) {
        this.#clock.observe(queued.version);
        return { value: queued.text, version: queued.version, queued: true, queuedAt: this.#queue.sequence };
      }
      const queuedAt = this.#queue.sequence;
      return { ...(await this.#fenced(key, queued)), queued: true, queuedAt };
    }
  }

  /**
   * A value taken whose write has an earlier attempt that may still land (or has): the store is
   * fenced one above its version, which is then the version a put-back of the value must carry to
   * land over the fence. No other take of the key runs meanwhile.
   */
  async #fenced(key: string, taken: Pick<QueuedValue<Snapshot | undefined>, 'text' | 'version' | 'request'>): Promise<VersionedValue> {
    const fence = this.#fence(key, taken);
    this.#fencing.set(key, {
      version: taken.version,
      done: fence.then(
        () => undefined,
        () => undefined,
      ),
    });
    try {
      await fence;
    } finally {
      this.#fencing.delete(key);
    }
    this.#clock.observe(taken.version + 1);
    return { value: taken.text, version: taken.version + 1 };
  }

  /** The write that would put a value taken from the store back as it was. */
  #requestOf(key: string, taken: VersionedValue): WriteRequest<Snapshot | undefined> {
    const record = decodeRecord(taken.value);
    const payload = record.kind === 'snapshot' ? record.snapshot : undefined;
    return { key, text: taken.value, version: taken.version, expiresAt: this.#expiryOf(closedAtOf(taken.value)), payload };
  }

  /**
   * Writes a taken record back under `key` with the version it had. On an ordered store the write is
   * exact: it lands over the floor the take left and is refused if anything newer came since. On an
   * unordered one it is skipped when the key holds a value again, unless it was taken from the queue
   * (see {@link PutBackOptions}).
   */
  async putBack(key: string, text: string, version: number, payload: Snapshot | undefined, options: PutBackOptions = {}): Promise<void> {
    const { refused, queued = false, queuedAt, lateFence = false } = options;
    const waiting = this.#queue.peek(key);
    // A record waits for the key: it is newer, or this very record, which the queue will write;
    // unless that record's attempt has landed already and this is it, taken back (see `#again`).
    if (waiting !== undefined && !(waiting === text && this.#again(key, lateFence))) return;
    // Unordered store: a value there may be newer, unless this was taken from the queue and nothing was queued for the key since.
    const newest = queued && queuedAt !== undefined && !this.#queue.queuedSince(key, queuedAt);
    if (waiting === undefined && !this.#store.ordered && !newest && (await this.#store.load(key).catch(() => undefined)) !== undefined)
      return;
    const expiresAt = this.#expiryOf(payload?.closedAt ?? this.#closedAtOrNow(text));
    await this.#queue.write({ key, text, version, expiresAt, payload, ...(refused === undefined ? {} : { refused }) });
  }

  /** When the record in `text` was closed, or now when it does not decode (a corrupt record put back lives one `snapshotTtl`). */
  #closedAtOrNow(text: string): number {
    try {
      return closedAtOf(text);
    } catch {
      return this.#now();
    }
  }

  async #load(key: string): Promise<DecodedRecord | undefined> {
    const text = this.#queue.peek(key) ?? (await this.#store.load(key));
    return text === undefined ? undefined : decodeRecord(text);
  }

  async #takeAccepted(key: string, accept: (snapshot: Snapshot) => boolean): Promise<Omit<TakenSnapshot, 'pointer'> | undefined> {
    const taken = await this.takeValue(key);
    if (taken === undefined) return undefined;
    const record = decodeRecord(taken.value);
    if (record.kind === 'snapshot' && accept(record.snapshot))
      return { snapshot: record.snapshot, key, text: taken.value, version: taken.version, queued: taken.queued, queuedAt: taken.queuedAt };
    await this.putBack(key, taken.value, taken.version, record.kind === 'snapshot' ? record.snapshot : undefined, {
      queued: taken.queued,
      queuedAt: taken.queuedAt,
    });
    return undefined;
  }

  /**
   * Whether a record taken from `key` that the queue also holds (same text) must be written once
   * more: it was taken by a late fence, or the queue's attempt is in flight (it may have landed and
   * be the very copy taken). Written again at its version, it lands over the take's floor once, and
   * is refused if the queue's attempt lands after it.
   */
  #again(key: string, lateFence: boolean): boolean {
    return lateFence || (this.#store.ordered && this.#queue.inFlight(key));
  }

  /**
   * Fences the store above a taken write, so that an earlier attempt of it can no longer land (a
   * copy that has landed is removed). When the fence fails, the value is not used: the write goes
   * back to the queue over the fence's version (the fence may still land), and the error propagates.
   * A fence abandoned at the timeout that lands later and takes that write back out of the store
   * puts it back; a copy of the earlier attempt it takes is dropped (the queue holds the write).
   */
  async #fence(key: string, queued: Pick<QueuedValue<Snapshot | undefined>, 'text' | 'version' | 'request'>): Promise<void> {
    const ttl = Math.max(1, Math.ceil(this.#expiryOf(closedAtOf(queued.text)) - this.#now()));
    const fenceVersion = queued.version + 1;
    // Whether the store answered the write requeued below (if the fence fails): stored it, or refused
    // it because an earlier attempt of it had landed. A late fence that takes a copy of it (same
    // version) then took the only one, and must put it back. Otherwise the queue, a restore that took
    // the write from there, or 'persistFailed' holds it, and the copy is dropped.
    let requeuedAnswered = false;
    const late = (taken: VersionedValue): void => {
      if (taken.version > fenceVersion) this.#store.lateTake?.(key, taken);
      else if (taken.version === fenceVersion)
        this.#store.lateTake?.(key, taken, () => this.#queue.settled(key).then(() => requeuedAnswered));
    };
    try {
      await this.#store.fence(key, queued.version, ttl, late);
    } catch (error) {
      this.#clock.observe(fenceVersion);
      void this.#queue.write({
        ...queued.request,
        version: fenceVersion,
        ambiguous: true,
        answered: () => {
          requeuedAnswered = true;
        },
      });
      throw error;
    }
  }
}

/** When the record in `text` was closed (ms since the epoch). */
function closedAtOf(text: string): number {
  const record = decodeRecord(text);
  return record.kind === 'snapshot' ? record.snapshot.closedAt : record.pointer.closedAt;
}
