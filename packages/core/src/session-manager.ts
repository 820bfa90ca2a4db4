import { EventEmitter } from 'node:events';
import { Checkpointer } from './checkpointer.js';
import { Coordination } from './coordination.js';
import { ClosePacer } from './close-pacer.js';
import { checkpointText, decodeRecord, encodeSnapshot } from './codec.js';
import {
  AdapterError,
  OptionError,
  PersistError,
  RepriseError,
  RestoreError,
  SessionClosedError,
  SessionUnavailableError,
} from './errors.js';
import { disposeLive, runHooks } from './hooks.js';
import { timeHooks } from './instrumentation.js';
import { keepAlive } from './keep-alive.js';
import { KeyLock } from './key-lock.js';
import { LiveSession, internalsOf } from './live-session.js';
import {
  parseHooks,
  parseManagerOptions,
  parseRuntimeOption,
  type RuntimeOptionName,
  type SessionManagerOptions,
  type Settings,
} from './options.js';
import { PersistQueue } from './persist-queue.js';
import { Registry } from './registry.js';
import { describeKey, redactId } from './redact.js';
import { newSessionId } from './session-id.js';
import { SnapshotReader, isInvoluntary } from './snapshot-reader.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { Restorer, type Resumption } from './restorer.js';
import { sealedAdapter } from './sealed-adapter.js';
import { normalizeSnapshotEncryption } from './snapshot-keys.js';
import { Reporter, type ManagerEvents } from './reporter.js';
import { newCounters, type Counters, type ManagerStats } from './stats.js';
import { Store } from './store.js';
import type {
  CloseHook,
  CloseReason,
  RestoreHook,
  SessionAdapter,
  SessionData,
  Snapshot,
  SnapshotReason,
  VersionedValue,
} from './types.js';
import { VersionClock } from './version-clock.js';

export type { ManagerEvents } from './reporter.js';
export type { Resumption } from './restorer.js';

/** Whether `data` has no own enumerable key. */
function isEmpty(data: object): boolean {
  for (const _ in data) return false;
  return true;
}

/** Rounds of restore-wait and close that `shutdown()` runs at most before it flushes the queue. */
const MAX_SHUTDOWN_ROUNDS = 1000;

const CLOSE_REASONS: ReadonlySet<string> = new Set<CloseReason>(['evicted', 'expired', 'closed', 'shutdown']);

/**
 * The engine: a registry of live sessions with a cap (least recently active idle session evicted),
 * idle and absolute timeouts on one timer, closing hooks run exactly once per live context, snapshots
 * persisted through the adapter behind a retry queue with ordered writes, and restores under the
 * session's own id. Framework-free; bindings drive it per request through `SessionRequest`.
 */
export class SessionManager<TData extends SessionData = SessionData> extends EventEmitter<ManagerEvents<TData>> {
  // The manager is the `SessionOwner` of its sessions, checked where it passes itself to them, with no
  // `implements` clause: the owner's methods are internal, stripped from the published declarations.

  /** The adapter snapshots go to. The manager never closes it: its owner does. */
  readonly adapter: SessionAdapter;
  readonly #settings: Settings;
  readonly #now: () => number;
  readonly #closeHooks: CloseHook<TData>[];
  readonly #restoreHooks: RestoreHook<TData>[];
  readonly #registry: Registry<TData>;
  readonly #closing = new Map<string, Promise<CloseReason>>();
  /** Spreads bursts of closes (expiries, a lowered cap, a shutdown) over turns of the event loop. */
  readonly #pacer = new ClosePacer(() => this.#closing.size);
  /** Restores in flight: `shutdown()` waits for them. */
  readonly #restoring = new Set<Promise<unknown>>();
  readonly #store: Store;
  readonly #queue: PersistQueue<Snapshot<TData> | undefined>;
  readonly #reader: SnapshotReader;
  readonly #writer: SnapshotWriter;
  readonly #restorer: Restorer<TData>;
  readonly #checkpointer: Checkpointer<TData>;
  /** Several instances: leases, versions, hand-overs (`undefined` without a coordinator). */
  readonly #coordination: Coordination | undefined;
  /** Requests waiting for a session to become idle (a hand-over waits so), by session. */
  readonly #idleWaiters = new Map<LiveSession<TData>, (() => void)[]>();
  readonly #counters: Counters = newCounters();
  readonly #reporter = new Reporter<TData>(this, this.#counters);
  /** Reports a hook (or disposal) that threw or passed its time. */
  readonly #hookFailed = (error: RepriseError): void => this.#reporter.hookFailed(error);
  #shuttingDown = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: SessionManagerOptions<TData>) {
    super();
    const parsed = parseManagerOptions(options);
    this.adapter = parsed.adapter;
    this.#settings = parsed.settings;
    this.#now = parsed.now;
    this.#closeHooks = parsed.onClose;
    this.#restoreHooks = parsed.onRestore;
    this.#registry = new Registry(
      this.#settings,
      this.#now,
      {
        expired: (session) => void this.#close(session, 'expired'),
        evict: (session) => void this.#close(session, 'evicted'),
      },
      this.#pacer,
    );
    // With snapshotKeys every value is sealed on its way to the adapter and opened on its way back.
    const encryption = normalizeSnapshotEncryption(options);
    this.#store = new Store(
      encryption === undefined ? this.adapter : sealedAdapter(this.adapter, encryption, () => this.#settings.snapshotTtl),
      () => this.#settings.adapterTimeout,
    );
    this.#store.owner = this;
    const clock = new VersionClock(this.#now);
    const coordination = parsed.coordination(this.#store.ordered);
    this.#coordination =
      coordination === undefined
        ? undefined
        : new Coordination({
            settings: coordination,
            clock,
            report: (error) =>
              this.#reporter.report(
                error instanceof RepriseError
                  ? error
                  : new AdapterError(
                      'ERR_REPRISE_ADAPTER',
                      `coordinator ${coordination.coordinator.name}: ${String((error as Error)?.message ?? error)}`,
                      { cause: error },
                    ),
              ),
            handover: (sessionId) => this.#handOver(sessionId),
            lost: (sessionId) => this.#dropLost(sessionId),
            settled: (key) => this.#queue.whenIdle(key),
            deadline: (sessionId) => Math.ceil(this.#registry.get(sessionId)?.expiresAt ?? this.#now() + this.#settings.idleTimeout),
            adopt: async (sessionId) => {
              await this.#restorer.adopt(sessionId, (session) => this.#close(session, 'expired'));
            },
          });
    this.#queue = new PersistQueue(this.#store, this.#now, () => this.#settings.maxPendingPersists, {
      failed: (error, first) => this.#reporter.persistFailed(error, first),
      gaveUp: (snapshot, error) =>
        snapshot?.reason === 'checkpoint' ? this.#checkpointGivenUp(snapshot, error) : this.#reporter.gaveUp(snapshot, error),
      written: (snapshot) => {
        if (snapshot?.reason === 'checkpoint') this.#counters.checkpoints += 1;
        else if (snapshot !== undefined) this.#counters.persisted += 1;
      },
      superseded: (snapshot) => {
        if (snapshot !== undefined && snapshot.reason !== 'checkpoint') this.#counters.superseded += 1;
      },
    });
    const queue = this.#queue as PersistQueue<Snapshot | undefined>;
    const locks = new KeyLock();
    this.#reader = new SnapshotReader(this.#store, queue, clock, (closedAt) => closedAt + this.#settings.snapshotTtl, this.#now, locks);
    this.#writer = new SnapshotWriter({
      store: this.#store,
      queue,
      reader: this.#reader,
      clock,
      version: this.#coordination === undefined ? () => clock.next() : (key) => this.#coordination!.version(key),
      locks,
      snapshotTtl: () => this.#settings.snapshotTtl,
      maxSnapshotBytes: () => this.#settings.maxSnapshotBytes,
      report: (error) => this.#reporter.report(error),
      gaveUp: (snapshot, error) => {
        this.#counters.persistFailures += 1;
        this.#reporter.gaveUp(snapshot as Snapshot<TData>, error);
      },
      superseded: () => {
        this.#counters.superseded += 1;
      },
    });
    this.#checkpointer = new Checkpointer<TData>({
      interval: () => this.#settings.checkpointInterval,
      encode: (session) => this.#encodeCheckpoint(session),
      write: (snapshot, text) => this.#writer.checkpoint(snapshot, text),
    });
    this.#store.lateTake = (key, taken, needed) => void this.#track(this.#putBackLate(key, taken, needed));
    this.#restorer = new Restorer<TData>({
      owner: this,
      registry: this.#registry,
      reader: this.#reader,
      writer: this.#writer,
      reporter: this.#reporter,
      counters: this.#counters,
      settings: this.#settings,
      restoreHooks: this.#restoreHooks,
      now: this.#now,
      closing: (id) => this.#closing.get(id),
      shuttingDown: () => this.#shuttingDown,
      track: (work) => this.#track(work),
      unavailable: (why, cause) => this.unavailable(why, cause),
      release: (session) => this.release(session),
      restored: (session, taken) =>
        void this.#checkpointer.writeNow(session, taken === undefined ? undefined : (live) => this.#encodeCheckpoint(live, taken)),
      coordination: this.#coordination,
    });
    this.#coordination?.start();
  }

  /** Whether `shutdown()` has begun. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Live sessions (closing ones excluded). */
  get size(): number {
    return this.#registry.size;
  }

  /** Whether the adapter offers ordered (conditional) writes; see `SessionAdapter`. */
  get ordered(): boolean {
    return this.#store.ordered;
  }

  /** The current value of a run-time option. */
  getOption<K extends RuntimeOptionName>(name: K): Settings[K] {
    return this.#settings[name];
  }

  /**
   * Changes an option at run time (4D WEB SET OPTION). Lowering `maxSessions` evicts through the
   * closing hooks, starting at once and in paced slices (see "Close bursts" in the README), so the cap
   * holds again once they are done; a new `idleTimeout` or `absoluteTimeout` applies to each session
   * from its next activity. A new `checkpointInterval` applies from the next pass.
   */
  setOption<K extends RuntimeOptionName>(name: K, value: Settings[K]): void {
    this.#settings[name] = parseRuntimeOption(name, value);
    if (name === 'maxSessions') this.#registry.shrinkToCap();
  }

  /** Adds a closing hook (after those already registered). */
  onClose(hook: CloseHook<TData>): this {
    this.#closeHooks.push(...parseHooks('onClose', hook));
    return this;
  }

  /** Adds a restore hook (after those already registered). */
  onRestore(hook: RestoreHook<TData>): this {
    this.#restoreHooks.push(...parseHooks('onRestore', hook));
    return this;
  }

  /**
   * Creates a live session holding `data` (default `{}`). At the cap, the least recently active idle
   * session is evicted first; when every session is busy, the new one is admitted over the cap.
   * @throws SessionUnavailableError once `shutdown()` has begun (nothing created then could be kept).
   */
  create(data?: TData): LiveSession<TData> {
    if (this.#shuttingDown) throw this.unavailable('shutdown');
    const now = this.#now();
    // Built (and its data checked) before making room, so refused data evicts nobody.
    const session = new LiveSession<TData>(this, newSessionId(), data ?? ({} as TData), now, now);
    this.#registry.makeRoom();
    this.#registry.add(session);
    this.#coordination?.adopt(session.id);
    this.#counters.created += 1;
    this.#checkpointer.mark(session);
    return session;
  }

  /** The live session with this id, without touching it. */
  get(id: string): LiveSession<TData> | undefined {
    return this.#registry.get(id);
  }

  /**
   * Every live session (closing ones excluded), in no particular order, without touching any: for
   * admin views and diagnostics. O(n): a snapshot array, so closing sessions while iterating is safe.
   */
  sessions(): LiveSession<TData>[] {
    return this.#registry.all().filter((session) => session.state === 'live');
  }

  /**
   * Marks activity on a live session: expiry slid, and most recent in the eviction order as a
   * returning visitor's (out of the probation segment that the cap empties first). `false` if unknown.
   */
  touch(id: string): boolean {
    const session = this.#registry.get(id);
    if (session === undefined) return false;
    this.#registry.promote(session);
    this.#registry.markActive(session);
    this.#checkpointer.mark(session);
    return true;
  }

  /**
   * Starts a request on a live session: it becomes busy (never evicted nor expired) until
   * {@link release}. Marks activity. `undefined` when no live session has this id.
   */
  acquire(id: string): LiveSession<TData> | undefined {
    const session = this.#registry.get(id);
    if (session !== undefined) this.#registry.hold(session);
    return session;
  }

  /**
   * Ends a request started with {@link acquire} or {@link resume}. The session becomes idle when no
   * other request holds it; then its idle expiry restarts and the cap is enforced.
   */
  release(session: LiveSession<TData>): void {
    if (!this.#registry.release(session)) return;
    this.#wakeIdleWaiters(session);
    if (this.#shuttingDown) {
      void this.#close(session, 'shutdown');
      return;
    }
    this.#checkpointer.mark(session);
    this.#registry.shrinkToCap();
  }

  /**
   * Closes a live session (4D WEB LEGACY CLOSE SESSION): closing hooks, snapshot, disposal.
   * Resolves `true` for the call that closed it, `false` when the session is unknown, closing or closed.
   * @param reason default `'closed'`.
   */
  close(id: string, reason: CloseReason = 'closed'): Promise<boolean> {
    if (!CLOSE_REASONS.has(reason)) return Promise.reject(new OptionError(`close: unknown reason ${JSON.stringify(reason)}`));
    const session = this.#registry.get(id);
    return session === undefined ? Promise.resolve(false) : this.#close(session, reason).then(Boolean);
  }

  /** When the session expires if it stays idle, in ms since the epoch (4D WEB LEGACY GET SESSION EXPIRATION). */
  getExpiration(id: string): number | undefined {
    return this.#registry.get(id)?.expiresAt;
  }

  /**
   * Restores the snapshot stored under `key` (or named by a pointer there) into a live session under
   * the snapshot's own session id; `undefined` when there is none, it cannot be read (reported), or
   * a session with that id is live already.
   */
  restore(key: string): Promise<LiveSession<TData> | undefined> {
    return this.#restorer.restore(key);
  }

  /**
   * What a returning cookie's id leads to (see {@link Resumption}): the live session, or after an
   * involuntary close (evicted, expired, shutdown) its snapshot restored under the same id; a close
   * in progress is waited for. Concurrent calls for one id share one restore, and each gets the
   * session held for it (release it with {@link release}). Once `shutdown()` has begun nothing is
   * restored (`unavailable`): the snapshot stays for the next process.
   */
  resume(id: string): Promise<Resumption<TData>> {
    return this.#restorer.resume(id);
  }

  /**
   * Several instances: the lease claim of the session `id` (created here) in flight, resolving once
   * it settled; `undefined` when there is nothing to wait for (no coordinator, no claim in flight). A
   * binding waits for it before a response hands out a new session's cookie: otherwise the visitor's
   * next request, reaching another instance first, could find the id unclaimed and nothing stored,
   * and start a new session. Never rejects; bounded by `handoverTimeout` when another instance holds
   * the id.
   */
  leased(id: string): Promise<void> | undefined {
    return this.#coordination?.leased(id);
  }

  /**
   * Several instances: one adoption pass now (a timer runs one every `leaseMs`). The sessions of
   * instances that died, whose idle deadline passed and whose visitors never came back, are claimed
   * (one instance wins each), restored here from their checkpoint and closed with `'expired'`: their
   * closing hooks run once, here. Resolves how many sessions the pass took up (0 without a
   * coordinator, while renewals fail, or when a pass is running); `stats().adoptions` counts those
   * restored.
   */
  adoptOrphans(): Promise<number> {
    return this.#coordination?.adoptOrphans() ?? Promise.resolve(0);
  }

  /** A {@link SessionUnavailableError} with the configured `retryAfter`. */
  unavailable(why: 'store' | 'shutdown' | 'owner', cause?: unknown): SessionUnavailableError {
    return new SessionUnavailableError(why, this.#settings.retryAfter, cause === undefined ? undefined : { cause });
  }

  /** Moves a live session to a new id; the old id stops working at once. No hook runs. */
  regenerate(session: LiveSession<TData>): string {
    const state = internalsOf(session);
    if (state.state !== 'live')
      throw new SessionClosedError(redactId(state.id), `cannot regenerate session ${redactId(state.id)}: it is ${state.state}`);
    const oldId = state.id;
    state.id = newSessionId();
    this.#registry.rename(session, oldId);
    this.#restorer.forget(oldId);
    // The old id must restore nothing: its checkpoint is erased, and the session is written under the new one.
    if (this.#hasRecord(session)) void this.#writer.erase(oldId, this.#now());
    state.storedUnderId = false;
    this.#checkpointer.reset(session);
    this.#coordination?.adopt(state.id);
    this.#coordination?.closed(oldId);
    return state.id;
  }

  /** @internal Merges the snapshot under `key` into `session` (snapshot keys win); `true` when one was found. */
  restoreInto(session: LiveSession<TData>, key: string): Promise<boolean> {
    return this.#restorer.restoreInto(session, key);
  }

  /** @internal A write to a closed session: a `SessionUnavailableError` after a shutdown close, else ignored and reported. */
  reportWriteAfterClose(session: LiveSession<TData>, property: PropertyKey): void {
    this.#counters.writesAfterClose += 1;
    if (session.closeReason === 'shutdown') throw this.unavailable('shutdown');
    // Handed over to another instance (or its lease lost): the write belongs there; nothing is acknowledged here.
    if (session.closeReason === 'handover') throw this.unavailable('owner');
    const id = redactId(session.id);
    this.#reporter.report(new SessionClosedError(id, `write to ${String(property)} of session ${id} after its close was ignored`));
  }

  /** Counters and gauges; see {@link ManagerStats}. */
  stats(): ManagerStats {
    const c = this.#counters;
    return {
      ...c,
      closed: { ...c.closed },
      live: this.#registry.size,
      busy: this.#registry.busy,
      closing: this.#closing.size,
      overCap: Math.max(0, this.#registry.size - this.#settings.maxSessions),
      probation: this.#registry.segments.probation,
      pendingPersists: this.#queue.pending,
      retryingPersists: this.#queue.retrying,
      leases: this.#coordination?.held ?? 0,
    };
  }

  /**
   * Stops: waits up to `shutdownTimeout` ms for requests in flight, closes every live session with
   * `'shutdown'` (each hook bounded by `hookTimeout`), then retries the snapshot writes for up to
   * `shutdownTimeout` ms (each adapter call bounded by `adapterTimeout`); what is still not written
   * goes to `'persistFailed'`. Holds the event loop open until it resolves. Requests that arrive
   * meanwhile cannot create or restore a session (`SessionUnavailableError`). Does not close the
   * adapter. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#runShutdown();
    return this.#shutdown;
  }

  async #runShutdown(): Promise<void> {
    this.#shuttingDown = true;
    const letGo = keepAlive();
    try {
      // The close of each session writes it; a pass already running only finishes issuing its writes.
      await this.#checkpointer.stop();
      await this.#registry.waitForIdle(this.#settings.shutdownTimeout);
      // Every session closes now: no deadline matters any more, and taking them all off the timer
      // at once spares each close a removal from the deadline heap.
      this.#registry.stop();
      // Until nothing is left: a restore in flight brings a live session back, which must close too.
      for (let round = 0; round < MAX_SHUTDOWN_ROUNDS; round++) {
        await Promise.allSettled(this.#restoring);
        await this.#closeAll();
        await Promise.all(this.#closing.values());
        if (this.#restoring.size === 0 && this.#registry.size === 0 && this.#closing.size === 0) break;
      }
      await this.#queue.flush(this.#settings.shutdownTimeout);
      await this.#coordination?.stop(this.#settings.shutdownTimeout);
    } finally {
      letGo();
    }
  }

  /** Closes every live session with 'shutdown', in paced slices (see `ClosePacer`). */
  async #closeAll(): Promise<void> {
    const closes: Promise<unknown>[] = [];
    for (const session of this.#registry.all()) {
      while (!this.#pacer.take()) await this.#pacer.next();
      closes.push(this.#close(session, 'shutdown'));
    }
    await Promise.all(closes);
  }

  /**
   * Several instances: another instance asks for `sessionId`. A live session here is closed with
   * `'handover'` once the requests in flight on it ended (or after `handoverTimeout`: their later
   * writes then answer 503); a closing one is waited for. The coordination then waits for the
   * close's writes to settle and releases the lease.
   */
  async #handOver(sessionId: string): Promise<void> {
    const session = this.#registry.get(sessionId);
    if (session === undefined) {
      await this.#closing.get(sessionId);
      return;
    }
    await this.#whenIdle(session, this.#coordination?.handoverTimeout ?? 0);
    if (await this.#close(session, 'handover')) this.#counters.handoversOut += 1;
    else await this.#closing.get(sessionId);
  }

  /**
   * Several instances: the lease of `sessionId` was lost to another instance (this one stalled past
   * it). The copy here is stale: it is dropped without hooks and without writes (the new owner runs
   * them), and its live resources are disposed. Writes to it answer 503.
   */
  #dropLost(sessionId: string): void {
    const session = this.#registry.get(sessionId);
    if (session === undefined) return;
    const state = internalsOf(session);
    state.state = 'closing';
    state.closeReason = 'handover';
    state.sealed = true;
    this.#registry.remove(session);
    this.#checkpointer.drop(session);
    this.#counters.leasesLost += 1;
    const report = (error: RepriseError): void => this.#reporter.hookFailed(error);
    void this.#track(
      disposeLive(session.liveIfUsed, redactId(sessionId), this.#settings.hookTimeout, report).then(() => {
        state.state = 'closed';
      }),
    );
  }

  /** Resolves when `session` has no request in flight (or is no longer live), or after `timeoutMs`. */
  async #whenIdle(session: LiveSession<TData>, timeoutMs: number): Promise<void> {
    if (!session.busy || session.state !== 'live') return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      const waiting = this.#idleWaiters.get(session) ?? [];
      waiting.push(resolve);
      this.#idleWaiters.set(session, waiting);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  #wakeIdleWaiters(session: LiveSession<TData>): void {
    const waiting = this.#idleWaiters.get(session);
    if (waiting === undefined) return;
    this.#idleWaiters.delete(session);
    for (const resolve of waiting) resolve();
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

  /**
   * The one close path every reason goes through. Synchronously leaves the registry, so it runs once.
   * Resolves the reason once the close is done (`false`: the session was not live): one promise per
   * close, the one `#closing` holds, so a close adds no promise around it.
   */
  #close(session: LiveSession<TData>, reason: CloseReason): Promise<CloseReason | false> {
    const state = internalsOf(session);
    if (state.state !== 'live') return Promise.resolve(false);
    state.state = 'closing';
    state.closeReason = reason;
    const id = state.id;
    this.#registry.remove(session);
    this.#checkpointer.drop(session);
    this.#counters.closed[reason] += 1;
    const done = this.#runClose(session, reason, id);
    this.#closing.set(id, done);
    return done;
  }

  /**
   * The close of `session` (under `id`): hooks, snapshot, erase, disposal, then out of `#closing`.
   * What has nothing to do (no hooks, no live resources, nothing to write) awaits nothing.
   */
  async #runClose(session: LiveSession<TData>, reason: CloseReason, id: string): Promise<CloseReason> {
    try {
      // Hooks start on a later tick, so that a hook that creates a session (and so evicts) cannot
      // re-enter the eviction loop of the create() that started this close.
      await null;
      if (this.#closeHooks.length > 0) {
        await timeHooks(this, 'close', reason, this.#closeHooks.length, () =>
          runHooks('closing', this.#closeHooks, [session, reason], redactId(session.id), this.#settings.hookTimeout, this.#hookFailed),
        );
      }
      // The snapshot is taken now: later writes to data are not in it, so they are refused or reported.
      internalsOf(session).sealed = true;
      const writes = session.persist && (isInvoluntary(reason) || session.hasCustomPersistKey);
      if (writes) await this.#writer.write(this.#snapshotOf(session, reason));
      // An involuntary close's record under the id (snapshot or pointer) replaces its checkpoint; otherwise it is erased.
      if (this.#hasRecord(session) && !(writes && isInvoluntary(reason))) await this.#writer.erase(session.id, this.#now());
      const live = session.liveIfUsed;
      if (live !== undefined && live.size > 0) await disposeLive(live, redactId(session.id), this.#settings.hookTimeout, this.#hookFailed);
      internalsOf(session).state = 'closed';
      this.#reporter.emit('close', session, reason);
      return reason;
    } finally {
      this.#closing.delete(id);
      this.#pacer.closed();
      this.#coordination?.closed(id);
    }
  }

  /** Whether the store may hold a record under `session`'s id that a close or regenerate must replace or erase. */
  #hasRecord(session: LiveSession<TData>): boolean {
    return this.#checkpointer.wrote(session) || internalsOf(session).storedUnderId === true;
  }

  /**
   * A checkpoint of `session` and its text, `undefined` when there is nothing worth writing (no data,
   * no key of its own, no checkpoint yet) or it cannot be encoded (too large: reported; values the
   * codec drops are reported at the close, not at every checkpoint).
   */
  #encodeCheckpoint(
    session: LiveSession<TData>,
    taken?: { readonly snapshot: Snapshot; readonly text: string },
  ): { snapshot: Snapshot<TData>; text: string } | undefined {
    if (!this.#hasRecord(session) && !session.hasCustomPersistKey && isEmpty(session.rawData)) return undefined;
    const snapshot = this.#checkpointOf(session);
    try {
      // Just restored from `taken`, its data untouched yet: its text is reused, the data not encoded again.
      const text = taken === undefined ? undefined : checkpointText(taken.text, taken.snapshot, snapshot);
      return { snapshot, text: text ?? encodeSnapshot(snapshot, this.#settings.maxSnapshotBytes).text };
    } catch (error) {
      this.#reporter.report(
        new PersistError(redactId(session.id), `checkpoint of session ${redactId(session.id)} not written: ${(error as Error).message}`, {
          cause: error,
        }),
      );
      return undefined;
    }
  }

  /**
   * A checkpoint of `session`. Its `closedAt` is the start of the current refresh period (a quarter
   * of `snapshotTtl`, at least one interval), not the current time: an unchanged session then encodes
   * to the same text and is not written again, yet once per period every live session is rewritten,
   * so its checkpoint stays restorable (at least three quarters of `snapshotTtl` ahead).
   */
  #checkpointOf(session: LiveSession<TData>): Snapshot<TData> {
    const now = this.#now();
    const period = Math.max(this.#settings.checkpointInterval, Math.floor(this.#settings.snapshotTtl / 4));
    return { ...this.#snapshotOf(session, 'checkpoint'), closedAt: now - (now % period) };
  }

  /** A checkpoint the write queue gave up (its session is live or has written its close): reported, and written again at the next pass. */
  #checkpointGivenUp(snapshot: Snapshot<TData>, error: RepriseError): void {
    this.#counters.checkpointFailures += 1;
    const session = this.#registry.get(snapshot.sessionId);
    if (session !== undefined) this.#checkpointer.failed(session);
    this.#reporter.report(
      new PersistError(
        redactId(snapshot.sessionId),
        `checkpoint of session ${redactId(snapshot.sessionId)} not written: ${error.message}`,
        { cause: error },
      ),
    );
  }

  #snapshotOf(session: LiveSession<TData>, reason: SnapshotReason): Snapshot<TData> {
    return {
      version: 1,
      key: session.persistKey,
      sessionId: session.id,
      data: session.rawData,
      createdAt: session.createdAt,
      closedAt: this.#now(),
      reason,
    };
  }

  /**
   * A value a timed-out take removed from the store after all: put back exactly where it was (when
   * `needed` resolves true: the caller may know that another copy of it survives).
   */
  async #putBackLate(key: string, { value, version }: VersionedValue, needed?: () => Promise<boolean>): Promise<void> {
    try {
      if (needed !== undefined && !(await needed())) return;
      const record = decodeRecord(value);
      if (record.kind === 'snapshot')
        await this.#writer.putBack({ key, text: value, snapshot: record.snapshot, version, pointer: undefined, lateFence: true });
      else await this.#reader.putBack(key, value, version, undefined, { lateFence: true });
    } catch (error) {
      this.#reporter.report(
        new RestoreError(describeKey(key), `a value taken late from ${describeKey(key)} could not be put back`, { cause: error }),
      );
    }
  }

  /**
   * Reports a problem that was handled: an `'error'` event, or `process.emitWarning` when nobody
   * listens (never a throw). For bindings.
   */
  report(error: RepriseError): void {
    this.#reporter.report(error);
  }
}
