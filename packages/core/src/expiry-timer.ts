/** Spreads due items over turns of the event loop (see `ClosePacer`). */
export interface Pacer {
  /** Whether one more item may be handled in the current slice (and counts it). */
  take(): boolean;
  /** Resolves when the next slice may begin. */
  next(): Promise<void>;
}

/** Node's largest timer delay (2^31 - 1 ms); longer delays are clamped and re-armed. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** The deadlines an {@link ExpiryTimer} serves (a deadline heap, the registry's idle lists). */
export interface DueItems<T> {
  /**
   * The earliest deadline of any item (ms since the epoch), or a lower bound of it (the timer then
   * fires early, finds nothing due and asks again); `Infinity` when there is none.
   */
  earliest(): number;
  /** Unschedules and returns one item whose deadline is `<= now`, earliest first; `undefined` when none is due. */
  takeDue(now: number): T | undefined;
}

/**
 * One timer for a whole set of deadlines kept by a {@link DueItems}: the single `setTimeout` is armed
 * for the earliest deadline (delay clamped to {@link MAX_TIMER_DELAY}) and re-armed after it fires.
 * Moving a deadline later (the common case: activity) does not touch the timer; the timer then fires
 * early, finds nothing due and re-arms. The owner of the items calls {@link wake} when a deadline is
 * added or moved earlier. The timer is unref'd: it never keeps the process alive. With a
 * {@link Pacer}, many items due at once are handed over in slices, the rest left scheduled until the
 * next slice: an item rescheduled meanwhile (activity) is then no longer due.
 */
export class ExpiryTimer<T> {
  readonly #items: DueItems<T>;
  readonly #now: () => number;
  readonly #onDue: (item: T) => void;
  readonly #pacer: Pacer | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A later slice is already scheduled. */
  #continuing = false;
  #armedFor = Infinity;
  #stopped = false;

  /** @param onDue called once for each item whose deadline has come; the item is unscheduled first. */
  constructor(items: DueItems<T>, now: () => number, onDue: (item: T) => void, pacer?: Pacer) {
    this.#items = items;
    this.#now = now;
    this.#onDue = onDue;
    this.#pacer = pacer;
  }

  /** An item was scheduled at `deadline` (ms since the epoch): re-arms only when that is earlier than the armed deadline. */
  wake(deadline: number): void {
    if (deadline < this.#armedFor && !this.#continuing) this.#arm();
  }

  /** Stops the timer for good (the items are the owner's to forget). */
  stop(): void {
    this.#stopped = true;
    this.#clear();
  }

  #arm(): void {
    this.#clear();
    const deadline = this.#items.earliest();
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
    while (this.#items.earliest() <= now) {
      if (this.#pacer !== undefined && !this.#pacer.take()) {
        this.#continueLater(this.#pacer);
        return;
      }
      const item = this.#items.takeDue(now);
      // A lower bound that was not a due item: arm again for the next one.
      if (item === undefined) break;
      this.#onDue(item);
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
