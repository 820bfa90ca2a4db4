import type fc from 'fast-check';
import { decodeRecord, type DecodedRecord } from '../../src/codec.js';
import type { SessionAdapter } from '../../src/types.js';

/** Which adapter calls may fail in a run of the exactly-once property. */
export type FailMode = 'none' | 'saves' | 'all';

type Method = 'save' | 'load' | 'take' | 'delete';

/** One call that reached the store and succeeded. */
export interface StoreEvent {
  method: Method;
  key: string;
  /** What was written (save) or returned (load, take); `undefined` when nothing. */
  value: string | undefined;
  /** `value`, decoded. */
  record: DecodedRecord | undefined;
  /** For a save: the value is one a take() returned before (the core putting back what it took). */
  putBack: boolean;
}

/** The error a planned adapter failure throws (so the test can recognise it in reports). */
export class PlannedAdapterFailure extends Error {
  constructor(method: Method, key: string) {
    super(`planned ${method} failure on ${JSON.stringify(key)}`);
    this.name = 'PlannedAdapterFailure';
  }
}

/**
 * A Map-based SessionAdapter whose every call resolves through fast-check's scheduler, so the
 * property explores every order in which adapter calls complete. The operation itself happens
 * atomically when the scheduler releases the call (like a real store acting some time after the call).
 * Failures follow a cyclic boolean plan (per call number), for the methods `mode` allows; a failing
 * call throws before touching the store. Every successful call is logged with the decoded record.
 */
export class ScheduledAdapter implements SessionAdapter {
  readonly name = 'scheduled';
  readonly atomic = true;
  readonly entries = new Map<string, { value: string; expiresAt: number }>();
  /** Successful calls, in the order they took effect. */
  readonly log: StoreEvent[] = [];
  /** Failed calls, by method and key. */
  readonly failures: { method: Method; key: string }[] = [];
  #calls = 0;
  readonly #s: fc.Scheduler;
  readonly #now: () => number;
  readonly #mode: FailMode;
  readonly #plan: readonly boolean[];

  constructor(s: fc.Scheduler, now: () => number, mode: FailMode, plan: readonly boolean[]) {
    this.#s = s;
    this.#now = now;
    this.#mode = mode;
    this.#plan = plan.length === 0 ? [false] : plan;
  }

  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.#gate('save', key);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.#now() + ttlMs });
    const putBack = this.log.some((e) => e.method === 'take' && e.value === value);
    this.log.push({ method: 'save', key, value, record: decodeRecord(value), putBack });
  }

  async load(key: string): Promise<string | undefined> {
    await this.#gate('load', key);
    const value = this.#read(key);
    this.log.push({ method: 'load', key, value, record: value === undefined ? undefined : decodeRecord(value), putBack: false });
    return value;
  }

  async take(key: string): Promise<string | undefined> {
    await this.#gate('take', key);
    const value = this.#read(key);
    this.entries.delete(key);
    this.log.push({ method: 'take', key, value, record: value === undefined ? undefined : decodeRecord(value), putBack: false });
    return value;
  }

  async delete(key: string): Promise<boolean> {
    await this.#gate('delete', key);
    const existed = this.#read(key) !== undefined;
    this.entries.delete(key);
    this.log.push({ method: 'delete', key, value: undefined, record: undefined, putBack: false });
    return existed;
  }

  /** The record stored (and readable) under `key` now, decoded. */
  peek(key: string): DecodedRecord | undefined {
    const value = this.#read(key);
    return value === undefined ? undefined : decodeRecord(value);
  }

  /** Whether a load or take of `key` failed. */
  readFailed(key: string): boolean {
    return this.failures.some((f) => f.key === key && (f.method === 'load' || f.method === 'take'));
  }

  async #gate(method: Method, key: string): Promise<void> {
    const n = this.#calls++;
    await this.#s.schedule(Promise.resolve(), `${method} ${key.slice(0, 8)}`);
    const mayFail = this.#mode === 'all' || (this.#mode === 'saves' && method === 'save');
    if (mayFail && this.#plan[n % this.#plan.length]) {
      this.failures.push({ method, key });
      throw new PlannedAdapterFailure(method, key);
    }
  }

  #read(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }
}
