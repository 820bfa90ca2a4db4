import { PersistError } from './errors.js';
import type { SessionAdapter } from './types.js';

/** First retry delay after a failed write, in ms; doubles per attempt up to {@link MAX_RETRY_DELAY}. */
export const FIRST_RETRY_DELAY = 100;
/** Longest delay between two retries of one write, in ms. */
export const MAX_RETRY_DELAY = 30_000;

/** Pause between two rounds of retries while flushing, in ms. */
const FLUSH_PAUSE = 100;

/** One write the queue owns until the adapter has it. `expiresAt` is ms since the epoch. */
interface Job<TPayload> {
  readonly key: string;
  text: string;
  expiresAt: number;
  payload: TPayload;
  attempts: number;
  writing: boolean;
  /** A newer value for the same key that arrived while a write was in flight. */
  next: { text: string; expiresAt: number; payload: TPayload } | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when the attempt in flight settles. */
  attempt: Promise<void> | undefined;
}

/** What the queue tells its owner. */
export interface PersistQueueEvents<TPayload> {
  /** A write attempt failed; `first` is true on the first failure of this job. */
  failed(error: PersistError, first: boolean): void;
  /** The queue gave a write up (bound reached, deadline passed or expired before it could be written). */
  gaveUp(payload: TPayload, error: PersistError): void;
  /** The adapter took a write. */
  written(payload: TPayload): void;
}

/**
 * The core's queue of snapshot writes: every write goes through it, a failed write stays in it and
 * is retried with exponential backoff until the adapter takes it, newer writes to a key supersede
 * older ones, and a restore can take a waiting write straight from it. Bounded: past `maxPending()`
 * jobs the oldest is given up (handed to `gaveUp`). Retry timers are unref'd.
 */
export class PersistQueue<TPayload> {
  readonly #jobs = new Map<string, Job<TPayload>>();
  readonly #adapter: SessionAdapter;
  readonly #now: () => number;
  readonly #maxPending: () => number;
  readonly #events: PersistQueueEvents<TPayload>;

  constructor(adapter: SessionAdapter, now: () => number, maxPending: () => number, events: PersistQueueEvents<TPayload>) {
    this.#adapter = adapter;
    this.#now = now;
    this.#maxPending = maxPending;
    this.#events = events;
  }

  /** Writes not yet accepted by the adapter. */
  get pending(): number {
    return this.#jobs.size;
  }

  /**
   * Queues `text` under `key` until `expiresAt` and attempts it at once.
   * Resolves after that first attempt: `true` when the adapter took it, `false` when it stays queued.
   */
  async write(key: string, text: string, expiresAt: number, payload: TPayload): Promise<boolean> {
    const existing = this.#jobs.get(key);
    if (existing?.writing) {
      existing.next = { text, expiresAt, payload };
      await existing.attempt;
      return !this.#jobs.has(key);
    }
    if (existing) this.#remove(existing);
    const job: Job<TPayload> = { key, text, expiresAt, payload, attempts: 0, writing: false, next: undefined, timer: undefined, attempt: undefined };
    this.#jobs.set(key, job);
    this.#enforceBound();
    if (!this.#jobs.has(key)) return false;
    await this.#attempt(job);
    return !this.#jobs.has(key);
  }

  /**
   * Takes the value waiting under `key`: its text when a write is waiting for a retry (the write is
   * cancelled), a promise to wait on when a write is in flight (check again after it), else `undefined`.
   */
  take(key: string): { text: string; payload: TPayload } | { wait: Promise<void> } | undefined {
    const job = this.#jobs.get(key);
    if (job === undefined) return undefined;
    if (job.writing) return { wait: job.attempt! };
    this.#remove(job);
    return { text: job.text, payload: job.payload };
  }

  /** The text waiting under `key`, without taking it. */
  peek(key: string): string | undefined {
    return this.#jobs.get(key)?.text;
  }

  /** Cancels a waiting write of `key`; `true` when one was cancelled. */
  cancel(key: string): boolean {
    const job = this.#jobs.get(key);
    if (job === undefined || job.writing) return false;
    this.#remove(job);
    return true;
  }

  /**
   * Retries every waiting write now and keeps retrying until the queue is empty or `timeoutMs` ms
   * have passed (a timer, not the clock, so an injected clock that stands still cannot hold it up);
   * whatever is still queued then is given up.
   */
  async flush(timeoutMs: number): Promise<void> {
    let expired = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const stop = new Promise<void>((resolve) => {
      deadline = setTimeout(() => {
        expired = true;
        resolve();
      }, timeoutMs);
    });
    try {
      while (this.#jobs.size > 0 && !expired) {
        const attempts = [...this.#jobs.values()].map((job) => job.attempt ?? this.#attempt(job));
        await Promise.race([Promise.all(attempts), stop]);
        if (this.#jobs.size > 0 && !expired) await Promise.race([pause(FLUSH_PAUSE), stop]);
      }
    } finally {
      clearTimeout(deadline);
    }
    for (const job of [...this.#jobs.values()]) {
      this.#giveUp(job, `not written before the shutdown deadline after ${job.attempts} attempt(s)`);
    }
  }

  #attempt(job: Job<TPayload>): Promise<void> {
    if (job.timer !== undefined) clearTimeout(job.timer);
    job.timer = undefined;
    job.writing = true;
    const attempt = this.#run(job).finally(() => {
      if (job.attempt !== attempt) return;
      job.writing = false;
      job.attempt = undefined;
    });
    job.attempt = attempt;
    return attempt;
  }

  /** Writes the job's value, then any newer value that arrived meanwhile, until one fails or none is left. */
  async #run(job: Job<TPayload>): Promise<void> {
    for (;;) {
      const ttl = Math.ceil(job.expiresAt - this.#now());
      if (ttl <= 0) {
        this.#giveUp(job, 'expired before it could be written');
        return;
      }
      job.attempts += 1;
      try {
        await this.#adapter.save(job.key, job.text, ttl);
      } catch (cause) {
        const error = new PersistError(job.key, `adapter ${this.#adapter.name} failed to save ${JSON.stringify(job.key)} (attempt ${job.attempts})`, { cause });
        this.#events.failed(error, job.attempts === 1);
        if (this.#jobs.get(job.key) === job) this.#retryLater(job);
        return;
      }
      this.#events.written(job.payload);
      if (job.next === undefined) {
        if (this.#jobs.get(job.key) === job) this.#jobs.delete(job.key);
        return;
      }
      Object.assign(job, job.next, { next: undefined, attempts: 0 });
    }
  }

  #retryLater(job: Job<TPayload>): void {
    if (job.next !== undefined) {
      Object.assign(job, job.next, { next: undefined, attempts: 0 });
    }
    const delay = Math.min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2 ** Math.max(0, job.attempts - 1));
    job.timer = setTimeout(() => void this.#attempt(job), delay);
    job.timer.unref?.();
  }

  #enforceBound(): void {
    while (this.#jobs.size > this.#maxPending()) {
      const oldest = this.#jobs.values().next().value!;
      this.#giveUp(oldest, `dropped from the retry queue: more than ${this.#maxPending()} writes pending`);
    }
  }

  #giveUp(job: Job<TPayload>, why: string): void {
    if (this.#jobs.get(job.key) === job) this.#remove(job);
    this.#events.gaveUp(job.payload, new PersistError(job.key, `snapshot ${JSON.stringify(job.key)} ${why}`));
  }

  #remove(job: Job<TPayload>): void {
    if (job.timer !== undefined) clearTimeout(job.timer);
    job.timer = undefined;
    this.#jobs.delete(job.key);
  }
}

/** Resolves after `ms` ms. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
