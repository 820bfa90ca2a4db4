import { ExpiryTimer, type Pacer } from './expiry-timer.js';
import { internalsOf, type LiveSession } from './live-session.js';
import { RecencyList } from './recency-list.js';
import type { Settings } from './options.js';
import type { SessionData } from './types.js';

/** What the registry asks of its manager. */
export interface RegistryEvents<TData extends SessionData> {
  /** A session's idle or absolute deadline passed while it was idle: close it ('expired'). */
  expired(session: LiveSession<TData>): void;
  /** The cap needs this idle session's slot: close it ('evicted'). */
  evict(session: LiveSession<TData>): void;
}

/**
 * The live sessions of a manager: a map by id, the eviction order of the idle ones, their deadlines
 * on one timer, and which are busy (held by a request: never evicted nor expired). Every operation
 * is O(1) or O(log n); nothing scans all sessions.
 *
 * The eviction order is a segmented LRU (as segmented LRU and Caffeine's W-TinyLFU keep one): idle
 * sessions whose visitor never came back after the creating request (the probation segment) go
 * first, least recently active first; only when none is idle does the least recently active
 * returning visitor go. So a flood of one-shot sessions (cookie-less writing requests) evicts only
 * its own kind, never a visitor who returned.
 */
export class Registry<TData extends SessionData> {
  readonly #live = new Map<string, LiveSession<TData>>();
  /** Idle sessions whose visitor never came back: evicted first. */
  readonly #probation = new RecencyList<LiveSession<TData>>();
  /** Idle sessions of returning visitors: evicted only when no probation session is idle. */
  readonly #returning = new RecencyList<LiveSession<TData>>();
  readonly #timer: ExpiryTimer<LiveSession<TData>>;
  readonly #settings: Readonly<Settings>;
  readonly #now: () => number;
  readonly #events: RegistryEvents<TData>;
  readonly #pacer: Pacer;
  #busy = 0;
  #drained: (() => void) | undefined;
  /** A paced {@link shrinkToCap} waits for its next slice. */
  #shrinking = false;

  /** @param pacer spreads expiries and cap evictions that come in bursts over turns of the event loop. */
  constructor(settings: Readonly<Settings>, now: () => number, events: RegistryEvents<TData>, pacer: Pacer) {
    this.#settings = settings;
    this.#now = now;
    this.#events = events;
    this.#pacer = pacer;
    this.#timer = new ExpiryTimer(
      now,
      (session) => {
        const state = internalsOf(session);
        if (state.state === 'live' && state.busy === 0) events.expired(session);
      },
      pacer,
    );
  }

  /** Live sessions. */
  get size(): number {
    return this.#live.size;
  }

  /** Sessions with a request in flight. */
  get busy(): number {
    return this.#busy;
  }

  get(id: string): LiveSession<TData> | undefined {
    return this.#live.get(id);
  }

  has(id: string): boolean {
    return this.#live.has(id);
  }

  /** Every live session (a copy, for shutdown). */
  all(): LiveSession<TData>[] {
    return [...this.#live.values()];
  }

  /** Adds a new or restored session, active now. */
  add(session: LiveSession<TData>): void {
    this.#live.set(session.id, session);
    this.markActive(session);
  }

  /** Takes a session out (its close began): no more eviction, expiry or lookup. */
  remove(session: LiveSession<TData>): void {
    this.#live.delete(session.id);
    this.#segment(session).delete(session);
    this.#timer.cancel(session);
  }

  /** Files a session under its new id (`regenerate()`). */
  rename(session: LiveSession<TData>, oldId: string): void {
    this.#live.delete(oldId);
    this.#live.set(session.id, session);
  }

  /**
   * A request starts on the session: busy, out of the eviction order, activity now. A request after
   * the one that created the session ended makes it a returning visitor's.
   */
  hold(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    state.busy += 1;
    if (state.busy === 1) {
      this.#busy += 1;
      this.#segment(session).delete(session);
    }
    if (!state.isNew) state.returning = true;
    state.lastActiveAt = this.#now();
    // The heap keeps the older, earlier deadline: it fires, finds the session busy and drops it;
    // release() schedules the new one. So a request costs no heap operation here.
    state.expiresAt = this.#expiryFrom(session, state.lastActiveAt);
  }

  /** A request ends; `true` when that made a live session idle (the caller enforces the cap). */
  release(session: LiveSession<TData>): boolean {
    const state = internalsOf(session);
    if (state.busy === 0) return false;
    state.busy -= 1;
    if (state.busy > 0) return false;
    state.isNew = false;
    this.#busy -= 1;
    if (this.#busy === 0) this.#drained?.();
    if (state.state !== 'live') return false;
    this.markActive(session);
    return true;
  }

  /** Activity: expiry slid, and the most recent in the eviction order when idle. */
  markActive(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    state.lastActiveAt = this.#now();
    state.expiresAt = this.#expiryFrom(session, state.lastActiveAt);
    this.#timer.schedule(session, state.expiresAt);
    if (state.busy === 0) this.#segment(session).touch(session);
  }

  /** Makes the session a returning visitor's (out of the probation segment), keeping its recency. */
  promote(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    if (state.returning) return;
    const idle = this.#probation.delete(session);
    state.returning = true;
    if (idle) this.#returning.touch(session);
  }

  /** Idle sessions in the probation segment (never came back), and of returning visitors. */
  get segments(): { probation: number; returning: number } {
    return { probation: this.#probation.size, returning: this.#returning.size };
  }

  /** Evicts until one more session fits under the cap (or no idle session is left), at once. */
  makeRoom(): void {
    this.#evictWhile(() => this.#live.size >= this.#settings.maxSessions);
  }

  /**
   * Evicts until the cap holds again (or no idle session is left). Paced: past one slice of
   * closes (a lowered `maxSessions`), the rest go in later slices, and the cap holds again then.
   */
  shrinkToCap(): void {
    if (this.#shrinking) return;
    const overCap = (): boolean => this.#live.size > this.#settings.maxSessions;
    this.#evictWhile(overCap, this.#pacer);
    if (!overCap() || (this.#probation.size === 0 && this.#returning.size === 0)) return;
    this.#shrinking = true;
    void this.#pacer.next().then(() => {
      this.#shrinking = false;
      this.shrinkToCap();
    });
  }

  /** Resolves when no session is busy, or after `timeoutMs` ms. */
  async waitForIdle(timeoutMs: number): Promise<void> {
    if (this.#busy === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#drained = undefined;
  }

  /** Stops the timer for good. */
  stop(): void {
    this.#timer.stop();
  }

  /** When a session active at `activeAt` expires: idle timeout, capped by the absolute timeout. */
  #expiryFrom(session: LiveSession<TData>, activeAt: number): number {
    const { idleTimeout, absoluteTimeout } = this.#settings;
    const absolute = absoluteTimeout === undefined ? Infinity : session.createdAt + absoluteTimeout;
    return Math.min(activeAt + idleTimeout, absolute);
  }

  /** The eviction list the session belongs to while idle. */
  #segment(session: LiveSession<TData>): RecencyList<LiveSession<TData>> {
    return internalsOf(session).returning ? this.#returning : this.#probation;
  }

  #evictWhile(overCap: () => boolean, pacer?: Pacer): void {
    while (overCap()) {
      if (pacer !== undefined && !pacer.take()) return;
      const victim = this.#probation.oldest() ?? this.#returning.oldest();
      if (victim === undefined) return;
      // The close takes it out of the registry synchronously, so the loop moves on.
      this.#events.evict(victim);
      this.#segment(victim).delete(victim);
    }
  }
}
