/**
 * An indexed binary min-heap of items ordered by a numeric deadline (ms since the epoch).
 * Every operation is O(log n) (`peek` O(1)); items remember their own slot, so removing or
 * rescheduling any item never scans the heap. Used by the registry's single timer and by
 * `MemoryAdapter`'s expiry sweep.
 */
export class DeadlineHeap<T> {
  readonly #items: T[] = [];
  readonly #deadlines: number[] = [];
  readonly #slots = new Map<T, number>();

  /** Number of scheduled items. */
  get size(): number {
    return this.#items.length;
  }

  /** Whether `item` is scheduled. */
  has(item: T): boolean {
    return this.#slots.has(item);
  }

  /** The item with the earliest deadline, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** The earliest deadline, or `Infinity` when empty. */
  peekDeadline(): number {
    return this.#items.length === 0 ? Infinity : this.#deadlines[0]!;
  }

  /** Schedules `item` at `deadline`, or moves it there if it is already scheduled. */
  set(item: T, deadline: number): void {
    const slot = this.#slots.get(item);
    if (slot === undefined) {
      this.#items.push(item);
      this.#deadlines.push(deadline);
      this.#slots.set(item, this.#items.length - 1);
      this.#up(this.#items.length - 1);
      return;
    }
    const previous = this.#deadlines[slot]!;
    this.#deadlines[slot] = deadline;
    if (deadline < previous) this.#up(slot);
    else this.#down(slot);
  }

  /** Unschedules `item`; `true` when it was scheduled. */
  delete(item: T): boolean {
    const slot = this.#slots.get(item);
    if (slot === undefined) return false;
    const last = this.#items.length - 1;
    this.#swap(slot, last);
    this.#items.pop();
    this.#deadlines.pop();
    this.#slots.delete(item);
    if (slot < last) {
      this.#up(slot);
      this.#down(slot);
    }
    return true;
  }

  /** Removes and returns the earliest item. */
  shift(): T | undefined {
    const first = this.#items[0];
    if (first !== undefined) this.delete(first);
    return first;
  }

  /** Removes every item. */
  clear(): void {
    this.#items.length = 0;
    this.#deadlines.length = 0;
    this.#slots.clear();
  }

  #up(slot: number): void {
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (this.#deadlines[parent]! <= this.#deadlines[slot]!) return;
      this.#swap(slot, parent);
      slot = parent;
    }
  }

  #down(slot: number): void {
    const n = this.#items.length;
    for (;;) {
      const left = 2 * slot + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.#deadlines[right]! < this.#deadlines[left]! ? right : left;
      if (this.#deadlines[slot]! <= this.#deadlines[child]!) return;
      this.#swap(slot, child);
      slot = child;
    }
  }

  #swap(a: number, b: number): void {
    if (a === b) return;
    const items = this.#items;
    const deadlines = this.#deadlines;
    [items[a], items[b]] = [items[b]!, items[a]!];
    [deadlines[a], deadlines[b]] = [deadlines[b]!, deadlines[a]!];
    this.#slots.set(items[a]!, a);
    this.#slots.set(items[b]!, b);
  }
}
