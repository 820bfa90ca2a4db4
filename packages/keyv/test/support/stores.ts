import { EventEmitter } from 'node:events';

/** One call a {@link RecordingStore} received. */
export interface StoreCall {
  op: 'get' | 'set' | 'delete';
  key: string;
  ttl?: number | undefined;
}

/**
 * A minimal Keyv store over a Map that records every call (key as the store saw it, TTL as Keyv
 * passed it) and can be told to fail. Not a `Map`, so KeyvAdapter treats it as an unknown store.
 */
export class RecordingStore extends EventEmitter {
  readonly opts = { dialect: 'recording' };
  namespace: string | undefined;
  readonly data = new Map<string, unknown>();
  readonly calls: StoreCall[] = [];
  /** When set, every call rejects with it. */
  failWith: Error | undefined;
  /** When true, set() resolves to false (a store reporting a refused write). */
  refuseWrites = false;

  async get(key: string): Promise<unknown> {
    this.calls.push({ op: 'get', key });
    if (this.failWith) throw this.failWith;
    return this.data.get(key);
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.calls.push({ op: 'set', key, ttl });
    if (this.failWith) throw this.failWith;
    if (this.refuseWrites) return false;
    this.data.set(key, value);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    this.calls.push({ op: 'delete', key });
    if (this.failWith) throw this.failWith;
    return this.data.delete(key);
  }

  async clear(): Promise<void> {
    this.data.clear();
  }
}
