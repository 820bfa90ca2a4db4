import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Keyv } from 'keyv';
import KeyvRedis, { createClient } from '@keyv/redis';
import { KeyvAdapter } from '../src/index.js';
import { expectRejection } from '@reprise/adapter-tests/internal';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('KeyvAdapter over @keyv/redis (real Redis)', () => {
  const namespace = `reprise-keyv-test-${randomUUID()}`;
  const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
  // A second connection to look at the raw keys.
  const probe = createClient({ url: REDIS_URL });
  let keyv: Keyv;
  let adapter: KeyvAdapter;

  before(async () => {
    await Promise.all([client.connect(), probe.connect()]);
    const store = new KeyvRedis(client, { namespace, throwOnErrors: true });
    keyv = new Keyv(store, { namespace, useKeyPrefix: false, throwOnErrors: true });
    adapter = new KeyvAdapter(keyv);
  });

  after(async () => {
    await adapter?.close();
    const keys = await probe.keys(`${namespace}*`);
    if (keys.length > 0) await probe.unlink(keys);
    await keyv?.disconnect();
    probe.destroy();
  });

  it('is atomic and named keyv:redis', () => {
    expect(adapter.atomic).to.equal(true);
    expect(adapter.name).to.equal('keyv:redis');
  });

  it('stores each key under one prefix: namespace::key', async () => {
    await adapter.save('user:42', 'v');
    expect(await probe.keys(`${namespace}*`)).to.deep.equal([`${namespace}::user:42`]);
    expect(await adapter.delete('user:42')).to.equal(true);
  });

  it('a fractional TTL is stored with PX rounded up (the silent SET … PX 1500.2 failure)', async () => {
    await adapter.save('frac', 'v', 1500.2);
    const pttl = await probe.pTTL(`${namespace}::frac`);
    expect(pttl).to.be.within(1, 1501);
    expect(await adapter.load('frac')).to.equal('v');
  });

  it('a sub-millisecond TTL still writes (PX 1) and expires', async () => {
    await adapter.save('tiny', 'v', 0.2);
    const pttl = await probe.pTTL(`${namespace}::tiny`);
    // -2: already gone (1 ms passed); otherwise 0 or 1 ms left. Never -1 (no expiry).
    expect(pttl).to.be.oneOf([-2, 0, 1]);
  });

  it('expires a value after its TTL', async () => {
    await adapter.save('short', 'v', 30);
    expect(await adapter.load('short')).to.equal('v');
    const deadline = Date.now() + 2000;
    while ((await adapter.load('short')) !== undefined) {
      if (Date.now() > deadline) expect.fail('value still readable 2 s after a 30 ms TTL');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await adapter.take('short')).to.equal(undefined);
    expect(await adapter.delete('short')).to.equal(false);
  });

  it('concurrent takes over two connections: exactly one caller gets the value', async () => {
    const otherClient = createClient({ url: REDIS_URL, disableOfflineQueue: true });
    await otherClient.connect();
    const other = new KeyvAdapter(
      new Keyv(new KeyvRedis(otherClient, { namespace, throwOnErrors: true }), { namespace, useKeyPrefix: false, throwOnErrors: true }),
    );
    try {
      for (let round = 0; round < 5; round++) {
        await adapter.save('race', `v${round}`);
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : adapter).take('race')));
        expect(
          results.filter((r) => r === `v${round}`),
          `round ${round}`,
        ).to.have.length(1);
      }
    } finally {
      otherClient.destroy();
    }
  });

  it('a Redis error reply (WRONGTYPE) rejects with ERR_REPRISE_ADAPTER and its cause', async () => {
    await probe.hSet(`${namespace}::hash`, 'f', 'v');
    const error = await expectRejection(adapter.load('hash'), 'ERR_REPRISE_ADAPTER', /load failed: WRONGTYPE/);
    expect(error.cause).to.be.instanceOf(Error);
  });
});
