import type { SessionAdapter, Snapshot } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { createClient } from '@keyv/redis';
import pg from 'pg';
import { DATABASE_URL, REDIS_URL } from './services.js';

/** How many keys of the Redis at `url` start with `prefix` (a SCAN: fine for a run's own prefix). */
export async function countRedisKeys(prefix: string, url = REDIS_URL): Promise<number> {
  return (await redisKeys(prefix, url)).size;
}

/** The keys of the Redis at `url` that start with `prefix`, without the prefix. */
export async function redisKeys(prefix: string, url = REDIS_URL): Promise<Set<string>> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    const keys = new Set<string>();
    for await (const batch of client.scanIterator({ MATCH: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, COUNT: 1_000 })) {
      for (const key of batch) keys.add(key.slice(prefix.length));
    }
    return keys;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Rows of a table of the shared Postgres; 0 when the table does not exist (nothing ever created it). */
export async function countRows(table: string): Promise<number> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const quoted = `"${table.replaceAll('"', '""')}"`;
    const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [quoted]);
    if (exists.rows[0]?.found === null) return 0;
    const result = await client.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${quoted}`);
    return Number(result.rows[0]!.count);
  } finally {
    await client.end();
  }
}

/**
 * The snapshot stored under each key (read through `adapter`, decoded), `undefined` for a key that
 * holds none. A pointer or an undecodable value throws: the tests that call this store neither.
 */
export async function readSnapshots<TData extends Record<string, unknown>>(
  adapter: SessionAdapter,
  keys: readonly string[],
): Promise<Map<string, Snapshot<TData> | undefined>> {
  const found = new Map<string, Snapshot<TData> | undefined>();
  for (const key of keys) {
    const text = await adapter.load(key);
    if (text === undefined) {
      found.set(key, undefined);
      continue;
    }
    const record = decodeRecord(text);
    if (record.kind !== 'snapshot') throw new Error(`${key} holds a ${record.kind}, not a snapshot`);
    found.set(key, record.snapshot as Snapshot<TData>);
  }
  return found;
}
