import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { createClient } from '@redis/client';
import pg from 'pg';

/** The shared Redis (never flushed by the tests). */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** The shared Postgres (trust auth; never dropped by the tests). */
export const DATABASE_URL = process.env.DATABASE_URL || process.env.POSTGRES_URL || 'postgresql://root@127.0.0.1:5432/test';

/** Under CI a missing service is a failure, never a skip (as in test/helpers/services.ts at the root). */
export const IN_CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());

/** For a `before` hook: fails under CI, else skips the suite, when `probe` fails. */
export async function requireService(context: Mocha.Context, what: string, probe: () => Promise<void>): Promise<void> {
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
    const client = redisClient();
    try {
      await client.connect();
      await client.ping();
    } finally {
      if (client.isOpen) client.destroy();
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

/** A client of the shared Redis for the tests' own reads and writes (connect it; destroy it in an after hook). */
export function redisClient() {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => {});
  return client;
}

/** A name of this run's own: `<prefix>_<16 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** A TCP port of 127.0.0.1 nobody listened on a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server that accepts connections and never answers (a hung store). Close it in an after hook. */
export async function silentServer(): Promise<{ port: number; server: Server }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** Polls `check` every 20 ms until it is true; throws after `timeoutMs` naming `what`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
