import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The shared test server (trust auth). */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://root@127.0.0.1:5432/test';

/** A fresh table (or schema) name for one run: `reprise_test_<16 hex>`. */
export function uniqueName(prefix = 'reprise_test'): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** A small pool for the tests' own SQL (row counts, catalog checks, cleanup). End it in an after hook. */
export function adminPool(): pg.Pool {
  return new pg.Pool({ connectionString: POSTGRES_URL, max: 3, connectionTimeoutMillis: 5000 });
}

/** Drops tables (`name` or `"schema"."name"` SQL) if they exist. */
export async function dropTables(pool: pg.Pool, ...tables: string[]): Promise<void> {
  for (const table of tables) await pool.query(`DROP TABLE IF EXISTS ${table}`);
}

/** Number of rows in `table` (SQL text), counting expired ones. */
export async function rowCount(pool: pg.Pool, table: string): Promise<number> {
  const result = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return result.rows[0]!.n;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export { expectRejection, expectOptionError } from '@reprise/adapter-tests/internal';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Polls `check` every 25 ms until it returns true or `timeoutMs` passes; returns its last answer. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

/** What {@link tableFixture} gives a test group. */
export interface TableFixture {
  /** The admin pool (open between the group's before and after hooks). */
  admin(): pg.Pool;
  /** A fresh table name, dropped after the group. */
  freshTable(): string;
  /** Registers an adapter to close after the group; returns it. */
  track<A extends { close(): Promise<void> }>(adapter: A): A;
  /** Adds a cleanup step, run after the tables are dropped and before the admin pool ends. */
  onCleanup(step: (admin: pg.Pool) => Promise<unknown>): void;
}

/** Registers before/after hooks for a group that creates tables and adapters, and cleans them up. */
export function tableFixture(): TableFixture {
  let admin: pg.Pool | undefined;
  const tables: string[] = [];
  const adapters: Array<{ close(): Promise<void> }> = [];
  const cleanups: Array<(admin: pg.Pool) => Promise<unknown>> = [];
  before(() => {
    admin = adminPool();
  });
  after(async () => {
    await Promise.all(adapters.map((adapter) => adapter.close().catch(() => undefined)));
    await dropTables(admin!, ...tables);
    for (const step of cleanups) await step(admin!);
    await admin!.end();
  });
  return {
    admin: () => admin!,
    freshTable: () => {
      const name = uniqueName();
      tables.push(`"${name}"`);
      return name;
    },
    track: (adapter) => {
      adapters.push(adapter);
      return adapter;
    },
    onCleanup: (step) => {
      cleanups.push(step);
    },
  };
}
