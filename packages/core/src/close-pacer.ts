/** ms a slice of closes aims at, its microtasks (hooks that settle at once, encoding, queueing) included. */
export const CLOSE_SLICE_MS = 5;
/** Closes a slice starts at most, and at least. */
const MAX_PER_SLICE = 4_096;
const MIN_PER_SLICE = 8;
/** Closes in flight (hooks, snapshot write's first attempt, disposal) beyond which no slice starts more. */
export const MAX_CLOSES_IN_FLIGHT = 256;

/**
 * Paces bursts of closes (expiries, evictions after the cap was lowered, the closes of a shutdown) so
 * that they give the event loop back: closes start in slices, each slice ends with a turn of the event
 * loop (`setImmediate`, after the I/O that waits), and no slice starts while {@link MAX_CLOSES_IN_FLIGHT}
 * closes are running, so the burst goes at the rate the hooks and the store take.
 *
 * A slice's size adapts to what it costs: the time from one slice's start to the next one's covers the
 * closes' synchronous work and the microtasks they queue (what blocks the loop); the size halves when
 * that passes twice {@link CLOSE_SLICE_MS} and doubles when it stays under half of it.
 */
export class ClosePacer {
  readonly #inFlight: () => number;
  #perSlice = 64;
  /** Whether a slice is open (a close was taken since the last {@link next}). */
  #open = false;
  /** Closes still allowed in the open slice. */
  #left = 0;
  #sliceStart = 0;
  #turn: Promise<void> | undefined;
  #freed: (() => void) | undefined;

  /** @param inFlight how many closes are running now. */
  constructor(inFlight: () => number) {
    this.#inFlight = inFlight;
  }

  /** Closes a slice may start (adapted; see the class comment). */
  get perSlice(): number {
    return this.#perSlice;
  }

  /** Whether one more close may start in the current slice (and counts it); the first opens a slice. */
  take(): boolean {
    if (!this.#open) {
      this.#open = true;
      this.#left = this.#perSlice;
      this.#sliceStart = performance.now();
    }
    if (this.#left <= 0 || this.#inFlight() >= MAX_CLOSES_IN_FLIGHT) return false;
    this.#left -= 1;
    return true;
  }

  /**
   * Resolves when the next slice may begin: after a turn of the event loop, and once fewer than
   * {@link MAX_CLOSES_IN_FLIGHT} closes run. Callers waiting together share one turn.
   */
  next(): Promise<void> {
    this.#turn ??= this.#nextSlice().finally(() => {
      this.#turn = undefined;
    });
    return this.#turn;
  }

  /** A close ended: a slice waiting for room may begin. */
  closed(): void {
    const freed = this.#freed;
    if (freed === undefined || this.#inFlight() >= MAX_CLOSES_IN_FLIGHT) return;
    this.#freed = undefined;
    freed();
  }

  async #nextSlice(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The slice's cost: its closes, the microtasks they queued, and the rest of that turn.
    if (this.#open) this.#resize(performance.now() - this.#sliceStart);
    this.#open = false;
    while (this.#inFlight() >= MAX_CLOSES_IN_FLIGHT) {
      await new Promise<void>((resolve) => {
        this.#freed = resolve;
      });
    }
  }

  #resize(took: number): void {
    // Only a slice that used its allowance says something about its size.
    if (this.#left > 0) return;
    if (took > 2 * CLOSE_SLICE_MS) this.#perSlice = Math.max(MIN_PER_SLICE, this.#perSlice >> 1);
    else if (took < CLOSE_SLICE_MS / 2) this.#perSlice = Math.min(MAX_PER_SLICE, this.#perSlice * 2);
  }
}
