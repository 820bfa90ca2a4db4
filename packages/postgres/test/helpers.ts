import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { RepriseError } from '@reprise/core';

/** The shared test server (trust auth). */
export const POSTGRES_URL = process.env['POSTGRES_URL'] ?? 'postgresql://root@127.0.0.1:5432/test';

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

/** Awaits `promise`, expecting a RepriseError of `code` whose message matches `pattern`; returns it. */
export async function expectRejection(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<RepriseError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  const error = caught as RepriseError;
  expect(error.code).to.equal(code);
  expect(error.message).to.match(pattern);
  return error;
}

/** Calls `construct`, expecting an ERR_REPRISE_OPTION RepriseError whose message matches `pattern`. */
export function expectOptionError(construct: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    construct();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a throw').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal('ERR_REPRISE_OPTION');
  expect((caught as RepriseError).message).to.match(pattern);
}

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
