import { randomUUID } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { runAdapterTests } from '@reprise/adapter-tests';
import { RedisAdapter } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The suite's keys carry a random UUID per run; the prefix keeps this package's runs apart too.
const prefix = `reprise-conformance:${randomUUID()}:`;

// { url }: every adapter creates, owns and closes its client, so the close check also counts
// sockets and timers left behind.
runAdapterTests('RedisAdapter { url }', () => new RedisAdapter({ url: REDIS_URL, prefix }), { describe, it, before, after });

describe('RedisAdapter { client } (conformance)', () => {
  // One caller-owned client shared by every adapter the suite makes: it outlives them (each
  // close() leaves it open), so resources are not counted; it is destroyed here at the end.
  const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
  before(async () => {
    await client.connect();
  });
  after(() => {
    client.destroy();
  });
  runAdapterTests(
    'RedisAdapter { client }',
    () => new RedisAdapter({ client, prefix }),
    { describe, it, before, after },
    { checkResources: false },
  );
});
