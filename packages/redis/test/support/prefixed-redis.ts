import { randomUUID } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { RedisAdapter } from '../../src/index.js';

/** The shared Redis of the tests. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** PTTL is read a moment after the write: allow that much drift, in ms. */
export const DRIFT_MS = 200;

/**
 * Inside a `describe`: a `RedisAdapter` on a prefix of this run's own (`reprise-test-<label>:<uuid>:`),
 * a plain client (`probe`) to read what it stored, and `at(key)`, the key as stored. The adapter
 * connects on its first call; the probe before the tests. After them both are closed and every key
 * under the prefix is removed.
 */
export function prefixedRedis(label: string) {
  const prefix = `reprise-test-${label}:${randomUUID()}:`;
  const probe = createClient({ url: REDIS_URL });
  const adapter = new RedisAdapter({ url: REDIS_URL, prefix });

  before(async () => {
    await probe.connect();
  });

  after(async () => {
    await adapter.close();
    const keys = await probe.keys(`${prefix}*`);
    if (keys.length > 0) await probe.unlink(keys);
    probe.destroy();
  });

  return { prefix, probe, adapter, at: (key: string): string => `${prefix}${key}` };
}
