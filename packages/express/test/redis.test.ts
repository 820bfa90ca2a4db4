import { randomUUID } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { expect } from 'chai';
import { RedisAdapter } from '@reprise/redis';
import { buildApp, SECRET } from './support/app.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** Under CI a missing Redis is a failure, never a skip. */
const IN_CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());

describe('on a real Redis', function () {
  const prefix = `reprise-test-express:${randomUUID()}:`;
  const probe = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  probe.on('error', () => {});
  const adapters: RedisAdapter[] = [];

  before(async function () {
    try {
      await probe.connect();
      await probe.ping();
    } catch (error) {
      const reason = `Redis at ${REDIS_URL} is not available (${(error as Error).message})`;
      if (IN_CI) throw new Error(`${reason}; CI is set, so this is a failure and not a skip`);
      console.log(`      skipping: ${reason}`);
      this.skip();
    }
  });

  after(async () => {
    await Promise.all(adapters.splice(0).map((made) => made.close()));
    if (!probe.isOpen) return;
    const keys = await probe.keys(`${prefix}*`);
    if (keys.length > 0) await probe.unlink(keys);
    probe.destroy();
  });

  it('an evicted session is written under its own prefix, and the returning cookie restores it under the same id', async () => {
    const adapter = new RedisAdapter({ url: REDIS_URL, prefix });
    adapters.push(adapter);
    const t = buildApp({ session: { secret: SECRET, adapter: adapter as never, maxSessions: 1 } });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const id = alice.sid!;
    await t.browser().get('/inc');
    let keys: string[] = [];
    for (let tries = 0; tries < 100 && keys.length === 0; tries++) {
      keys = await probe.keys(`${prefix}*`);
      if (keys.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(keys.length, 'the snapshot is under the test prefix').to.be.greaterThan(0);
    const back = await alice.get('/id');
    expect(back.body.id).to.equal(id);
    expect(back.body.data).to.deep.equal({ cart: 'apple' });
  });
});
