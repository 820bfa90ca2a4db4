import { PersistError } from './errors.js';
import { describeKey } from './redact.js';
import { isTransient, isUnsent, type Store } from './store.js';
import { WriteBatcher } from './write-batcher.js';

/** First retry delay after a failed write, in ms; doubles per attempt up to {@link MAX_RETRY_DELAY}, with jitter. */
export const FIRST_RETRY_DELAY = 100;
/** Longest delay between two retries of one write, in ms (before jitter). */
export const MAX_RETRY_DELAY = 30_000;

/** What {@link Job.attempt} holds while an attempt starts (see `#attempt`). */
const STARTING: Promise<void> = Promise.resolve();

/** Pause between two rounds of retries while flushing, in ms. */
const FLUSH_PAUSE = 100;

/** How long the queue remembers when the last write for a key was queued, in ms (see {@link PersistQueue.queuedSince}). */
const RECENT_WRITES_MS = 5 * 60_000;

/** One write: `text` under `key` as `version`, restorable until `expiresAt` (ms since the epoch). */
export interface WriteRequest<TPayload> {
  readonly key: string;
  readonly text: string;
  readonly version: number;
  readonly expiresAt: number;
  readonly payload: TPayload;
  /** An earlier attempt of this very write may still land (a write taken from the queue and given back). */
  readonly ambiguous?: boolean;
  /** Called instead of the `superseded` event when the adapter refuses the write (it holds something newer). */
  readonly refused?: () => void;
  /**
   * Called when the adapter has answered this very write: stored it, or refused it as not newer than
   * what it holds (an earlier attempt of it that landed, or something newer). Not called when the
   * write is taken from the queue or given up.
   */
  readonly answered?: () => void;
}

/** A write the queue owns until the adapter has it. */
interface Job<TPayload> {
  request: WriteRequest<TPayload>;
  attempts: number;
  /** An attempt failed in a way that may still have reached the store (a timeout, a lost connection). */
  ambiguous: boolean;
  /** It failed once and waits for retries: it counts against `maxPending`. */
  failing: boolean;
  /** A newer write for the same key that arrived while an attempt was in flight. */
  next: WriteRequest<TPayload> | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The attempt in flight, if any. */
  attempt: Promise<void> | undefined;
}

/** What a write waiting in the queue holds, for a restore that takes it. */
export interface QueuedValue<TPayload> {
  readonly text: string;
  readonly version: number;
  readonly payload: TPayload;
  /** An earlier attempt may still land in the store: fence it before using the value. */
  readonly ambiguous: boolean;
  /** The write itself, to give back with {@link PersistQueue.write} when the value cannot be used. */
  readonly request: WriteRequest<TPayload>;
}

/** What the queue tells its owner. */
export interface PersistQueueEvents<TPayload> {
  /** A write attempt failed; `first` is true on the first failure of this write. */
  failed(error: PersistError, first: boolean): void;
  /** The queue gave a write up (bound reached, deadline passed, refused for good): it is not in the store. */
  gaveUp(payload: TPayload, error: PersistError): void;
  /** The adapter took a write. */
  written(payload: TPayload): void;
  /** The adapter refused a write because it holds a newer version of the key (ordered adapters). */
  superseded(payload: TPayload): void;
}

/**
 * The core's queue of snapshot writes. Every write goes through it; a failed write stays in it and is
 * retried with exponential backoff and jitter until the adapter takes it; a newer write to a key
 * replaces an older one; a restore can take a waiting write straight from it. Attempts travel to the
 * adapter in batches with a bounded number in flight ({@link WriteBatcher}). Bounded: past
 * `maxPending()` writes waiting for a retry (writes in their first attempt do not count), the oldest
 * is given up. A write given up after an attempt that may still land is fenced in the store first
 * (ordered adapters), so a write is either in the store or given up, never both. Retry timers are unref'd.
 */
export class PersistQueue<TPayload> {
  readonly #jobs = new Map<string, Job<TPayload>>();
  /** Jobs waiting for a retry, oldest first. */
  readonly #failing = new Set<Job<TPayload>>();
  /** Give-ups still fencing the store. */
  readonly #settling = new Set<Promise<void>>();
  /** The sequence number of the last write queued per key, and when (ms), oldest first; kept {@link RECENT_WRITES_MS}. */
  readonly #recent = new Map<string, { readonly sequence: number; readonly at: number }>();
  /** Writes queued so far (unordered stores: see {@link queuedSince}). */
  #sequence = 0;
  readonly #store: Store;
  /**
   * Hands the attempts to an ordered store in batches, a bounded number in flight. An unordered
   * store gets each attempt at once: without versions, a write that waits between the queue and the
   * store widens the window in which a take and a put-back of its key can cross it.
   */
  readonly #batcher: WriteBatcher | undefined;
  /** {@link whenIdle} callers, by key. */
  readonly #idleWaiters = new Map<string, (() => void)[]>();
  readonly #now: () => number;
  readonly #maxPending: () => number;
  readonly #events: PersistQueueEvents<TPayload>;

  constructor(store: Store, now: () => number, maxPending: () => number, events: PersistQueueEvents<TPayload>) {
    this.#store = store;
    this.#batcher = store.ordered ? new WriteBatcher(store) : undefined;
    this.#now = now;
    this.#maxPending = maxPending;
    this.#events = events;
  }

  /** Writes not yet accepted by the adapter (first attempts included). */
  get pending(): number {
    return this.#jobs.size;
  }

  /** Writes waiting for a retry. */
  get retrying(): number {
    return this.#failing.size;
  }

  /**
   * Queues a write and attempts it at once (or after the attempt in flight for the same key). An
   * older version than the one queued for the key is dropped. Resolves after that attempt.
   */
  write(request: WriteRequest<TPayload>): Promise<void> {
    if (!this.#store.ordered) this.#remember(request);
    const existing = this.#jobs.get(request.key);
    // The common case (nothing queued for the key): the attempt's own promise, none around it.
    if (existing === undefined) return this.#attempt(this.#newJob(request));
    return this.#writeOver(existing, request);
  }

  /** {@link write} when the queue already holds a write of the key (waiting, retrying or in flight). */
  async #writeOver(existing: Job<TPayload>, request: WriteRequest<TPayload>): Promise<void> {
    if (existing !== undefined && request.version < existing.request.version) {
      this.#events.superseded(request.payload);
      return;
    }
    if (existing?.attempt !== undefined) {
      const replaced = existing.next;
      if (replaced === undefined || replaced.version < request.version) {
        existing.next = request;
        if (replaced !== undefined) this.#events.superseded(replaced.payload);
      } else {
        this.#events.superseded(request.payload);
      }
      await existing.attempt;
      return;
    }
    if (existing !== undefined) {
      this.#events.superseded(existing.request.payload);
      // A write that arrived while the last attempt was ending waits as `next`: the newest of the two goes on.
      const waiting = existing.next;
      existing.next = undefined;
      if (waiting !== undefined && waiting.version > request.version) {
        this.#events.superseded(request.payload);
        request = waiting;
      } else if (waiting !== undefined) {
        this.#events.superseded(waiting.payload);
      }
    }
    existing.request = request;
    if (request.ambiguous === true) existing.ambiguous = true;
    await this.#attempt(existing);
  }

  /**
   * Takes the write waiting under `key`: its value when it waits for a retry (the write is
   * cancelled), a promise to wait on when an attempt is in flight (check again after it), else `undefined`.
   */
  take(key: string): QueuedValue<TPayload> | { wait: Promise<void> } | undefined {
    const job = this.#jobs.get(key);
    if (job === undefined) return undefined;
    if (job.attempt !== undefined) return { wait: job.attempt };
    if (job.next !== undefined) {
      // A write that arrived as the last attempt ended: the newest is the one to take.
      this.#events.superseded(job.request.payload);
      job.request = job.next;
      job.next = undefined;
    }
    this.#remove(job);
    const { text, version, payload } = job.request;
    return { text, version, payload, ambiguous: job.ambiguous, request: { ...job.request, ambiguous: job.ambiguous } };
  }

  /** How many writes were queued so far (see {@link queuedSince}). */
  get sequence(): number {
    return this.#sequence;
  }

  /**
   * Whether a write was queued for `key` after the queue's {@link sequence} was `sequence`: a value
   * taken from the queue then is no longer the newest this process wrote there (what an unordered
   * store cannot tell by itself; versions cannot either, as a put-back of a value taken from an
   * unordered store carries none). `true` when the queue does not remember the key (its last write
   * is older than a few minutes) and always on an ordered store: the answer errs towards reading the
   * store first, which only costs a read.
   */
  queuedSince(key: string, sequence: number): boolean {
    if (this.#store.ordered) return true;
    const last = this.#recent.get(key);
    return last === undefined || last.sequence > sequence;
  }

  #remember({ key }: WriteRequest<TPayload>): void {
    const now = this.#now();
    this.#sequence += 1;
    this.#recent.delete(key);
    this.#recent.set(key, { sequence: this.#sequence, at: now });
    for (const [old, { at }] of this.#recent) {
      if (at > now - RECENT_WRITES_MS) break;
      this.#recent.delete(old);
    }
  }

  /**
   * Resolves once the queue holds no write of `key` at all (none waiting for a retry, none in
   * flight): each was stored, refused, taken or given up. At once when it holds none.
   */
  whenIdle(key: string): Promise<void> {
    if (!this.#jobs.has(key)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiting = this.#idleWaiters.get(key);
      if (waiting === undefined) this.#idleWaiters.set(key, [resolve]);
      else waiting.push(resolve);
    });
  }

  /** Resolves once no attempt for `key` is in flight (at once when none is). */
  async settled(key: string): Promise<void> {
    for (let attempt = this.#jobs.get(key)?.attempt; attempt !== undefined; attempt = this.#jobs.get(key)?.attempt) await attempt;
  }

  /** Whether an attempt to write `key` is in flight (its write may have landed already). */
  inFlight(key: string): boolean {
    return this.#jobs.get(key)?.attempt !== undefined;
  }

  /** The text waiting under `key`, without taking it. */
  peek(key: string): string | undefined {
    return this.#jobs.get(key)?.request.text;
  }

  /**
   * Retries every waiting write now and keeps retrying until the queue is empty or `timeoutMs` ms
   * have passed (a timer, not the clock, so an injected clock that stands still cannot hold it up).
   * Then waits for the attempts still in flight (each bounded by the adapter timeout) and gives up
   * whatever is left.
   */
  async flush(timeoutMs: number): Promise<void> {
    let expired = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const stop = new Promise<void>((resolve) => {
      deadline = setTimeout(() => {
        expired = true;
        resolve();
      }, timeoutMs);
      deadline.unref?.();
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
    await Promise.all([...this.#jobs.values()].map((job) => job.attempt));
    for (const job of [...this.#jobs.values()]) {
      this.#giveUp(job, `not written before the shutdown deadline after ${job.attempts} attempt(s)`);
    }
    await Promise.all(this.#settling);
  }

  #newJob(request: WriteRequest<TPayload>): Job<TPayload> {
    const job: Job<TPayload> = {
      request,
      attempts: 0,
      ambiguous: request.ambiguous === true,
      failing: false,
      next: undefined,
      timer: undefined,
      attempt: undefined,
    };
    this.#jobs.set(request.key, job);
    return job;
  }

  #attempt(job: Job<TPayload>): Promise<void> {
    if (job.timer !== undefined) clearTimeout(job.timer);
    job.timer = undefined;
    // #run ends every attempt itself (#ended) once it has the outcome; one that ends before its
    // first await (nothing left to write) leaves STARTING replaced, and is never in flight.
    job.attempt = STARTING;
    const attempt = this.#run(job);
    if (job.attempt === STARTING) job.attempt = attempt;
    return attempt;
  }

  /**
   * The attempt in flight has its outcome: from now on a write for the key starts or replaces the
   * job itself rather than waiting as `next` for an attempt that will not look at it again.
   */
  #ended(job: Job<TPayload>): void {
    job.attempt = undefined;
  }

  /** Writes the job's request, then any newer one that arrived meanwhile, until one fails or none is left. */
  async #run(job: Job<TPayload>): Promise<void> {
    try {
      for (;;) {
        const { key, text, version, expiresAt, payload, refused, answered } = job.request;
        const ttl = Math.ceil(expiresAt - this.#now());
        if (ttl <= 0) {
          this.#ended(job);
          this.#giveUp(job, 'expired before it could be written');
          return;
        }
        job.attempts += 1;
        let stored: boolean;
        try {
          stored = await (this.#batcher === undefined
            ? this.#store.write(key, text, version, ttl)
            : this.#batcher.write(key, text, version, ttl));
        } catch (cause) {
          this.#failedAttempt(job, cause);
          this.#ended(job);
          return;
        }
        answered?.();
        if (stored) this.#events.written(payload);
        else if (refused !== undefined) refused();
        else this.#events.superseded(payload);
        if (job.next === undefined) {
          this.#ended(job);
          this.#remove(job);
          return;
        }
        job.request = job.next;
        job.next = undefined;
        job.attempts = 0;
        job.ambiguous = job.request.ambiguous === true;
      }
    } catch (error) {
      // Not expected (an event handler threw): the attempt is over all the same.
      this.#ended(job);
      throw error;
    }
  }

  #failedAttempt(job: Job<TPayload>, cause: unknown): void {
    const { key } = job.request;
    // A transient failure (a timeout, a lost connection) may still land, unless the adapter knows the
    // command was never sent; a refusal for good did not, but an earlier attempt of this write may have.
    if (isTransient(cause) && !isUnsent(cause)) job.ambiguous = true;
    const error = new PersistError(
      describeKey(key),
      `adapter ${this.#store.name} failed to save ${describeKey(key)} (attempt ${job.attempts})`,
      { cause },
    );
    this.#events.failed(error, job.attempts === 1);
    if (this.#jobs.get(key) !== job) return;
    if (job.next !== undefined) {
      job.request = job.next;
      Object.assign(job, { next: undefined, attempts: 0 });
    }
    if (!isTransient(cause)) {
      this.#giveUp(job, `refused for good by adapter ${this.#store.name}`, cause);
      return;
    }
    this.#retryLater(job);
  }

  #retryLater(job: Job<TPayload>): void {
    const backoff = Math.min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2 ** Math.max(0, job.attempts - 1));
    const delay = backoff * (0.5 + Math.random() / 2);
    job.timer = setTimeout(() => void this.#attempt(job), delay);
    job.timer.unref?.();
    if (!job.failing) {
      job.failing = true;
      this.#failing.add(job);
      this.#enforceBound();
    }
  }

  #enforceBound(): void {
    const max = this.#maxPending();
    for (const job of this.#failing) {
      if (this.#failing.size <= max) return;
      if (job.attempt === undefined) this.#giveUp(job, `dropped from the retry queue: more than ${max} writes waiting for a retry`);
    }
  }

  /** Gives a job up: out of the queue now; fenced in the store first when an attempt may still land. */
  #giveUp(job: Job<TPayload>, why: string, cause?: unknown): void {
    if (this.#jobs.get(job.request.key) === job) this.#remove(job);
    const settle = this.#settleGiveUp(job, why, cause);
    this.#settling.add(settle);
    void settle.finally(() => this.#settling.delete(settle));
  }

  async #settleGiveUp(job: Job<TPayload>, why: string, cause: unknown): Promise<void> {
    const { key, text, version, expiresAt, payload } = job.request;
    let note = '';
    if (job.ambiguous && this.#store.ordered) {
      const ttl = Math.max(1, Math.ceil(expiresAt - this.#now()));
      try {
        const landed = await this.#store.fence(key, version, ttl);
        // It had landed after all: the fence took it out; put it back (same version: allowed over its own floor).
        if (landed?.version === version && (await this.#store.rewriteFenced(key, text, version, ttl).catch(() => false))) {
          this.#events.written(payload);
          return;
        }
      } catch {
        note = ' (the store could not be fenced: an attempt still in the network may land)';
      }
    } else if (job.ambiguous) {
      note = ' (adapter without ordered writes: an attempt still in the network may land)';
    }
    this.#events.gaveUp(
      payload,
      new PersistError(describeKey(key), `snapshot ${describeKey(key)} ${why}${note}`, cause === undefined ? undefined : { cause }),
    );
  }

  #remove(job: Job<TPayload>): void {
    if (job.timer !== undefined) clearTimeout(job.timer);
    job.timer = undefined;
    this.#failing.delete(job);
    if (this.#jobs.get(job.request.key) === job) this.#jobs.delete(job.request.key);
    if (!this.#jobs.has(job.request.key)) this.#notifyIdle(job.request.key);
  }

  #notifyIdle(key: string): void {
    const waiting = this.#idleWaiters.get(key);
    if (waiting === undefined) return;
    this.#idleWaiters.delete(key);
    for (const resolve of waiting) resolve();
  }
}

/** Resolves after `ms` ms (unref'd: a shutdown holds the loop itself). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
