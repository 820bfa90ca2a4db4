import { MAX_TIMER_DELAY } from '@reprise/core/adapter-kit';

/** What a {@link Sweeper} needs from its adapter. */
export interface SweeperOptions {
  /** Deletes at most `limit` expired rows; resolves to how many it deleted. */
  deleteBatch: (limit: number) => Promise<number>;
  /** Mean ms between timer-driven sweeps, or `false`: no timer (sweeps run only on demand). */
  interval: number | false;
  batchSize: number;
  /** Receives the failure of a timer-driven sweep (an on-demand sweep rejects instead). */
  onError: (error: unknown) => void;
  /** Random source in [0, 1) for the jitter; injectable for tests. */
  random?: () => number;
}

/**
 * Deletes expired rows in bounded batches, on an unref'd timer with jitter and on demand.
 *
 * - Each delay is drawn uniformly between 50% and 150% of `interval`, so processes sharing a
 *   table spread their sweeps out (connect-pg-simple does the same).
 * - Runs never overlap: the next delay starts when a run ends, and a sweep requested during a
 *   run joins that run.
 * - A run repeats `deleteBatch(batchSize)` until a batch deletes fewer rows than `batchSize` or the
 *   sweeper stops, so no statement holds locks on more than `batchSize` rows.
 * - The timer is unref'd: it never keeps the process alive. `stop()` clears it and waits for
 *   the current run, which ends after its current batch.
 */
export class Sweeper {
  readonly #options: Required<SweeperOptions>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<number> | undefined;
  #started = false;
  #stopped = false;

  constructor(options: SweeperOptions) {
    this.#options = { random: Math.random, ...options };
  }

  /** Whether a timer is armed (for tests and diagnostics). */
  get scheduled(): boolean {
    return this.#timer !== undefined;
  }

  /** Arms the timer for the first sweep; idempotent, and a no-op without an interval or after `stop()`. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule();
  }

  /** The delay before the next timer-driven sweep: `interval` × [0.5, 1.5), within Node's timer limit. */
  nextDelay(): number {
    const { interval, random } = this.#options;
    if (interval === false) return Infinity;
    return Math.min(Math.max(1, Math.round(interval * (0.5 + random()))), MAX_TIMER_DELAY);
  }

  /**
   * Sweeps now, or joins the sweep already running. Resolves to the number of rows deleted by the
   * run; rejects with its failure. After `stop()` resolves to 0 without touching the database.
   */
  sweep(): Promise<number> {
    if (this.#stopped) return Promise.resolve(0);
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Clears the timer and waits for a running sweep to end (its failure is not rethrown). Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  async #run(): Promise<number> {
    const { deleteBatch, batchSize } = this.#options;
    let total = 0;
    for (;;) {
      const deleted = await deleteBatch(batchSize);
      total += deleted;
      if (deleted < batchSize || this.#stopped) return total;
    }
  }

  #schedule(): void {
    const delay = this.nextDelay();
    if (this.#stopped || delay === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.sweep().then(
        () => this.#schedule(),
        (error: unknown) => {
          this.#schedule();
          try {
            this.#options.onError(error);
          } catch (handlerError) {
            // A throwing handler must neither stop the sweeps nor crash the process.
            process.emitWarning(`Sweeper: onError threw: ${String(handlerError)}`, { code: 'REPRISE_POSTGRES' });
          }
        },
      );
    }, delay);
    this.#timer.unref();
  }
}
