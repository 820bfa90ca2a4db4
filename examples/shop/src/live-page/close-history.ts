import type { CloseReason } from '@reprise/core';

/** Minutes of close counts the page shows. */
export const HISTORY_MINUTES = 15;

/** Closes counted in one wall-clock minute, by reason. */
export interface MinuteOfCloses {
  /** Start of the minute, ms since the epoch. */
  readonly minute: number;
  readonly counts: Partial<Record<CloseReason, number>>;
}

/**
 * Counts closes per minute and reason over the last {@link HISTORY_MINUTES} minutes: a ring of
 * minute buckets, O(1) per close, nothing kept about the sessions themselves.
 */
export class CloseHistory {
  readonly #now: () => number;
  readonly #buckets: MinuteOfCloses[] = [];

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Counts one close now. */
  record(reason: CloseReason): void {
    const minute = Math.floor(this.#now() / 60_000) * 60_000;
    let last = this.#buckets.at(-1);
    if (last?.minute !== minute) {
      last = { minute, counts: {} };
      this.#buckets.push(last);
    }
    const counts = last.counts as Record<CloseReason, number>;
    counts[reason] = (counts[reason] ?? 0) + 1;
    this.#forget();
  }

  /** The minutes with closes among the last {@link HISTORY_MINUTES}, oldest first. */
  recent(): readonly MinuteOfCloses[] {
    this.#forget();
    return [...this.#buckets];
  }

  #forget(): void {
    const oldest = Math.floor(this.#now() / 60_000) * 60_000 - (HISTORY_MINUTES - 1) * 60_000;
    while (this.#buckets.length > 0 && (this.#buckets[0]?.minute ?? 0) < oldest) this.#buckets.shift();
  }
}
