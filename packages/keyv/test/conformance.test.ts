import { randomUUID } from 'node:crypto';
import { Keyv } from 'keyv';
import KeyvRedis, { createClient } from '@keyv/redis';
import KeyvPostgres from '@keyv/postgres';
import pg from 'pg';
import { runAdapterTests } from '@reprise/adapter-tests';
import { KeyvAdapter } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://root@127.0.0.1:5432/test';
const functions = { describe, it, before, after };

// Keyv with its in-memory Map: a new Keyv per adapter, nothing to release.
runAdapterTests('KeyvAdapter (Keyv Map)', () => new KeyvAdapter(new Keyv({ throwOnErrors: true })), functions);

describe('KeyvAdapter (Keyv + @keyv/redis) (conformance)', () => {
  // The KeyvAdapter never disconnects the Keyv it is given: one Keyv serves every adapter of the
  // suite and is disconnected here, so the suite does not count resources.
  const namespace = `reprise-keyv-conformance-${randomUUID()}`;
  const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
  let keyv: Keyv;
  before(async () => {
    await client.connect();
    keyv = new Keyv(new KeyvRedis(client, { namespace, throwOnErrors: true }), { namespace, useKeyPrefix: false, throwOnErrors: true });
  });
  after(async () => {
    await keyv.clear();
    await keyv.disconnect();
  });
  runAdapterTests('KeyvAdapter (Keyv + @keyv/redis)', () => new KeyvAdapter(keyv), functions, { checkResources: false });
});

describe('KeyvAdapter (Keyv + @keyv/postgres) (conformance)', () => {
  const table = `reprise_keyv_conformance_${randomUUID().replaceAll('-', '')}`;
  const namespace = 'reprise';
  let keyv: Keyv;
  before(async () => {
    keyv = new Keyv(new KeyvPostgres({ uri: POSTGRES_URL, table, allowExitOnIdle: true }), { namespace, throwOnErrors: true });
    await keyv.get('warm-up'); // waits for the store's CREATE TABLE
  });
  after(async () => {
    await keyv.disconnect(); // ends @keyv/postgres's module-global pool
    const sql = new pg.Client({ connectionString: POSTGRES_URL });
    await sql.connect();
    await sql.query(`DROP TABLE IF EXISTS public.${table}`);
    await sql.end();
  });
  // @keyv/postgres keys are VARCHAR(255) including "reprise:": 247 characters are left for ours.
  runAdapterTests('KeyvAdapter (Keyv + @keyv/postgres)', () => new KeyvAdapter(keyv), functions, {
    checkResources: false,
    maxKeyLength: 255 - `${namespace}:`.length,
  });
});
