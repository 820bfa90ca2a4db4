/**
 * Runs async tasks one at a time per key, in the order they were submitted (a per-key mutex). Used to
 * serialize the writes of sessions that share one `persistKey` within this process.
 */
export class KeyLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every task submitted earlier for `key` has settled; resolves with its result. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(noop, noop);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}

function noop(): void {}
