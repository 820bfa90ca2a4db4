/**
 * Items in exact order of last activity, least recent first. Backed by a `Set`, whose insertion
 * order V8 keeps: `touch` is a delete and an add, `oldest` reads the first entry; every operation is O(1).
 */
export class RecencyList<T> {
  readonly #items = new Set<T>();

  get size(): number {
    return this.#items.size;
  }

  has(item: T): boolean {
    return this.#items.has(item);
  }

  /** Makes `item` the most recent (adding it if absent). */
  touch(item: T): void {
    this.#items.delete(item);
    this.#items.add(item);
  }

  /** Removes `item`; `true` when it was present. */
  delete(item: T): boolean {
    return this.#items.delete(item);
  }

  /** The least recently active item. */
  oldest(): T | undefined {
    for (const item of this.#items) return item;
    return undefined;
  }
}
