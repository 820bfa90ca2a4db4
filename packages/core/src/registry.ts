import { DeadlineHeap } from './deadline-heap.js';
import { ExpiryTimer, type Pacer } from './expiry-timer.js';
import { IdleList } from './idle-list.js';
import { internalsOf, type LiveSession, type SessionInternals, type Timeouts } from './live-session.js';
import type { Settings } from './options.js';
import type { SessionData } from './types.js';

/** What the registry asks of its manager. */
export interface RegistryEvents<TData extends SessionData> {
  /** A session's idle or absolute deadline passed while it was idle: close it ('expired'). */
  expired(session: LiveSession<TData>): void;
  /** The cap needs this idle session's slot: close it ('evicted'). */
  evict(session: LiveSession<TData>): void;
}

type Node<TData extends SessionData> = SessionInternals<TData>;

/**
 * The live sessions of a manager: a map by id, the eviction order of the idle ones, their deadlines
 * on one timer, and which are busy (held by a request: never evicted nor expired). Every operation
 * is O(1) or O(log n); nothing scans all sessions.
 *
 * The eviction order is a segmented LRU (as segmented LRU and Caffeine's W-TinyLFU keep one): idle
 * sessions whose visitor never came back after the creating request (the probation segment) go
 * first, least recently active first; only when none is idle does the least recently active
 * returning visitor go. So a flood of one-shot sessions (cookie-less writing requests) evicts only
 * its own kind, never a visitor who returned. Each segment is an intrusive {@link IdleList} linked
 * through the sessions' internals.
 *
 * Expiry: only idle sessions expire, and with one idle timeout for all of them each segment's
 * recency order is its expiry order, so the timer reads the two segments' heads (the earliest idle
 * deadlines). Only the deadlines out of that order (an absolute timeout that comes first, an
 * `idleTimeout` changed at run time, a clock that went backwards) go to a {@link DeadlineHeap}. A
 * request (hold, release) then costs O(1) and no timer call: the timer is re-armed only for a
 * deadline earlier than the one it is armed for.
 */
export class Registry<TData extends SessionData> {
  readonly #live = new Map<string, LiveSession<TData>>();
  /** Idle sessions whose visitor never came back: evicted first. */
  readonly #probation = new IdleList<Node<TData>>();
  /** Idle sessions of returning visitors: evicted only when no probation session is idle. */
  readonly #returning = new IdleList<Node<TData>>();
  /** Idle sessions whose deadline is out of their segment's order (see the class comment). */
  readonly #outOfOrder = new DeadlineHeap<Node<TData>>();
  readonly #timer: ExpiryTimer<Node<TData>>;
  readonly #settings: Readonly<Settings>;
  readonly #now: () => number;
  readonly #events: RegistryEvents<TData>;
  readonly #pacer: Pacer;
  /** The timeouts of the settings as last seen (a new object when `setOption` changed them). */
  #timeouts: Timeouts;
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
    this.#timeouts = { idle: settings.idleTimeout, absolute: settings.absoluteTimeout };
    this.#timer = new ExpiryTimer(
      this,
      now,
      (node) => {
        if (node.state === 'live' && node.busy === 0) events.expired(node.session);
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
    const node = internalsOf(session);
    this.#unlist(node);
    this.#unschedule(node);
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
      this.#unlist(state);
    }
    if (!state.isNew) state.returning = true;
    state.lastActiveAt = this.#now();
    // A session out of order stays in the heap with its older, earlier deadline: the timer finds it
    // busy and drops it; release() files it again. So a request costs no heap operation here.
    state.timeouts = this.#currentTimeouts();
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
    const node = internalsOf(session);
    node.lastActiveAt = this.#now();
    node.timeouts = this.#currentTimeouts();
    if (node.busy > 0) return;
    this.#unlist(node);
    this.#list(node);
  }

  /** Makes the session a returning visitor's (out of the probation segment), keeping its recency. */
  promote(session: LiveSession<TData>): void {
    const state = internalsOf(session);
    if (state.returning) return;
    const idle = this.#probation.has(state);
    if (idle) this.#probation.delete(state);
    state.returning = true;
    // Keeps its recency: appended at the returning segment's newest end (it was just active).
    if (idle) this.#list(state);
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

  /** Stops the timer for good and forgets the deadlines out of order. */
  stop(): void {
    this.#timer.stop();
    this.#outOfOrder.clear();
  }

  /** @internal For the timer: the earliest idle deadline (exact whenever it has passed). */
  earliest(): number {
    const probation = this.#probation.oldest()?.expiresAt ?? Infinity;
    const returning = this.#returning.oldest()?.expiresAt ?? Infinity;
    return Math.min(probation, returning, this.#outOfOrder.peekDeadline());
  }

  /** @internal For the timer: an idle session whose deadline passed, taken off the timer's structures. */
  takeDue(now: number): Node<TData> | undefined {
    const probation = this.#probation.oldest();
    const returning = this.#returning.oldest();
    let due = this.#outOfOrder.peek();
    let at = this.#outOfOrder.peekDeadline();
    if (probation !== undefined && probation.expiresAt < at) {
      due = probation;
      at = probation.expiresAt;
    }
    if (returning !== undefined && returning.expiresAt < at) {
      due = returning;
      at = returning.expiresAt;
    }
    if (due === undefined || at > now) return undefined;
    // Unlisted too: an expiry the manager does not carry out (busy, closing) must not come back.
    this.#unlist(due);
    this.#unschedule(due);
    return due;
  }

  /** The timeouts a session active now follows (see `SessionInternals.expiresAt`). */
  #currentTimeouts(): Timeouts {
    const { idleTimeout, absoluteTimeout } = this.#settings;
    const timeouts = this.#timeouts;
    if (timeouts.idle === idleTimeout && timeouts.absolute === absoluteTimeout) return timeouts;
    this.#timeouts = { idle: idleTimeout, absolute: absoluteTimeout };
    return this.#timeouts;
  }

  /** The eviction list the session belongs to while idle. */
  #segment(node: Node<TData>): IdleList<Node<TData>> {
    return node.returning ? this.#returning : this.#probation;
  }

  /** Files an idle session as the most recent of its segment, and on the timer. */
  #list(node: Node<TData>): void {
    const deadline = node.expiresAt;
    if (this.#segment(node).append(node)) this.#unschedule(node);
    else {
      this.#outOfOrder.set(node, deadline);
      node.scheduled = true;
    }
    this.#timer.wake(deadline);
  }

  /** Takes a session out of its segment, if it is in one. */
  #unlist(node: Node<TData>): void {
    const segment = this.#segment(node);
    if (segment.has(node)) segment.delete(node);
  }

  #unschedule(node: Node<TData>): void {
    if (!node.scheduled) return;
    this.#outOfOrder.delete(node);
    node.scheduled = false;
  }

  #evictWhile(overCap: () => boolean, pacer?: Pacer): void {
    while (overCap()) {
      if (pacer !== undefined && !pacer.take()) return;
      const victim = this.#probation.oldest() ?? this.#returning.oldest();
      if (victim === undefined) return;
      // The close takes it out of the registry synchronously, so the loop moves on.
      this.#events.evict(victim.session);
      this.#unlist(victim);
      this.#unschedule(victim);
    }
  }
}
