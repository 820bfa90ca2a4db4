import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClient } from '@keyv/redis';
import pg from 'pg';

/** The shared Redis (never stopped by the tests). */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** The shared Postgres (trust auth; never stopped by the tests). */
export const DATABASE_URL = process.env.DATABASE_URL || process.env.POSTGRES_URL || 'postgresql://root@127.0.0.1:5432/test';

/** Under CI a missing service is a failure, never a skip. */
export const IN_CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());

/**
 * For a `before` hook: resolves when `probe` does. When it fails, the hook fails under CI and
 * otherwise skips the suite (mocha marks its tests pending) with the reason on the console.
 */
export async function requireService(context: Mocha.Context, what: string, probe: () => Promise<void> | void): Promise<void> {
  try {
    await probe();
  } catch (error) {
    const reason = `${what} is not available (${(error as Error).message})`;
    if (IN_CI) throw new Error(`${reason}; CI is set, so this is a failure and not a skip`);
    console.log(`      skipping: ${reason}; make it available, or set CI=true to make this a failure`);
    context.skip();
  }
}

export function requireRedis(context: Mocha.Context): Promise<void> {
  return requireService(context, `Redis at ${REDIS_URL}`, async () => {
    const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
    client.on('error', () => {}); // connect() rejects with the same error
    try {
      await client.connect();
      await client.ping();
    } finally {
      if (client.isOpen) client.destroy(); // destroy() of a client that failed to connect throws
    }
  });
}

export function requirePostgres(context: Mocha.Context): Promise<void> {
  return requireService(context, `Postgres at ${DATABASE_URL}`, async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => {});
    }
  });
}

/** A `redis-server` binary to start private servers with. */
export function requireRedisServer(context: Mocha.Context): Promise<void> {
  return requireService(context, 'the redis-server binary', () => {
    const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (result.error !== undefined) throw result.error;
    if (result.status !== 0) throw new Error(`redis-server --version exited ${result.status}: ${result.stderr}`);
  });
}

/** A name of this run's own: `<prefix>_<16 hex>` (a valid unquoted SQL identifier for a lowercase prefix). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** Deletes every key of the shared Redis (or `url`) that starts with `prefix`; resolves to how many there were. */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<number> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    let deleted = 0;
    for await (const keys of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
    return deleted;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Drops a table of the shared Postgres if it exists. */
export async function dropTable(table: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS "${table.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/** Whether a table exists in the shared Postgres. */
export async function tableExists(table: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const result = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      `"${table.replaceAll('"', '""')}"`,
    ]);
    return result.rows[0]?.found !== null;
  } finally {
    await client.end();
  }
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
