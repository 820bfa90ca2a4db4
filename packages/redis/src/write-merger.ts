import type { TurnGate } from './turn-gate.js';

interface Waiting<E> {
  readonly entries: readonly E[];
  resolve(replies: number[]): void;
  reject(error: unknown): void;
}

/**
 * Merges small batches issued over a few turns of the event loop into one: the batches that wait at
 * the same {@link TurnGate} opening go to Redis as one call (one pipeline, one script run per 100
 * keys, one deadline), and each gets back the replies of its own entries, in order. A failure of the
 * merged call is the failure of each batch in it (a retry of an entry already stored is harmless).
 *
 * Why: a server under load evicts about one session per request, and each eviction writes a batch
 * of one. Alone, each costs a script run, a command, a socket write and a reply read of its own, and
 * two timers; merged, a burst of them shares all of it.
 */
export class WriteMerger<E> {
  readonly #gate: TurnGate;
  readonly #send: (entries: E[]) => Promise<number[]>;
  readonly #track: (work: Promise<unknown>) => void;
  #waiting: Waiting<E>[] = [];

  /**
   * @param send writes the merged entries; resolves one reply per entry, in order.
   * @param track registers the merged call in flight from the moment the first batch waits (so a
   *   `close()` waits for it).
   */
  constructor(gate: TurnGate, send: (entries: E[]) => Promise<number[]>, track: (work: Promise<unknown>) => void) {
    this.#gate = gate;
    this.#send = send;
    this.#track = track;
  }

  /** Writes `entries` with the other batches waiting at this opening of the gate; resolves their replies. */
  write(entries: readonly E[]): Promise<number[]> {
    const replies = new Promise<number[]>((resolve, reject) => {
      this.#waiting.push({ entries, resolve, reject });
    });
    if (this.#waiting.length === 1) this.#track(this.#flush());
    return replies;
  }

  async #flush(): Promise<void> {
    await this.#gate.wait();
    const group = this.#waiting;
    this.#waiting = [];
    try {
      const replies = await this.#send(group.flatMap((waiting) => waiting.entries));
      let start = 0;
      for (const waiting of group) {
        waiting.resolve(replies.slice(start, start + waiting.entries.length));
        start += waiting.entries.length;
      }
    } catch (error) {
      for (const waiting of group) waiting.reject(error);
    }
  }
}
