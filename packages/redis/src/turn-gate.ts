/**
 * Lets calls issued over a few turns of the event loop go out together. node-redis writes the
 * commands issued in one tick in one socket write; a server under load serves about one request per
 * turn, so the writes of a burst of evictions (one per request) would each cost a socket write and a
 * reply read of their own (about 12 µs of system time each on loopback). Calls that wait at the gate
 * resume in one tick, `turns` turns of the event loop after the first of them arrived, so they leave
 * in one socket write. On an idle loop a turn takes microseconds; on a busy one the wait is a few
 * requests long.
 */
export class TurnGate {
  readonly #turns: number;
  #open: Promise<void> | undefined;

  /** @param turns turns of the event loop (`setImmediate`) the first caller waits; at least 1. */
  constructor(turns: number) {
    this.#turns = Math.max(1, turns);
  }

  /** Resolves when the gate opens: `turns` turns after the first caller since it last opened. */
  wait(): Promise<void> {
    this.#open ??= this.#count();
    return this.#open;
  }

  async #count(): Promise<void> {
    for (let turn = 0; turn < this.#turns; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    this.#open = undefined;
  }
}
