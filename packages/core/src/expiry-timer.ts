import { DeadlineHeap } from './deadline-heap.js';

/** Spreads due items over turns of the event loop (see `ClosePacer`). */
export interface Pacer {
  /** Whether one more item may be handled in the current slice (and counts it). */
  take(): boolean;
  /** Resolves when the next slice may begin. */
  next(): Promise<void>;
}

/** Node's largest timer delay (2^31 - 1 ms); longer delays are clamped and re-armed. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * One timer for a whole set of deadlines. Items are scheduled in a {@link DeadlineHeap}; the single
 * `setTimeout` is armed for the earliest deadline and re-armed after it fires. Moving a deadline later
 * (the common case: activity) does not touch the timer; the timer then fires early, finds nothing due
 * and re-arms. The timer is unref'd: it never keeps the process alive. With a {@link Pacer}, many items
 * due at once are handed over in slices, the rest left in the heap until the next slice: an item
 * rescheduled meanwhile (activity) is then no longer due.
 */
export class ExpiryTimer<T> {
  readonly #heap = new DeadlineHeap<T>();
  readonly #now: () => number;
  readonly #onDue: (item: T) => void;
  readonly #pacer: Pacer | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A later slice is already scheduled. */
  #continuing = false;
  #armedFor = Infinity;
  #stopped = false;

  /** @param onDue called once for each item whose deadline has come; the item is unscheduled first. */
  constructor(now: () => number, onDue: (item: T) => void, pacer?: Pacer) {
    this.#now = now;
    this.#onDue = onDue;
    this.#pacer = pacer;
  }

  /** Number of scheduled items. */
  get size(): number {
    return this.#heap.size;
  }

  /** Schedules `item` at `deadline` (ms since the epoch), replacing its previous deadline. */
  schedule(item: T, deadline: number): void {
    this.#heap.set(item, deadline);
    if (deadline < this.#armedFor) this.#arm();
  }

  /** Unschedules `item`. Leaves the timer armed; it re-arms itself when it fires. */
  cancel(item: T): void {
    this.#heap.delete(item);
  }

  /** Stops the timer for good and forgets every deadline. */
  stop(): void {
    this.#stopped = true;
    this.#clear();
    this.#heap.clear();
  }

  #arm(): void {
    this.#clear();
    const deadline = this.#heap.peekDeadline();
    if (this.#stopped || deadline === Infinity) return;
    const delay = Math.min(Math.max(deadline - this.#now(), 0), MAX_TIMER_DELAY);
    this.#armedFor = deadline;
    this.#timer = setTimeout(() => this.#fire(), delay);
    this.#timer.unref?.();
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#now();
    while (this.#heap.peekDeadline() <= now) {
      if (this.#pacer !== undefined && !this.#pacer.take()) {
        this.#continueLater(this.#pacer);
        return;
      }
      this.#onDue(this.#heap.shift()!);
    }
    this.#arm();
  }

  #continueLater(pacer: Pacer): void {
    if (this.#continuing) return;
    this.#continuing = true;
    void pacer.next().then(() => {
      this.#continuing = false;
      if (!this.#stopped) this.#fire();
    });
  }
}
