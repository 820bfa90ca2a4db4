import type { Store } from './store.js';
import type { VersionedWrite } from './types.js';

/** How the batcher hands writes to the store. */
export interface BatchLimits {
  /** Most writes in one batch. */
  readonly maxBatch: number;
  /** Most batches in flight at once. */
  readonly maxInFlight: number;
}

/** Batches for an adapter with `saveManyIfNewer`: up to 1,000 writes per call, 4 calls in flight. */
export const NATIVE_BATCHES: BatchLimits = Object.freeze({ maxBatch: 1_000, maxInFlight: 4 });
/** Batches for an adapter without it: 64 single calls at once per batch, 4 batches (256 calls) in flight. */
export const SINGLE_CALL_BATCHES: BatchLimits = Object.freeze({ maxBatch: 64, maxInFlight: 4 });

interface Pending {
  readonly write: VersionedWrite;
  resolve(stored: boolean): void;
  reject(error: unknown): void;
}

/**
 * Hands snapshot writes to the store in batches, with a bounded number in flight: writes issued
 * together (a shutdown, a checkpoint, a burst of evictions) travel in one adapter call per batch
 * (`saveManyIfNewer`: a pipeline, a multi-row statement), and the others wait here, in order, before
 * their `adapterTimeout` starts. A lone write leaves at the end of the current microtask run, in a
 * batch of one, so nothing waits for company. Each write settles on its own: stored, refused as older,
 * or failed with the error of its batch (or of its own call, without `saveManyIfNewer`).
 *
 * The caller never has two writes of one key waiting at once (the persist queue attempts one write
 * per key at a time), so a batch never holds a key twice.
 */
export class WriteBatcher {
  readonly #store: Store;
  readonly #limits: BatchLimits;
  #waiting: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(store: Store, limits: BatchLimits = store.batches ? NATIVE_BATCHES : SINGLE_CALL_BATCHES) {
    this.#store = store;
    this.#limits = limits;
  }

  /** Writes waiting for a batch (not yet handed to the store). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Writes `text` under `key` as `version`; resolves whether the store took it (see `Store.write`). */
  write(key: string, text: string, version: number, ttlMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.push({ write: { key, value: text, version, ttlMs }, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#limits.maxInFlight && this.#waiting.length > 0) {
      const batch = this.#waiting.length <= this.#limits.maxBatch ? this.#waiting : this.#waiting.slice(0, this.#limits.maxBatch);
      this.#waiting = batch === this.#waiting ? [] : this.#waiting.slice(batch.length);
      this.#inFlight += 1;
      void this.#send(batch).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  async #send(batch: Pending[]): Promise<void> {
    const results = await this.#store.writeMany(batch.map((pending) => pending.write));
    batch.forEach((pending, index) => {
      const result = results[index];
      if (typeof result === 'boolean') pending.resolve(result);
      else pending.reject(result);
    });
  }
}
