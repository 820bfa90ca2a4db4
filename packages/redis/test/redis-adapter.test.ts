import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createClient } from '@keyv/redis';
import { RedisAdapter } from '../src/index.js';
import { expectRejection } from '@reprise/adapter-tests/internal';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Every test's keys live under this run's prefix and are removed at the end. */
const RUN_PREFIX = `reprise-test:${randomUUID()}:`;

describe('RedisAdapter (shared Redis)', () => {
  const probe = createClient({ url: REDIS_URL });
  let adapter: RedisAdapter;

  before(async () => {
    await probe.connect();
  });

  beforeEach(() => {
    adapter = new RedisAdapter({ url: REDIS_URL, prefix: RUN_PREFIX });
  });

  afterEach(async () => {
    await adapter.close();
  });

  after(async () => {
    const keys = await probe.keys(`${RUN_PREFIX}*`);
    if (keys.length > 0) await probe.unlink(keys);
    probe.destroy();
  });

  it('round-trips unicode, NUL characters, an empty string and 1 MB, stored as is in a hash under prefix+key', async () => {
    for (const value of ['', 'héllo 𝄞 ﷽ e\u0301 👩‍👩‍👧', '\u0000a\u0000', '{"value":"x","expires":1}', 'x'.repeat(1024 * 1024)]) {
      await adapter.save('user:42', value);
      expect(await probe.hGetAll(`${RUN_PREFIX}user:42`), 'no envelope: the value as is, at version 0').to.deep.equal({
        value,
        version: '0',
      });
      expect(await adapter.load('user:42')).to.equal(value);
    }
    expect(await probe.keys(`${RUN_PREFIX}*`)).to.deep.equal([`${RUN_PREFIX}user:42`]);
  });

  it('the default prefix is reprise:', async () => {
    const plain = new RedisAdapter({ url: REDIS_URL });
    const key = `${RUN_PREFIX}default`;
    try {
      await plain.save(key, 'v');
      expect(await probe.hGet(`reprise:${key}`, 'value')).to.equal('v');
      expect(await plain.take(key)).to.equal('v');
    } finally {
      await plain.close();
    }
  });

  it('returns undefined for a missing key', async () => {
    expect(await adapter.load('missing')).to.equal(undefined);
    expect(await adapter.take('missing')).to.equal(undefined);
    expect(await adapter.delete('missing')).to.equal(false);
  });

  it('upsert replaces the value and clears the old TTL when saved without one', async () => {
    await adapter.save('k', 'one', 60_000);
    await adapter.save('k', 'two');
    expect(await adapter.load('k')).to.equal('two');
    expect(await probe.pTTL(`${RUN_PREFIX}k`)).to.equal(-1);
  });

  describe('TTL', () => {
    it('sets PX to the TTL rounded up to whole ms (a fractional PX would be refused by Redis)', async () => {
      await adapter.save('frac', 'v', 1500.2);
      expect(await probe.pTTL(`${RUN_PREFIX}frac`)).to.be.within(1490, 1501);
      await adapter.save('tiny', 'v', 0.001);
      expect(await probe.pTTL(`${RUN_PREFIX}tiny`)).to.be.oneOf([-2, 0, 1]);
    });

    it('a value is gone after its TTL', async () => {
      await adapter.save('short', 'v', 40);
      expect(await adapter.load('short')).to.equal('v');
      const deadline = Date.now() + 2000;
      while ((await adapter.load('short')) !== undefined) {
        if (Date.now() > deadline) expect.fail('still readable 2 s after a 40 ms TTL');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await adapter.take('short')).to.equal(undefined);
      expect(await adapter.delete('short')).to.equal(false);
    });

    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`rejects ttlMs ${bad} with ERR_REPRISE_ADAPTER, writing nothing`, async () => {
        await expectRejection(
          adapter.save('bad-ttl', 'v', bad),
          'ERR_REPRISE_ADAPTER',
          /ttlMs must be undefined or a positive finite number/,
        );
        expect(await probe.exists(`${RUN_PREFIX}bad-ttl`)).to.equal(0);
      });
    }
  });

  describe('take (one script)', () => {
    it('returns the value once and removes it (a value of version 0 leaves no floor)', async () => {
      await adapter.save('t', 'v');
      expect(await adapter.take('t')).to.equal('v');
      expect(await probe.exists(`${RUN_PREFIX}t`)).to.equal(0);
      expect(await adapter.take('t')).to.equal(undefined);
    });

    it('concurrent takes from two adapters (two connections): exactly one gets the value', async () => {
      const other = new RedisAdapter({ url: REDIS_URL, prefix: RUN_PREFIX });
      try {
        for (let round = 0; round < 10; round++) {
          await adapter.save('race', `v${round}`);
          const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : adapter).take('race')));
          expect(
            results.filter((r) => r === `v${round}`),
            `round ${round}`,
          ).to.have.length(1);
          expect(results.filter((r) => r === undefined)).to.have.length(19);
        }
      } finally {
        await other.close();
      }
    });
  });

  it('delete: true when something was deleted', async () => {
    await adapter.save('d', 'v');
    expect(await adapter.delete('d')).to.equal(true);
    expect(await adapter.delete('d')).to.equal(false);
  });

  it('a key of another type (a list, a foreign hash) rejects with a transient WRONGTYPE ERR_REPRISE_ADAPTER, no key in the message', async () => {
    await probe.hSet(`${RUN_PREFIX}hash-secret`, 'f', 'v');
    await probe.rPush(`${RUN_PREFIX}list-secret`, 'v');
    for (const key of ['hash-secret', 'list-secret']) {
      for (const call of [
        adapter.load(key),
        adapter.take(key),
        adapter.saveIfNewer(key, 'v', 1),
        adapter.takeVersioned(key, { version: 1 }),
      ]) {
        const error = await expectRejection(
          call,
          'ERR_REPRISE_ADAPTER',
          /RedisAdapter: (load|take|saveIfNewer|takeVersioned) failed: WRONGTYPE/,
        );
        expect(error.cause).to.be.instanceOf(Error);
        expect(error).to.have.property('transient', true);
        expect(error.message).not.to.include('secret');
      }
    }
  });

  it('rejects non-string keys and values with ERR_REPRISE_ADAPTER', async () => {
    await expectRejection(adapter.load(1 as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string, got 1/);
    await expectRejection(adapter.save('k', null as unknown as string), 'ERR_REPRISE_ADAPTER', /value must be a string, got null/);
  });

  describe('close()', () => {
    it('waits for calls in flight, then rejects later calls; idempotent', async () => {
      const saving = adapter.save('c', 'v');
      const closing = adapter.close();
      await saving;
      await closing;
      expect(await probe.hGet(`${RUN_PREFIX}c`, 'value')).to.equal('v');
      await expectRejection(adapter.load('c'), 'ERR_REPRISE_ADAPTER', /load after close\(\)/);
      await adapter.close();
    });

    it('close() of an adapter that never connected resolves at once', async () => {
      const unused = new RedisAdapter({ url: REDIS_URL });
      await unused.close();
      await expectRejection(unused.take('x'), 'ERR_REPRISE_ADAPTER', /take after close\(\)/);
    });
  });

  describe('{ client }: the caller owns the client', () => {
    it('connects a client that is not open, never closes it, and removes only its own listeners', async () => {
      const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
      const callerListener = (): void => {};
      client.on('error', callerListener);
      const before = ['error', 'connect', 'ready', 'reconnecting', 'end'].map((event) => client.listenerCount(event));
      const borrowed = new RedisAdapter({ client, prefix: RUN_PREFIX });
      try {
        await borrowed.save('mine', 'v');
        expect(client.isOpen, 'connected on first use').to.equal(true);
        expect(client.listenerCount('error')).to.be.greaterThan(before[0]!);
        await borrowed.close();
        expect(client.isReady, 'still open after the adapter closed').to.equal(true);
        expect(await client.hGet(`${RUN_PREFIX}mine`, 'value')).to.equal('v');
        expect(['error', 'connect', 'ready', 'reconnecting', 'end'].map((event) => client.listenerCount(event))).to.deep.equal(before);
        expect(client.listeners('error')).to.include(callerListener);
      } finally {
        client.destroy();
      }
    });

    it('works with a client the caller already connected, and two adapters can share it', async () => {
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      const a = new RedisAdapter({ client, prefix: RUN_PREFIX });
      const b = new RedisAdapter({ client, prefix: RUN_PREFIX });
      try {
        await a.save('shared', 'v');
        await a.close();
        expect(await b.take('shared')).to.equal('v');
      } finally {
        await b.close();
        client.destroy();
      }
    });

    it('a client its owner closed is never reopened: calls reject with ERR_REPRISE_ADAPTER', async () => {
      for (const openFirst of [true, false]) {
        const client = createClient({ url: REDIS_URL });
        if (openFirst) await client.connect();
        const borrowed = new RedisAdapter({ client, prefix: RUN_PREFIX });
        try {
          if (!openFirst) await borrowed.load('x');
          client.destroy();
          await expectRejection(borrowed.save('again', 'v'), 'ERR_REPRISE_ADAPTER', /the Redis client was closed by its owner/);
          expect(client.isOpen).to.equal(false);
        } finally {
          await borrowed.close();
        }
      }
    });
  });
});
