/** An item that an {@link IdleList} links in place: the list keeps its neighbours on the item itself. */
export interface IdleNode<T extends IdleNode<T>> {
  prev: T | undefined;
  next: T | undefined;
  /** ms since the epoch at which the item expires if it stays idle; `Infinity` for never. */
  readonly expiresAt: number;
}

/**
 * Idle items in exact order of last activity, least recent first: an intrusive doubly linked list
 * (each item holds its `prev` and `next`), so `append`, `delete` and `oldest` are O(1) with no
 * allocation and nothing left behind (a `Set` keeps its deleted entries until it rehashes, and
 * finding its first live entry walks over them). An item is in at most one list at a time; the
 * caller knows which ({@link has} tells only "this one or none").
 *
 * It also tells the expiry which items it can time from the list alone: with one idle timeout for
 * all items, the order of last activity is the order of expiry (as in lru-cache's and Caffeine's
 * expire-after-access), so the head is the earliest. {@link append} answers whether the item keeps
 * that order (its `expiresAt` is no earlier than any appended before it while the list was not
 * emptied); an item that does not (an absolute deadline, a changed idle timeout, a clock that went
 * backwards) must be timed elsewhere (the registry's deadline heap).
 */
export class IdleList<T extends IdleNode<T>> {
  #head: T | undefined = undefined;
  #tail: T | undefined = undefined;
  #size = 0;
  /** The latest `expiresAt` appended in order since the list was last empty. */
  #watermark = -Infinity;

  get size(): number {
    return this.#size;
  }

  /** Whether `item`, which is in this list or in none, is in this list. */
  has(item: T): boolean {
    return item.prev !== undefined || this.#head === item;
  }

  /** The least recently active item. */
  oldest(): T | undefined {
    return this.#head;
  }

  /**
   * Adds `item` (in no list) as the most recent. Returns `true` when its `expiresAt` keeps the
   * list's expiry order, `false` when the caller must time it on its own.
   */
  append(item: T): boolean {
    item.prev = this.#tail;
    item.next = undefined;
    if (this.#tail === undefined) this.#head = item;
    else this.#tail.next = item;
    this.#tail = item;
    this.#size += 1;
    if (item.expiresAt < this.#watermark) return false;
    this.#watermark = item.expiresAt;
    return true;
  }

  /** Removes `item`, which must be in this list. */
  delete(item: T): void {
    const { prev, next } = item;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    item.prev = undefined;
    item.next = undefined;
    this.#size -= 1;
    if (this.#size === 0) this.#watermark = -Infinity;
  }
}
