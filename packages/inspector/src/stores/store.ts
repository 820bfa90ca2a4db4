import type { KeyPattern } from '../pattern.js';

/**
 * What a stored key holds, as the store sees it, before any decoding:
 * - `value`: a snapshot value as the adapters write it (Redis: a hash `{ value, version }` or a plain
 *   string of @reprise/redis 0.1; Postgres: a row with a value);
 * - `floor`: a version without a value, what a take leaves (no data: a restore consumed the snapshot);
 * - `lease`, `token`, `deadlines`: the keys of `RedisCoordinator` (`lease:<id>`, `token:<id>`,
 *   `deadlines`), which are not snapshots;
 * - `foreign`: anything else under the prefix (another type, a hash of other fields).
 */
export type Layout = 'value' | 'floor' | 'lease' | 'token' | 'deadlines' | 'foreign';

/** One stored key. Times are ms since the epoch, durations ms. */
export interface StoredEntry {
  /** The adapter key: without the Redis prefix; the `key` column in Postgres. */
  readonly key: string;
  /** How the store addresses the key, for {@link SnapshotStore.delete} (Redis: the full key; Postgres: the row id in hex). */
  readonly ref: string;
  readonly layout: Layout;
  /** The stored bytes of a `value`; `undefined` for the other layouts. */
  readonly value: Buffer | undefined;
  /** Size of `value` in bytes (0 without one). */
  readonly bytes: number;
  /** The version of ordered writes (a decimal string), when the key has one. */
  readonly version: string | undefined;
  /** When the key expires, `undefined` for never (Redis: computed from `PTTL` on this machine's clock). */
  readonly expiresAt: number | undefined;
  /** ms left before it expires, `undefined` for never; 0 or less: expired, not yet swept (Postgres). */
  readonly ttlMs: number | undefined;
  /** For the layouts other than `value`: what the key holds, in words (`owner a, token 3`). */
  readonly detail: string | undefined;
}

/** The inspector's view of a store: reads, scans and deletes keys, never writes. */
export interface SnapshotStore {
  /** The store for people: `Redis 127.0.0.1:6379, prefix "reprise:"` (no password). */
  readonly description: string;
  /**
   * Every key matching `pattern`, in batches, each key once. Redis: `SCAN` (never `KEYS`), so keys
   * written or deleted during the scan may or may not be seen. Postgres: keyset pages over the
   * primary key. Stops early when the consumer stops iterating.
   */
  scan(pattern: KeyPattern): AsyncIterable<StoredEntry[]>;
  /** The key, or `undefined` when there is none. */
  get(key: string): Promise<StoredEntry | undefined>;
  /** Deletes the keys of these entries (whatever they hold now); resolves how many existed. */
  delete(entries: readonly StoredEntry[]): Promise<number>;
  /** Closes the connection. Idempotent. */
  close(): Promise<void>;
}
