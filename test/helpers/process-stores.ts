import { randomUUID } from 'node:crypto';
import type { SessionAdapter } from '@reprise/core';
import { PostgresAdapter } from '@reprise/postgres';
import { RedisAdapter } from '@reprise/redis';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './services.js';

/** A run's own keys or table on one store, for server processes (fixtures/session-server.mjs) and the test's reads. */
export interface OpenedStore {
  /** The fixture's environment for this run's keys or table (`ADAPTER` and its address). */
  readonly env: NodeJS.ProcessEnv;
  /** An adapter of the test's own on the same keys or table (closed by {@link cleanup}). */
  adapter(): SessionAdapter;
  /** Closes the test's adapter, if made, and removes the run's keys or table. */
  cleanup(): Promise<void>;
}

/** A store that server processes of a test share. */
export interface ProcessStore {
  readonly name: string;
  readonly require: (context: Mocha.Context) => Promise<void>;
  /** Opens this run's own keys (Redis prefix) or table (Postgres), named after `label`. */
  open(label: string): OpenedStore;
}

/** An {@link OpenedStore} whose adapter is made on first use, and closed at cleanup. */
function opened(env: NodeJS.ProcessEnv, make: () => SessionAdapter, remove: () => Promise<unknown>): OpenedStore {
  let adapter: SessionAdapter | undefined;
  return {
    env,
    adapter: () => (adapter ??= make()),
    cleanup: async () => {
      await adapter?.close?.();
      await remove();
    },
  };
}

/** Redis and Postgres, each run on keys or a table of its own. */
export const PROCESS_STORES: readonly ProcessStore[] = [
  {
    name: 'Redis',
    require: requireRedis,
    open(label) {
      const prefix = `reprise-it:${label}:${randomUUID()}:`;
      return opened(
        { ADAPTER: 'redis', REDIS_URL, PREFIX: prefix },
        () => new RedisAdapter({ url: REDIS_URL, prefix }),
        () => deleteRedisKeys(prefix),
      );
    },
  },
  {
    name: 'Postgres',
    require: requirePostgres,
    open(label) {
      const table = uniqueName(`reprise_it_${label}`);
      return opened(
        { ADAPTER: 'postgres', DATABASE_URL, TABLE: table },
        () => new PostgresAdapter({ connectionString: DATABASE_URL }, { table }),
        () => dropTable(table),
      );
    },
  },
];
