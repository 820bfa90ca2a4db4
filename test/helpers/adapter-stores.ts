import { randomUUID } from 'node:crypto';
import type { SessionAdapter } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { PostgresAdapter } from '@reprise/postgres';
import { RedisAdapter } from '@reprise/redis';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './services.js';

/** An adapter on this run's own keys (Redis prefix, Postgres table), the cleanup that removes them, and what a memory adapter dropped. */
export interface OpenedStore {
  readonly adapter: SessionAdapter;
  /** Keys a `MemoryAdapter` dropped to honour `maxEntries` (always empty for the other stores). */
  readonly dropped: string[];
  cleanup(): Promise<void>;
}

/** One store to run a scenario on: how to check it is there, and how to open an adapter of the run's own. */
export interface StoreCase {
  readonly name: 'memory' | 'Redis' | 'Postgres';
  /** For a `before` hook: skips (or fails under CI) when the service is missing. */
  readonly require?: (context: Mocha.Context) => Promise<void>;
  open(): OpenedStore;
}

/**
 * The memory adapter (bounded far above what a test writes, every drop recorded), Redis on a prefix
 * `reprise-it:<label>:<uuid>:` and Postgres on a table `reprise_it_<label>_<hex>` of the run's own.
 * `label`: lowercase letters, digits and underscores.
 */
export function storeCases(label: string, which: readonly StoreCase['name'][] = ['memory', 'Redis', 'Postgres']): StoreCase[] {
  const all: StoreCase[] = [
    {
      name: 'memory',
      open() {
        const dropped: string[] = [];
        const adapter = new MemoryAdapter({ maxEntries: 1_000_000, onDrop: (key) => dropped.push(key) });
        return { adapter, dropped, cleanup: async () => {} };
      },
    },
    {
      name: 'Redis',
      require: requireRedis,
      open() {
        const prefix = `reprise-it:${label}:${randomUUID()}:`;
        return {
          adapter: new RedisAdapter({ url: REDIS_URL, prefix }),
          dropped: [],
          cleanup: async () => void (await deleteRedisKeys(prefix)),
        };
      },
    },
    {
      name: 'Postgres',
      require: requirePostgres,
      open() {
        const table = uniqueName(`reprise_it_${label}`);
        return {
          adapter: new PostgresAdapter({ connectionString: DATABASE_URL }, { table }),
          dropped: [],
          cleanup: () => dropTable(table),
        };
      },
    },
  ];
  return all.filter((store) => which.includes(store.name));
}
