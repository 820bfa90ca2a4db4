/**
 * Versions of the writes this process makes (conditional writes, see `SessionAdapter.saveIfNewer`):
 * a hybrid logical clock. A version is the clock's ms times 1000, or one more than the last version
 * this process issued or read from the store ({@link observe}), whichever is larger, so versions grow
 * with time across sessions and strictly past every version seen. Safe integers until the year 2255.
 */
export class VersionClock {
  readonly #now: () => number;
  #last = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  /**
   * An even version greater than every version issued or observed here. Writes get even versions;
   * the odd one just above a write's version is left for its fence (see `Store.fence`).
   */
  next(): number {
    const fromClock = Math.floor(this.#now()) * 1000; // even, since 1000 is
    const nextEven = this.#last % 2 === 0 ? this.#last + 2 : this.#last + 1; // no bitwise: versions pass 2^32
    this.#last = Math.max(fromClock, nextEven);
    return this.#last;
  }

  /** Records a version read from the store, so that every later version is greater. */
  observe(version: number): void {
    if (version > this.#last) this.#last = version;
  }
}
