import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LiveSession } from './live-session.js';
import type { SessionData, Snapshot } from './types.js';

/** ms of encoding a checkpoint pass does before it gives the event loop back. */
export const CHECKPOINT_SLICE_MS = 4;
/** Checkpoint writes a pass may have issued and not seen answered before it waits for them. */
export const MAX_CHECKPOINTS_IN_FLIGHT = 4_000;

/** What the checkpointer needs of its manager. */
export interface CheckpointContext<TData extends SessionData> {
  /** ms between passes; 0: off. Read at every arming, so `setOption` applies from the next pass. */
  interval(): number;
  /** The session's checkpoint and its text, or `undefined` when there is none to write now (the caller reports why). */
  encode(session: LiveSession<TData>): { readonly snapshot: Snapshot<TData>; readonly text: string } | undefined;
  /** Writes a checkpoint; resolves after its first attempt (failures stay with the write queue). */
  write(snapshot: Snapshot<TData>, text: string): Promise<void>;
}

/**
 * Writes checkpoints: copies of live sessions that changed since their last write, at most one
 * interval after the change, so that a crash loses at most one interval of acknowledged writes.
 *
 * A session becomes a candidate when a request on it ends ({@link mark}), when it is created or
 * restored, or when the application touches it; a pass, one interval after the first candidate since
 * the last pass, encodes each idle candidate and writes it unless its text is the one last written
 * (compared by SHA-1, so an unchanged session costs an encoding and no write). A session busy at the
 * pass is left to the end of its request, which marks it again. A pass encodes in slices of
 * {@link CHECKPOINT_SLICE_MS} and yields between them, with at most {@link MAX_CHECKPOINTS_IN_FLIGHT}
 * writes unanswered, so 10,000 changed sessions never hold the event loop long; the write queue
 * batches what a slice issues. The timer is unref'd: checkpoints never keep a process alive.
 */
export class Checkpointer<TData extends SessionData> {
  readonly #c: CheckpointContext<TData>;
  #candidates = new Set<LiveSession<TData>>();
  /** SHA-1 of the text last handed to the store per session; absent: nothing written since it became live here. */
  readonly #written = new WeakMap<LiveSession<TData>, string>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = false;

  constructor(context: CheckpointContext<TData>) {
    this.#c = context;
  }

  /** Sessions waiting for the next pass. */
  get pending(): number {
    return this.#candidates.size;
  }

  /** Makes `session` a candidate of the next pass (arming it if needed). */
  mark(session: LiveSession<TData>): void {
    if (this.#stopped || this.#c.interval() === 0) return;
    this.#candidates.add(session);
    this.#arm();
  }

  /**
   * Forgets what was written for `session` (its record under its id was taken by a restore, or it
   * moved to a new id) and makes it a candidate: the next pass writes it even if unchanged.
   */
  reset(session: LiveSession<TData>): void {
    this.#written.delete(session);
    this.mark(session);
  }

  /** `session` is closing: it leaves the candidates (its close writes it), so a burst of closes holds no references here. */
  drop(session: LiveSession<TData>): void {
    this.#candidates.delete(session);
  }

  /** Whether a checkpoint of `session` was handed to the store since it became live here (or since its last {@link reset}). */
  wrote(session: LiveSession<TData>): boolean {
    return this.#written.has(session);
  }

  /**
   * Writes `session` now, changed or not (after a restore took its record out of the store: until it
   * is written again, a crash would lose it whole). Resolves after the first attempt.
   */
  async writeNow(session: LiveSession<TData>, encode?: CheckpointContext<TData>['encode']): Promise<void> {
    if (this.#stopped || this.#c.interval() === 0) return;
    this.#written.delete(session);
    await this.#checkpoint(session, encode);
  }

  /** Runs a pass now over the current candidates (also what the timer does). Resolves when its writes had their first attempt. */
  runPass(): Promise<void> {
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = undefined;
      if (this.#candidates.size > 0) this.#arm();
    });
    return this.#pass;
  }

  /** No more passes; resolves when the one running (if any) has issued its writes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#candidates.clear();
    await this.#pass;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#pass !== undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.runPass();
    }, this.#c.interval());
    this.#timer.unref();
  }

  async #runPass(): Promise<void> {
    const candidates = this.#candidates;
    this.#candidates = new Set();
    const inFlight = new Set<Promise<void>>();
    let sliceStart = performance.now();
    for (const session of candidates) {
      if (this.#stopped) break;
      if (session.state !== 'live' || session.busy) continue;
      const write = this.#checkpoint(session);
      if (write !== undefined) {
        inFlight.add(write);
        void write.finally(() => inFlight.delete(write));
      }
      if (performance.now() - sliceStart < CHECKPOINT_SLICE_MS) continue;
      await nextTurn();
      while (inFlight.size >= MAX_CHECKPOINTS_IN_FLIGHT) await Promise.race(inFlight);
      sliceStart = performance.now();
    }
    await Promise.all(inFlight);
  }

  /** Encodes and writes `session` unless its text is the one last written; `undefined` when nothing is written. */
  #checkpoint(session: LiveSession<TData>, encode = this.#c.encode): Promise<void> | undefined {
    const encoded = encode(session);
    if (encoded === undefined) return undefined;
    const digest = createHash('sha1').update(encoded.text).digest('base64');
    if (this.#written.get(session) === digest) return undefined;
    this.#written.set(session, digest);
    return this.#c.write(encoded.snapshot, encoded.text).catch(() => {
      // The write queue reports and retries; a write it gives up is forgotten here (see `failed`).
    });
  }

  /** A checkpoint of `session` was given up by the write queue: the next pass writes it again. */
  failed(session: LiveSession<TData>): void {
    if (session.state === 'live') this.reset(session);
  }
}
