import { CodecError, RestoreError, SessionUnavailableError, type RepriseError } from './errors.js';
import { runHooks } from './hooks.js';
import { timeHooks } from './instrumentation.js';
import { LiveSession, internalsOf, type SessionOwner } from './live-session.js';
import type { Settings } from './options.js';
import { describeKey, redactId } from './redact.js';
import type { Registry } from './registry.js';
import type { Reporter } from './reporter.js';
import { isSessionId, newSessionId } from './session-id.js';
import { isInvoluntary, type SnapshotFilter, type SnapshotReader, type TakenSnapshot } from './snapshot-reader.js';
import type { SnapshotWriter } from './snapshot-writer.js';
import type { Counters } from './stats.js';
import type { CloseReason, RestoreHook, SessionData, Snapshot } from './types.js';
import type { Coordination } from './coordination.js';

/**
 * What a presented session id leads to ({@link SessionManager.resume}). `live` and `restored` come
 * with the session held for the caller (release it with {@link SessionManager.release}).
 * - `live`: the session is live here; `restored`: its snapshot was restored under the same id;
 * - `none`: nothing is known of it (another instance's, expired long ago): not a logout;
 * - `closed`: it was closed explicitly while this request waited: its cookie should be cleared;
 * - `unavailable`: it cannot be had now (store unreadable, shutting down): keep the cookie, refuse writes.
 */
export type Resumption<TData extends SessionData> =
  | { readonly kind: 'live' | 'restored'; readonly session: LiveSession<TData> }
  | { readonly kind: 'none' | 'closed' }
  | { readonly kind: 'unavailable'; readonly error: SessionUnavailableError };

/** A restore from a cookie in flight, shared by every request for that id; `holds`: requests waiting on it. */
interface Flight<TData extends SessionData> {
  holds: number;
  promise: Promise<LiveSession<TData> | undefined>;
}

/** What the restorer needs of its manager. */
export interface RestorerContext<TData extends SessionData> {
  /** The manager: what restored sessions call back. */
  readonly owner: SessionOwner<TData>;
  readonly registry: Registry<TData>;
  readonly reader: SnapshotReader;
  readonly writer: SnapshotWriter;
  readonly reporter: Reporter<TData>;
  readonly counters: Counters;
  readonly settings: Readonly<Settings>;
  readonly restoreHooks: readonly RestoreHook<TData>[];
  now(): number;
  /** The close in progress of the session with this id, resolving to its reason. */
  closing(id: string): Promise<CloseReason> | undefined;
  shuttingDown(): boolean;
  /** Registers work that `shutdown()` must wait for. */
  track<T>(work: Promise<T>): Promise<T>;
  unavailable(why: 'store' | 'shutdown' | 'owner', cause?: unknown): SessionUnavailableError;
  /** Ends a hold (the manager enforces the cap and the shutdown then). */
  release(session: LiveSession<TData>): void;
  /**
   * A snapshot was restored into `session` (its record is out of the store until the session is written
   * again). `taken` is the record's text when it holds exactly the session's data (a cookie or key
   * restore, not a merge), so its crash copy can be written without encoding the data again.
   */
  restored(session: LiveSession<TData>, taken?: { readonly snapshot: Snapshot; readonly text: string }): void;
  /** Several instances: the leases (`undefined` without a coordinator). */
  readonly coordination: Coordination | undefined;
}

/** Claims released on a session id while cookie restores of it look (see `Restorer.#takeFromCookie`). */
interface ClaimWatch {
  watchers: number;
  released: number;
}

/**
 * The restore path: a returning cookie's id resumed (live, restored under the same id, or why not),
 * a snapshot restored by key into a new live session or merged into an existing one. Restores from a
 * cookie are single-flight per id, and every request waiting on one gets the session held for it.
 */
export class Restorer<TData extends SessionData> {
  readonly #c: RestorerContext<TData>;
  readonly #flights = new Map<string, Flight<TData>>();
  /** Session ids whose snapshot a restore by key has taken, until it is used or put back. */
  readonly #claims = new Map<string, Promise<void>>();
  /** Session ids a cookie restore is looking for, and how many claims on each were released meanwhile. */
  readonly #watches = new Map<string, ClaimWatch>();

  constructor(context: RestorerContext<TData>) {
    this.#c = context;
  }

  /**
   * Restores the snapshot stored under `key` (or named by a pointer there) into a live session under
   * the snapshot's own session id; `undefined` when there is none, it cannot be read (reported), or
   * a session with that id is live already.
   */
  async restore(key: string): Promise<LiveSession<TData> | undefined> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('restore: key must be a non-empty string');
    if (this.#c.shuttingDown()) return undefined;
    const withinAbsolute: SnapshotFilter = (snapshot) =>
      this.#withinAbsolute(snapshot) && !this.#c.registry.has(snapshot.sessionId) && this.#notLiveHere(snapshot);
    // The claim is held until the snapshot is revived or put back: a returning cookie of its session
    // waits for that rather than finding it in nobody's hands.
    return this.#c.track(
      this.#claiming(async (claim) => {
        const taken = await this.#take(key, claim(withinAbsolute));
        if (taken === undefined) return undefined;
        // An explicitly closed session comes back under a new id: its old cookie was cleared at the
        // logout, and a replayed copy of it must never reach the context again.
        const id = isInvoluntary(taken.snapshot.reason) ? taken.snapshot.sessionId : newSessionId();
        // Several instances: an id that comes back needs its lease. Held elsewhere, the session is
        // live there (this was its checkpoint): it stays there, as a session live here would.
        if (id === taken.snapshot.sessionId && !(await this.#leaseForRestore(id))) {
          await this.#putBack(taken);
          return undefined;
        }
        const session = await this.#revive(id, taken);
        if (session === undefined && !this.#c.registry.has(id)) this.#c.coordination?.closed(id);
        // Released without enforcing the cap: like create(), it may stand over the cap when every
        // other session is busy, rather than be evicted before its caller gets it.
        if (session !== undefined) this.#c.registry.release(session);
        return session;
      }),
    );
  }

  /**
   * What a returning cookie's id leads to (see {@link Resumption}): the live session, or after an
   * involuntary close (evicted, expired, shutdown) its snapshot restored under the same id; a close
   * in progress is waited for. Concurrent calls for one id share one restore, and each gets the
   * session held for it. Once `shutdown()` has begun nothing is restored (`unavailable`): the
   * snapshot stays for the next process.
   */
  async resume(id: string): Promise<Resumption<TData>> {
    if (!isSessionId(id)) return { kind: 'none' };
    for (let round = 0; round < 5; round++) {
      const live = this.#c.registry.get(id);
      if (live !== undefined) {
        // Several instances: renewals failing for half the lease, the session may soon be another's.
        if (this.#c.coordination?.suspended === true) return { kind: 'unavailable', error: this.#c.unavailable('store') };
        this.#c.registry.hold(live);
        return { kind: 'live', session: live };
      }
      const closing = this.#c.closing(id);
      if (closing !== undefined) {
        if (!isInvoluntary(await closing)) return { kind: 'closed' };
        continue;
      }
      const claimed = this.#claims.get(id);
      if (claimed !== undefined) {
        // A restore by key holds this session's snapshot: merged elsewhere, or put back (maybe home).
        await claimed;
        continue;
      }
      if (this.#c.shuttingDown()) return { kind: 'unavailable', error: this.#c.unavailable('shutdown') };
      return this.#joinRestore(id);
    }
    return { kind: 'none' };
  }

  async #joinRestore(id: string): Promise<Resumption<TData>> {
    let flight = this.#flights.get(id);
    if (flight === undefined) {
      const started: Flight<TData> = { holds: 0, promise: Promise.resolve(undefined) };
      started.promise = this.#c.track(this.#restoreFromCookie(id, started));
      this.#flights.set(id, started);
      flight = started;
    }
    flight.holds += 1;
    let session: LiveSession<TData> | undefined;
    try {
      session = await flight.promise;
    } catch (error) {
      return { kind: 'unavailable', error: error instanceof SessionUnavailableError ? error : this.#c.unavailable('store', error) };
    }
    if (session === undefined) return { kind: 'none' };
    return session.state === 'live' ? { kind: 'restored', session } : this.resume(id);
  }

  /**
   * The restore a returning cookie starts. Hands one hold of the restored session to each request
   * that joined the flight, synchronously as the flight ends, so no eviction can come between.
   */
  async #restoreFromCookie(id: string, flight: Flight<TData>): Promise<LiveSession<TData> | undefined> {
    const coordination = this.#c.coordination;
    let leased = false;
    try {
      // Several instances: the lease first (asking the instance that holds it to hand the session over).
      const lease = coordination === undefined ? undefined : await coordination.acquire(id);
      if (lease !== undefined && !lease.held) throw this.#c.unavailable('owner');
      leased = lease !== undefined;
      const fromCookie: SnapshotFilter = (snapshot) =>
        snapshot.sessionId === id && isInvoluntary(snapshot.reason) && this.#withinAbsolute(snapshot);
      // Under a lease the record is read and left in place (see SnapshotReader.keep).
      const taken = lease === undefined ? await this.#takeFromCookie(id, fromCookie) : await this.#keepFromCookie(id, fromCookie);
      const session = taken === undefined ? undefined : await this.#revive(id, taken);
      if (session !== undefined && lease !== undefined) {
        leased = false; // the session holds it now
        if (lease.handedOver) this.#c.counters.handoversIn += 1;
        else if (taken?.snapshot.reason === 'checkpoint') this.#c.counters.takeovers += 1;
      }
      if (session !== undefined) {
        if (session.state === 'live') for (let i = 0; i < flight.holds; i++) this.#c.registry.hold(session);
        this.#c.release(session);
      }
      return session;
    } finally {
      // A lease taken for a restore that brought nothing back is released once its writes settle.
      if (leased && !this.#c.registry.has(id)) coordination?.closed(id);
      if (this.#flights.get(id) === flight) this.#flights.delete(id);
    }
  }

  /**
   * Takes the snapshot for a cookie restore. When a restore by key took it while this one looked,
   * waits until it is used (merged elsewhere: nothing to restore) or put back (maybe home, under this
   * id), and looks again; also when that claim began and ended during the look (it was released
   * before this one could see it).
   */
  async #takeFromCookie(id: string, fromCookie: SnapshotFilter): Promise<TakenSnapshot | undefined> {
    const watch = this.#watch(id);
    try {
      for (;;) {
        const seen = watch.released;
        const taken = await this.#read(id, () => this.#c.reader.take(id, fromCookie, true), true);
        if (taken !== undefined) return taken;
        const claim = this.#claims.get(id);
        if (claim !== undefined) await claim;
        else if (watch.released === seen) return undefined;
      }
    } finally {
      watch.watchers -= 1;
      if (watch.watchers === 0 && this.#watches.get(id) === watch) this.#watches.delete(id);
    }
  }

  /** The lease holder's read of the record under `id`; a pointer is taken through, as without a lease. */
  async #keepFromCookie(id: string, fromCookie: SnapshotFilter): Promise<TakenSnapshot | undefined> {
    const kept = await this.#read(id, () => this.#c.reader.keep(id, fromCookie), true);
    return kept === 'pointer' ? this.#takeFromCookie(id, fromCookie) : kept;
  }

  #watch(id: string): ClaimWatch {
    let watch = this.#watches.get(id);
    if (watch === undefined) {
      watch = { watchers: 0, released: 0 };
      this.#watches.set(id, watch);
    }
    watch.watchers += 1;
    return watch;
  }

  /**
   * Several instances: the lease on `id` for a restore by key, without asking anyone to hand it over
   * (`true` at once without a coordinator). A store failure is reported and counts as not held.
   */
  async #leaseForRestore(id: string): Promise<boolean> {
    const coordination = this.#c.coordination;
    if (coordination === undefined) return true;
    try {
      return await coordination.claimFree(id);
    } catch (error) {
      this.#c.reporter.report(this.#c.unavailable('store', error));
      return false;
    }
  }

  /**
   * Several instances: adopts `id`, a session of a dead instance past its idle deadline (see
   * `Coordination.adoptOrphans`). Claims its lease (one instance wins), takes its record if it is a
   * checkpoint (a close's snapshot means its hooks ran already: left as it is), restores it without
   * making room (no live session is evicted for it) and hands it to `close` (the manager closes it
   * with `'expired'`). A returning cookie of `id` here waits meanwhile, then restores the close's
   * snapshot. `true` when it restored one.
   */
  async adopt(id: string, close: (session: LiveSession<TData>) => Promise<unknown>): Promise<boolean> {
    const coordination = this.#c.coordination;
    if (coordination === undefined || this.#c.shuttingDown() || this.#flights.has(id) || this.#claims.has(id)) return false;
    if (this.#c.registry.has(id) || this.#c.closing(id) !== undefined) return false;
    let done!: () => void;
    const settled = new Promise<void>((resolve) => (done = resolve));
    this.#claims.set(id, settled);
    let session: LiveSession<TData> | undefined;
    try {
      if (!(await coordination.claimFree(id))) return false;
      const taken = await this.#take(id, (snapshot) => snapshot.sessionId === id && snapshot.reason === 'checkpoint');
      session = taken === undefined ? undefined : await this.#revive(id, taken, false);
      if (session === undefined) return false;
      this.#c.counters.adoptions += 1;
      this.#c.registry.release(session); // no cap enforced: it closes at once
      await close(session);
      return true;
    } finally {
      if (session === undefined && !this.#c.registry.has(id)) coordination.closed(id);
      if (this.#claims.get(id) === settled) this.#claims.delete(id);
      done();
    }
  }

  /**
   * Forgets the cookie restore in flight for `id` (its session was regenerated during its restore
   * hooks): requests already waiting still get the session; a later one presenting `id` does not.
   */
  forget(id: string): void {
    this.#flights.delete(id);
  }

  /** Merges the snapshot under `key` into `session` (snapshot keys win); `true` when one was found. */
  async restoreInto(session: LiveSession<TData>, key: string): Promise<boolean> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('restore: key must be a non-empty string');
    if (session.state !== 'live') return false;
    // Held busy while the snapshot is taken, so that neither the cap nor a timer closes it meanwhile.
    this.#c.registry.hold(session);
    try {
      return await this.#c.track(this.#mergeInto(session, key));
    } finally {
      this.#c.release(session);
    }
  }

  async #mergeInto(session: LiveSession<TData>, key: string): Promise<boolean> {
    return this.#claiming(async (claim) => {
      const taken = await this.#take(
        key,
        claim((snapshot) => this.#notLiveHere(snapshot)),
      );
      return taken !== undefined && this.#merge(session, taken);
    });
  }

  async #merge(session: LiveSession<TData>, taken: TakenSnapshot): Promise<boolean> {
    const { snapshot } = taken;
    if (session.state !== 'live') {
      await this.#putBack(taken);
      return false;
    }
    // Merged at once, while the session is known to be live (the pointer's removal may await the store).
    Object.assign(session.data, snapshot.data);
    if (snapshot.key !== snapshot.sessionId && !isSessionId(snapshot.key)) session.persistKey = snapshot.key;
    await this.#afterTake(taken);
    await this.#afterRestore(session, snapshot as Snapshot<TData>);
    return true;
  }

  /**
   * Runs a restore by key with claims: every snapshot its filter accepts (before the take) is
   * claimed for its session id until `work` ends, so a returning cookie of that session waits for
   * the snapshot to be used or put back instead of finding nothing in between.
   */
  async #claiming<T>(work: (claim: (accept: SnapshotFilter) => SnapshotFilter) => Promise<T>): Promise<T> {
    let done!: () => void;
    const settled = new Promise<void>((resolve) => {
      done = resolve;
    });
    const claimed: string[] = [];
    const claim =
      (accept: SnapshotFilter): SnapshotFilter =>
      (snapshot, pointer) => {
        const accepted = accept(snapshot, pointer);
        if (accepted && !this.#claims.has(snapshot.sessionId)) {
          this.#claims.set(snapshot.sessionId, settled);
          claimed.push(snapshot.sessionId);
        }
        return accepted;
      };
    try {
      return await work(claim);
    } finally {
      for (const id of claimed) {
        if (this.#claims.get(id) === settled) this.#claims.delete(id);
        const watch = this.#watches.get(id);
        if (watch !== undefined) watch.released += 1;
      }
      done();
    }
  }

  /**
   * Whether a restore by key may take this snapshot: not a checkpoint of a session live or closing
   * here (that session still owns its context; its close writes the newer snapshot).
   */
  #notLiveHere(snapshot: Snapshot): boolean {
    return (
      snapshot.reason !== 'checkpoint' || (!this.#c.registry.has(snapshot.sessionId) && this.#c.closing(snapshot.sessionId) === undefined)
    );
  }

  /** Whether a session created at the snapshot's `createdAt` is still within the absolute timeout. */
  #withinAbsolute(snapshot: Snapshot): boolean {
    const { absoluteTimeout } = this.#c.settings;
    return absoluteTimeout === undefined || snapshot.createdAt + absoluteTimeout > this.#c.now();
  }

  /**
   * Writes a taken snapshot back exactly where it was (a restore that could not use it), and the
   * pointer it was reached through, if any; a kept one never left.
   */
  async #putBack(taken: TakenSnapshot): Promise<void> {
    if (taken.kept === true) return; // still in the store
    try {
      await this.#c.writer.putBack(taken);
    } catch (error) {
      this.#c.reporter.gaveUp(taken.snapshot as Snapshot<TData>, error as RepriseError);
    }
    // Best effort, like the pointer's removal was: a pointer left out leads the cookie nowhere.
    await this.#c.reader.putBackPointer(taken).catch(() => undefined);
  }

  /**
   * Takes a snapshot for a restore. A corrupt or refused one is reported and skipped (`undefined`).
   * A store failure is reported too; with `rethrow` it then rejects, so the caller can tell "nothing
   * to restore" from "could not look" (the snapshot may still be there).
   */
  async #take(key: string, accept: SnapshotFilter, rethrow = false): Promise<TakenSnapshot | undefined> {
    return this.#read(key, () => this.#c.reader.take(key, accept), rethrow);
  }

  /** Runs a read of the snapshot under `key`, reporting failures (see {@link #take}). */
  async #read<T>(key: string, read: () => Promise<T | undefined>, rethrow: boolean): Promise<T | undefined> {
    try {
      return await read();
    } catch (cause) {
      this.#c.counters.restoreFailures += 1;
      const corrupt = cause instanceof CodecError;
      const name = describeKey(key);
      const message = corrupt ? `snapshot ${name} refused: ${cause.message}` : `could not read snapshot ${name}`;
      const error = new RestoreError(isSessionId(key) ? redactId(key) : key, message, { cause });
      this.#c.reporter.report(error);
      if (rethrow && !corrupt) throw error;
      return undefined;
    }
  }

  /** After a snapshot was taken for a restore: a pointer it came through and left in place is removed (best effort). */
  async #afterTake(taken: TakenSnapshot): Promise<void> {
    await this.#c.reader.discard(taken);
  }

  /**
   * A taken snapshot becomes a live session with the id `id`, held busy while the restore hooks run
   * (the caller releases it); room is made for it first (the cap) unless `makeRoom` is false. `undefined` (and the snapshot put back) when that id is live already.
   */
  async #revive(id: string, taken: TakenSnapshot, makeRoom = true): Promise<LiveSession<TData> | undefined> {
    const snapshot = taken.snapshot as Snapshot<TData>;
    if (this.#c.registry.has(id) || this.#c.closing(id) !== undefined) {
      await this.#putBack(taken);
      return undefined;
    }
    if (taken.pointer !== undefined) await this.#afterTake(taken);
    if (makeRoom) this.#c.registry.makeRoom();
    const session = new LiveSession<TData>(this.#c.owner, id, snapshot.data, snapshot.createdAt, this.#c.now());
    internalsOf(session).isNew = false;
    if (taken.kept === true) internalsOf(session).storedUnderId = true;
    if (snapshot.key !== snapshot.sessionId && !isSessionId(snapshot.key)) session.persistKey = snapshot.key;
    this.#c.registry.add(session);
    this.#c.coordination?.adopt(id);
    this.#c.registry.hold(session);
    await this.#afterRestore(session, snapshot, taken);
    return session;
  }

  async #afterRestore(session: LiveSession<TData>, snapshot: Snapshot<TData>, taken?: TakenSnapshot): Promise<void> {
    this.#c.restored(session, taken);
    const hooks = this.#c.restoreHooks;
    if (hooks.length > 0)
      await timeHooks(this.#c.owner, 'restore', undefined, hooks.length, () =>
        runHooks('restore', hooks, [session, snapshot], redactId(session.id), this.#c.settings.hookTimeout, (error) =>
          this.#c.reporter.hookFailed(error),
        ),
      );
    this.#c.counters.restored += 1;
    this.#c.reporter.emit('restore', session, snapshot);
  }
}
