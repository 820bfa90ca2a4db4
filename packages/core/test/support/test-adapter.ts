import type { SessionAdapter } from '../../src/types.js';
import { decodeRecord, type DecodedRecord } from '../../src/codec.js';

interface Entry {
  value: string;
  /** ms since the epoch, or Infinity. */
  expiresAt: number;
}

/** One recorded call to the adapter. */
export interface AdapterCall {
  method: 'save' | 'load' | 'take' | 'delete' | 'close';
  key?: string;
  ttlMs?: number | undefined;
}

/**
 * A tiny in-test SessionAdapter: a Map with TTLs against an injectable clock, a log of calls, and
 * switchable failures. Core tests use it instead of @reprise/memory (core must not depend on it).
 */
export class TestAdapter implements SessionAdapter {
  readonly name = 'test';
  readonly atomic = true;
  readonly entries = new Map<string, Entry>();
  readonly calls: AdapterCall[] = [];
  /** When true, save() rejects. */
  failSaves = false;
  /** When true, load() and take() reject. */
  failReads = false;
  /** When true, delete() rejects. */
  failDeletes = false;
  /** When set, save() waits for this promise before storing. */
  saveGate: Promise<void> | undefined;
  /** When set, take() waits for this promise before reading. */
  takeGate: Promise<void> | undefined;
  closed = 0;
  readonly #now: () => number;

  constructor(now: () => number = () => Date.now()) {
    this.#now = now;
  }

  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    this.calls.push({ method: 'save', key, ttlMs });
    if (this.saveGate !== undefined) await this.saveGate;
    if (this.failSaves) throw new Error(`save of ${key} failed (test)`);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.#now() + ttlMs });
  }

  async load(key: string): Promise<string | undefined> {
    this.calls.push({ method: 'load', key });
    if (this.failReads) throw new Error(`load of ${key} failed (test)`);
    return this.#read(key);
  }

  async take(key: string): Promise<string | undefined> {
    this.calls.push({ method: 'take', key });
    if (this.takeGate !== undefined) await this.takeGate;
    if (this.failReads) throw new Error(`take of ${key} failed (test)`);
    const value = this.#read(key);
    this.entries.delete(key);
    return value;
  }

  async delete(key: string): Promise<boolean> {
    this.calls.push({ method: 'delete', key });
    if (this.failDeletes) throw new Error(`delete of ${key} failed (test)`);
    return this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.calls.push({ method: 'close' });
    this.closed += 1;
  }

  /** Stores a raw value (for corrupt-record tests). */
  put(key: string, value: string, ttlMs?: number): void {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.#now() + ttlMs });
  }

  /** The stored value, decoded; `undefined` when missing. */
  record(key: string): DecodedRecord | undefined {
    const value = this.#read(key);
    return value === undefined ? undefined : decodeRecord(value);
  }

  /** Keys currently readable. */
  keys(): string[] {
    return [...this.entries.keys()].filter((key) => this.#read(key) !== undefined);
  }

  /** Calls of one method. */
  callsOf(method: AdapterCall['method']): AdapterCall[] {
    return this.calls.filter((call) => call.method === method);
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
