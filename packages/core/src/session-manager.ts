import { EventEmitter } from 'node:events';
import { encodePointer, encodeSnapshot } from './codec.js';
import { CodecError, ListenerError, PersistError, RestoreError, SessionClosedError, type RepriseError, OptionError } from './errors.js';
import { ExpiryTimer } from './expiry-timer.js';
import { disposeLive, runHooks } from './hooks.js';
import { LiveSession, internalsOf, type SessionOwner } from './live-session.js';
import {
  isRuntimeOption,
  normalizeClock,
  normalizeHooks,
  normalizeSettings,
  validateAdapter,
  validateOption,
  type RuntimeOptionName,
  type SessionManagerOptions,
  type Settings,
} from './options.js';
import { PersistQueue } from './persist-queue.js';
import { RecencyList } from './recency-list.js';
import { isSessionId, newSessionId } from './session-id.js';
import { SnapshotReader, isInvoluntary, type SnapshotFilter } from './snapshot-reader.js';
import { newCounters, type Counters, type ManagerStats } from './stats.js';
import type { CloseHook, CloseReason, RestoreHook, SessionAdapter, SessionData, Snapshot } from './types.js';

/** A snapshot taken for a restore, and the pointer it came through (deleted once it is restored). */
type Taken<TData extends SessionData> = { readonly snapshot: Snapshot<TData>; readonly pointer: string | undefined };

/** The events of a {@link SessionManager} and their arguments. */
export interface ManagerEvents<TData extends SessionData> {
  /** A close finished (hooks ran, snapshot handed to the queue, live resources disposed). */
  close: [session: LiveSession<TData>, reason: CloseReason];
  /** A snapshot was restored into a live session (after the restore hooks). */
  restore: [session: LiveSession<TData>, snapshot: Snapshot<TData>];
  /** Something went wrong and was handled; without a listener it goes to `process.emitWarning`. */
  error: [error: RepriseError];
  /** A snapshot that could not be written (too large, or given up by the retry queue). */
  persistFailed: [snapshot: Snapshot<TData>, error: RepriseError];
}

/** Rounds of restore-wait and close that `shutdown()` runs at most before it flushes the queue. */
const MAX_SHUTDOWN_ROUNDS = 1000;

const CLOSE_REASONS: ReadonlySet<string> = new Set<CloseReason>(['evicted', 'expired', 'closed', 'shutdown']);

/**
 * The engine: a registry of live sessions with a cap (least recently active idle session evicted),
 * idle and absolute timeouts on one timer, closing hooks run exactly once per live context, snapshots
 * persisted through the adapter behind a retry queue, and restores. Framework-free; `@reprise/koa`
 * drives it per request with {@link acquire} and {@link release}.
 */
export class SessionManager<TData extends SessionData = SessionData>
  extends EventEmitter<ManagerEvents<TData>>
  implements SessionOwner<TData>
{
  /** The adapter snapshots go to. The manager never closes it: its owner does. */
  readonly adapter: SessionAdapter;
  readonly #settings: Settings;
  readonly #now: () => number;
  readonly #closeHooks: CloseHook<TData>[];
  readonly #restoreHooks: RestoreHook<TData>[];
  readonly #live = new Map<string, LiveSession<TData>>();
  readonly #idle = new RecencyList<LiveSession<TData>>();
  readonly #timer: ExpiryTimer<LiveSession<TData>>;
  readonly #closing = new Map<string, Promise<CloseReason>>();
  readonly #resuming = new Map<string, Promise<LiveSession<TData> | undefined>>();
  /** Restores in flight (`restore()` and `resume()` calls): `shutdown()` waits for them. */
  readonly #restoring = new Set<Promise<unknown>>();
  /** Closed id -> the session restored from it, until the client is known to hold the new id. */
  readonly #forwards = new Map<string, LiveSession<TData>>();
  readonly #forwardOf = new WeakMap<LiveSession<TData>, string>();
  readonly #queue: PersistQueue<Snapshot<TData> | undefined>;
  readonly #reader: SnapshotReader;
  readonly #counters: Counters = newCounters();
  #busy = 0;
  #shuttingDown = false;
  #shutdown: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(options: SessionManagerOptions<TData>) {
    super();
    if (typeof options !== 'object' || options === null) throw new OptionError('SessionManager options must be an object');
    this.adapter = validateAdapter(options.adapter);
    this.#settings = normalizeSettings(options);
    this.#now = normalizeClock(options.now);
    this.#closeHooks = normalizeHooks('onClose', options.onClose);
    this.#restoreHooks = normalizeHooks('onRestore', options.onRestore);
    this.#timer = new ExpiryTimer(this.#now, (session) => this.#onDue(session));
    this.#queue = new PersistQueue(this.adapter, this.#now, () => this.#settings.maxPendingPersists, {
      failed: (error, first) => this.#persistFailed(error, first),
      gaveUp: (snapshot, error) => this.#gaveUp(snapshot, error),
      written: (snapshot) => {
        if (snapshot !== undefined) this.#counters.persisted += 1;
      },
    });
    this.#reader = new SnapshotReader(this.adapter, this.#queue as PersistQueue<Snapshot | undefined>, (closedAt) => closedAt + this.#settings.snapshotTtl);
  }

  /** Whether `shutdown()` has begun. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Live sessions (closing ones excluded). */
  get size(): number {
    return this.#live.size;
  }

  /** The current value of a run-time option. */
  getOption<K extends RuntimeOptionName>(name: K): Settings[K] {
    return this.#settings[name];
  }

  /**
   * Changes an option at run time (4D WEB SET OPTION). Lowering `maxSessions` evicts at once, through
   * the closing hooks; a new `idleTimeout` or `absoluteTimeout` applies to each session from its next activity.
   */
  setOption<K extends RuntimeOptionName>(name: K, value: Settings[K]): void {
    if (!isRuntimeOption(name)) throw new OptionError(`setOption: unknown option ${JSON.stringify(name)}`);
    validateOption(name, value);
    this.#settings[name] = value;
    if (name === 'maxSessions') this.#shrinkToCap();
  }

  /** Adds a closing hook (after those already registered). */
  onClose(hook: CloseHook<TData>): this {
    this.#closeHooks.push(...normalizeHooks('onClose', hook));
    return this;
  }

  /** Adds a restore hook (after those already registered). */
  onRestore(hook: RestoreHook<TData>): this {
    this.#restoreHooks.push(...normalizeHooks('onRestore', hook));
    return this;
  }

  /**
   * Creates a live session holding `data` (default `{}`). At the cap, the least recently active idle
   * session is evicted first; when every session is busy, the new one is admitted over the cap.
   */
  create(data?: TData): LiveSession<TData> {
    const now = this.#now();
    // Built (and its data checked) before making room, so refused data evicts nobody.
    const session = new LiveSession<TData>(this, newSessionId(), data ?? ({} as TData), now, now);
    this.#makeRoom();
    this.#register(session);
    this.#counters.created += 1;
    return session;
  }

  /** The live session with this id, without touching it. */
  get(id: string): LiveSession<TData> | undefined {
    return this.#live.get(id);
  }

  /** Marks activity on a live session: most recent in the eviction order, expiry slid. `false` if unknown. */
  touch(id: string): boolean {
    const session = this.#live.get(id);
    if (session === undefined) return false;
    this.#markActive(session);
    return true;
  }

  /**
   * Starts a request on a live session: it becomes busy (never evicted nor expired) until
   * {@link release}. Marks activity. `undefined` when no live session has this id.
   */
  acquire(id: string): LiveSession<TData> | undefined {
    const session = this.#live.get(id);
    if (session === undefined) return undefined;
    this.#hold(session);
    return session;
  }

  /**
   * Ends a request started with {@link acquire} (or the creating request of a session from
   * {@link create}, held with `acquire`). The session becomes idle when no other request holds it;
   * then its idle expiry restarts and the cap is enforced.
   */
  release(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    if (state.busy === 0) return;
    state.busy -= 1;
    if (state.busy > 0) return;
    state.isNew = false;
    this.#busy -= 1;
    if (this.#busy === 0) this.#drained?.();
    if (state.state !== 'live') return;
    this.#markActive(session);
    if (this.#shuttingDown) void this.#close(session, 'shutdown');
    else this.#shrinkToCap();
  }

  /**
   * Closes a live session (4D WEB LEGACY CLOSE SESSION): closing hooks, snapshot, disposal.
   * Resolves `true` for the call that closed it, `false` when the session is unknown, closing or closed.
   * @param reason default `'closed'`.
   */
  close(id: string, reason: CloseReason = 'closed'): Promise<boolean> {
    if (!CLOSE_REASONS.has(reason)) return Promise.reject(new OptionError(`close: unknown reason ${JSON.stringify(reason)}`));
    const session = this.#live.get(id);
    return session === undefined ? Promise.resolve(false) : this.#close(session, reason);
  }

  /** When the session expires if it stays idle, in ms since the epoch (4D WEB LEGACY GET SESSION EXPIRATION). */
  getExpiration(id: string): number | undefined {
    return this.#live.get(id)?.expiresAt;
  }

  /**
   * Restores the snapshot stored under `key` (or named by a pointer there) into a new live session
   * with a new id; `undefined` when there is none or it cannot be read (reported).
   */
  async restore(key: string): Promise<LiveSession<TData> | undefined> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('restore: key must be a non-empty string');
    const withinAbsolute: SnapshotFilter = (snapshot) => this.#withinAbsolute(snapshot);
    return this.#track(this.#take(key, withinAbsolute).then((taken) => (taken === undefined ? undefined : this.#revive(taken))));
  }

  /**
   * What a returning cookie gets: the live session with this id; or, after it closed involuntarily
   * (evicted, expired, shutdown), its snapshot restored into a new session with a new id; or
   * `undefined` (unknown id, explicit close, absolute timeout passed, store error). Waits for a close
   * in progress. Concurrent calls for one id share one restore. Does not acquire the session.
   * Once `shutdown()` has begun it restores nothing: the snapshot stays for the next process.
   * Rejects with a `RestoreError` (already reported) when the adapter could not be read: the snapshot
   * may still be there, so a binding should keep the visitor's cookie.
   */
  async resume(id: string): Promise<LiveSession<TData> | undefined> {
    if (!isSessionId(id)) return undefined;
    const live = this.#live.get(id) ?? this.#forwards.get(id);
    if (live !== undefined || this.#shuttingDown) return live;
    return this.#track(this.#resume(id));
  }

  async #resume(id: string): Promise<LiveSession<TData> | undefined> {
    const closing = this.#closing.get(id);
    if (closing !== undefined && !isInvoluntary(await closing)) return undefined;
    let resuming = this.#resuming.get(id);
    if (resuming === undefined) {
      resuming = this.#resumeClosed(id).finally(() => this.#resuming.delete(id));
      this.#resuming.set(id, resuming);
    }
    return resuming;
  }

  /**
   * Tells the manager that the visitor now holds the new id of a restored session: give the closed
   * id it was restored from, or the session itself (a binding calls this when a request arrives with
   * the new id). Until then, `resume(closedId)` keeps leading to the restored session, so a response
   * that never arrived, or parallel requests still sent with the old cookie, lose nothing.
   * O(1); does nothing for a session that was not restored or is already confirmed.
   */
  confirmResume(closedIdOrSession: string | LiveSession<TData>): void {
    const closedId = typeof closedIdOrSession === 'string' ? closedIdOrSession : this.#forwardOf.get(closedIdOrSession);
    if (closedId === undefined) return;
    const session = this.#forwards.get(closedId);
    if (session === undefined) return;
    this.#forwards.delete(closedId);
    this.#forwardOf.delete(session);
  }

  /** Moves a live session to a new id; the old id stops working at once. No hook runs. */
  regenerate(session: LiveSession<TData>): string {
    const state = internalsOf(session);
    if (state.state !== 'live') throw new SessionClosedError(state.id, `cannot regenerate session ${state.id}: it is ${state.state}`);
    // A closed id this session was restored from is an old id too: it stops leading here.
    const forwardedFrom = this.#forwardOf.get(session);
    if (forwardedFrom !== undefined) this.confirmResume(forwardedFrom);
    this.#live.delete(state.id);
    state.id = newSessionId();
    this.#live.set(state.id, session);
    return state.id;
  }

  /** @internal Merges the snapshot under `key` into `session` (snapshot keys win); `true` when one was found. */
  async restoreInto(session: LiveSession<TData>, key: string): Promise<boolean> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('restore: key must be a non-empty string');
    if (session.state !== 'live') return false;
    // Held busy while the snapshot is taken, so that neither the cap nor a timer closes it meanwhile.
    this.#hold(session);
    try {
      return await this.#track(this.#mergeInto(session, key));
    } finally {
      this.release(session);
    }
  }

  async #mergeInto(session: LiveSession<TData>, key: string): Promise<boolean> {
    const taken = await this.#take(key, () => true);
    if (taken === undefined) return false;
    const { snapshot } = taken;
    if (session.state !== 'live') {
      await this.#putBack(snapshot);
      return false;
    }
    await this.#reader.discard(taken.pointer);
    Object.assign(session.data, snapshot.data);
    if (snapshot.key !== snapshot.sessionId && !isSessionId(snapshot.key)) session.persistKey = snapshot.key;
    await this.#afterRestore(session, snapshot);
    return true;
  }


  /** @internal Reports a write to a closed session (ignored). */
  reportWriteAfterClose(session: LiveSession<TData>, property: PropertyKey): void {
    this.#counters.writesAfterClose += 1;
    this.#report(new SessionClosedError(session.id, `write to ${String(property)} of session ${session.id} after its close was ignored`));
  }

  /** Counters and gauges; see {@link ManagerStats}. */
  stats(): ManagerStats {
    const c = this.#counters;
    return {
      ...c,
      closed: { ...c.closed },
      live: this.#live.size,
      busy: this.#busy,
      closing: this.#closing.size,
      overCap: Math.max(0, this.#live.size - this.#settings.maxSessions),
      pendingPersists: this.#queue.pending,
    };
  }

  /**
   * Stops: waits up to `shutdownTimeout` ms for requests in flight, closes every live session with
   * `'shutdown'`, then waits up to `shutdownTimeout` ms for the snapshot writes (what is still not
   * written goes to `'persistFailed'`). Sessions created afterwards are closed when their request
   * ends. Does not close the adapter. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#runShutdown();
    return this.#shutdown;
  }

  async #runShutdown(): Promise<void> {
    this.#shuttingDown = true;
    await this.#waitForIdle(this.#settings.shutdownTimeout);
    // Until nothing is left: a restore in flight brings a live session back, which must close too.
    // Bounded, so that a bug that kept a session live could never spin this loop forever.
    for (let round = 0; round < MAX_SHUTDOWN_ROUNDS; round++) {
      await Promise.allSettled(this.#restoring);
      await Promise.all([...this.#live.values()].map((session) => this.#close(session, 'shutdown')));
      await Promise.all(this.#closing.values());
      if (this.#restoring.size === 0 && this.#live.size === 0 && this.#closing.size === 0) break;
    }
    await this.#queue.flush(this.#settings.shutdownTimeout);
    this.#timer.stop();
  }

  /** Registers a restore in flight until it settles. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#restoring.add(work);
    const forget = (): void => {
      this.#restoring.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  async #waitForIdle(timeoutMs: number): Promise<void> {
    if (this.#busy === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#drained = undefined;
  }

  #register(session: LiveSession<TData>): void {
    this.#live.set(session.id, session);
    this.#markActive(session);
  }

  #hold(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    state.busy += 1;
    state.unclaimed = false;
    if (state.busy === 1) {
      this.#busy += 1;
      this.#idle.delete(session);
    }
    state.lastActiveAt = this.#now();
    // The heap keeps the older, earlier deadline: it fires, finds the session busy and drops it;
    // release() schedules the new one. So a request costs no heap operation here.
    state.expiresAt = this.#expiryFrom(session, state.lastActiveAt);
  }

  #markActive(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    state.lastActiveAt = this.#now();
    state.expiresAt = this.#expiryFrom(session, state.lastActiveAt);
    this.#timer.schedule(session, state.expiresAt);
    if (state.busy === 0 && !state.unclaimed) this.#idle.touch(session);
  }

  /** When a session active at `activeAt` expires: idle timeout, capped by the absolute timeout. */
  #expiryFrom(session: LiveSession<TData>, activeAt: number): number {
    const { idleTimeout, absoluteTimeout } = this.#settings;
    const absolute = absoluteTimeout === undefined ? Infinity : session.createdAt + absoluteTimeout;
    return Math.min(activeAt + idleTimeout, absolute);
  }

  #onDue(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    if (state.state !== 'live' || state.busy > 0) return;
    void this.#close(session, 'expired');
  }

  /** Evicts until one more session fits under the cap (or no idle session is left). */
  #makeRoom(): void {
    this.#evictWhile(() => this.#live.size >= this.#settings.maxSessions);
  }

  /** Evicts until the cap holds again (or no idle session is left). */
  #shrinkToCap(): void {
    this.#evictWhile(() => this.#live.size > this.#settings.maxSessions);
  }

  #evictWhile(overCap: () => boolean): void {
    while (overCap()) {
      const victim = this.#idle.oldest();
      if (victim === undefined) return;
      void this.#close(victim, 'evicted');
    }
  }

  /** The one close path every reason goes through. Synchronously leaves the registry, so it runs once. */
  #close(session: LiveSession<TData>, reason: CloseReason): Promise<boolean> {
    const state = internalsOf(session);
    if (state.state !== 'live') return Promise.resolve(false);
    state.state = 'closing';
    state.closeReason = reason;
    const id = state.id;
    this.#live.delete(id);
    this.#idle.delete(session);
    this.#timer.cancel(session);
    this.#counters.closed[reason] += 1;
    // A restored session whose new id never reached its visitor closes under the id the visitor holds.
    const forwardedFrom = this.#forwardOf.get(session);
    if (forwardedFrom !== undefined) this.confirmResume(forwardedFrom);
    const visibleId = forwardedFrom !== undefined && isInvoluntary(reason) ? forwardedFrom : id;
    const done = this.#runClose(session, reason, visibleId);
    const outcome = done.then(() => reason);
    this.#closing.set(id, outcome);
    if (visibleId !== id) this.#closing.set(visibleId, outcome);
    return done.then(() => {
      this.#closing.delete(id);
      this.#closing.delete(visibleId);
      return true;
    });
  }

  /** @param visibleId the id the visitor holds: the snapshot's `sessionId` (and default key). */
  async #runClose(session: LiveSession<TData>, reason: CloseReason, visibleId: string): Promise<void> {
    const id = session.id;
    const report = (error: RepriseError): void => this.#hookFailed(error);
    await runHooks('closing', this.#closeHooks, [session, reason], id, this.#settings.hookTimeout, report);
    // The snapshot is taken now: later writes to data would be lost, so they are ignored and reported.
    internalsOf(session).sealed = true;
    if (session.persist) await this.#persist(session, reason, visibleId);
    await disposeLive(session.live, id, this.#settings.hookTimeout, report);
    internalsOf(session).state = 'closed';
    this.#emitSafely('close', session, reason);
  }

  async #persist(session: LiveSession<TData>, reason: CloseReason, visibleId: string): Promise<void> {
    const closedAt = this.#now();
    const snapshot: Snapshot<TData> = {
      version: 1,
      key: session.hasCustomPersistKey ? session.persistKey : visibleId,
      sessionId: visibleId,
      data: session.rawData,
      createdAt: session.createdAt,
      closedAt,
      reason,
    };
    let encoded;
    try {
      encoded = encodeSnapshot(snapshot, this.#settings.maxSnapshotBytes);
    } catch (error) {
      this.#counters.persistFailures += 1;
      this.#gaveUp(snapshot, error as RepriseError);
      return;
    }
    for (const dropped of encoded.dropped) this.#report(dropped);
    const expiresAt = closedAt + this.#settings.snapshotTtl;
    const writes = [this.#queue.write(snapshot.key, encoded.text, expiresAt, snapshot)];
    if (session.hasCustomPersistKey && isInvoluntary(reason)) {
      const pointer = encodePointer({ version: 1, key: snapshot.key, sessionId: snapshot.sessionId, reason, closedAt });
      writes.push(this.#queue.write(snapshot.sessionId, pointer, expiresAt, undefined));
    }
    await Promise.all(writes);
  }

  /** Whether a session created at the snapshot's `createdAt` is still within the absolute timeout. */
  #withinAbsolute(snapshot: Snapshot): boolean {
    const { absoluteTimeout } = this.#settings;
    return absoluteTimeout === undefined || snapshot.createdAt + absoluteTimeout > this.#now();
  }

  /**
   * Writes a taken snapshot back where it was (a restore that could not use it), unless a newer
   * record is there already. The pointer it may have come through was left in place.
   */
  async #putBack(snapshot: Snapshot<TData>): Promise<void> {
    try {
      const expiresAt = snapshot.closedAt + this.#settings.snapshotTtl;
      await this.#reader.putBack(snapshot.key, encodeSnapshot(snapshot, Infinity).text, expiresAt, snapshot);
    } catch (error) {
      this.#gaveUp(snapshot, error as RepriseError);
    }
  }

  async #resumeClosed(id: string): Promise<LiveSession<TData> | undefined> {
    const fromCookie: SnapshotFilter = (snapshot) =>
      snapshot.sessionId === id && isInvoluntary(snapshot.reason) && this.#withinAbsolute(snapshot);
    const taken = await this.#take(id, fromCookie, true);
    if (taken === undefined) return undefined;
    const session = await this.#revive(taken);
    if (session.state === 'live') {
      this.#forwards.set(id, session);
      this.#forwardOf.set(session, id);
    }
    return session;
  }

  /**
   * Takes a snapshot for a restore. A corrupt or refused one is reported and skipped (`undefined`).
   * A store failure is reported too; with `rethrow` it then rejects, so the caller can tell "nothing
   * to restore" from "could not look" (the snapshot may still be there).
   */
  async #take(key: string, accept: SnapshotFilter, rethrow = false): Promise<Taken<TData> | undefined> {
    try {
      return (await this.#reader.take(key, accept)) as Taken<TData> | undefined;
    } catch (cause) {
      this.#counters.restoreFailures += 1;
      const corrupt = cause instanceof CodecError;
      const message = corrupt ? `snapshot ${JSON.stringify(key)} refused: ${cause.message}` : `could not read snapshot ${JSON.stringify(key)}`;
      const error = new RestoreError(key, message, { cause });
      this.#report(error);
      if (rethrow && !corrupt) throw error;
      return undefined;
    }
  }

  /**
   * A restored snapshot becomes a new live session with a new id, held busy while the restore hooks
   * run, then kept out of the eviction order until a request acquires it (its caller has to deliver
   * the new id first, as for a created session); it still expires.
   */
  async #revive({ snapshot, pointer }: Taken<TData>): Promise<LiveSession<TData>> {
    await this.#reader.discard(pointer);
    this.#makeRoom();
    const session = new LiveSession<TData>(this, newSessionId(), snapshot.data, snapshot.createdAt, this.#now());
    internalsOf(session).isNew = false;
    if (snapshot.key !== snapshot.sessionId && !isSessionId(snapshot.key)) session.persistKey = snapshot.key;
    this.#register(session);
    this.#hold(session);
    try {
      await this.#afterRestore(session, snapshot);
    } finally {
      internalsOf(session).unclaimed = true;
      this.release(session);
    }
    return session;
  }

  async #afterRestore(session: LiveSession<TData>, snapshot: Snapshot<TData>): Promise<void> {
    await runHooks('restore', this.#restoreHooks, [session, snapshot], session.id, this.#settings.hookTimeout, (error) => this.#hookFailed(error));
    this.#counters.restored += 1;
    this.#emitSafely('restore', session, snapshot);
  }

  #hookFailed(error: RepriseError): void {
    this.#counters.hookErrors += 1;
    this.#report(error);
  }

  #persistFailed(error: PersistError, first: boolean): void {
    this.#counters.persistFailures += 1;
    if (first) this.#report(error);
  }

  #gaveUp(snapshot: Snapshot<TData> | undefined, error: RepriseError): void {
    if (snapshot === undefined) {
      this.#report(error);
      return;
    }
    this.#counters.persistGivenUp += 1;
    if (this.listenerCount('persistFailed') > 0) this.#emitSafely('persistFailed', snapshot, error);
    else this.#report(new PersistError(snapshot.key, `snapshot of session ${snapshot.sessionId} lost (no 'persistFailed' listener): ${error.message}`, { cause: error }));
  }

  #report(error: RepriseError): void {
    if (this.listenerCount('error') === 0) {
      process.emitWarning(error);
      return;
    }
    try {
      this.emit('error', error);
    } catch (thrown) {
      process.emitWarning(new ListenerError('error', thrown));
    }
  }

  /** Emits an event; a listener that throws is reported, never allowed to break a close or a restore. */
  #emitSafely<K extends 'close' | 'restore' | 'persistFailed'>(event: K, ...args: ManagerEvents<TData>[K]): void {
    try {
      (this.emit as (name: K, ...rest: ManagerEvents<TData>[K]) => boolean)(event, ...args);
    } catch (thrown) {
      this.#report(new ListenerError(event, thrown));
    }
  }
}
