import { expect } from 'chai';
import { MAX_BATCH_WRITES } from '@reprise/core/adapter-kit';
import { expectRejection } from '@reprise/adapter-tests/internal';
import { RedisAdapter } from '../src/index.js';
import { KEYS_PER_BATCH_SCRIPT } from '../src/scripts.js';
import { DRIFT_MS, REDIS_URL, prefixedRedis } from './support/prefixed-redis.js';
import { freePort } from './support/redis-server.js';
import { LatencyProxy } from './support/latency-proxy.js';

describe('RedisAdapter: saveManyIfNewer (shared Redis)', function () {
  this.timeout(20_000);
  const { prefix: RUN_PREFIX, probe, adapter, at } = prefixedRedis('batch');

  it('writes each entry under prefix + key as the hash saveIfNewer writes, with its own TTL on the key', async () => {
    await adapter.saveIfNewer('older', 'kept', 5);
    const results = await adapter.saveManyIfNewer([
      { key: 'ttl', value: 'with a TTL', version: 3, ttlMs: 60_000 },
      { key: 'older', value: 'refused', version: 4, ttlMs: 60_000 },
      { key: 'no-ttl', value: 'v\u0000w', version: Number.MAX_SAFE_INTEGER },
    ]);
    expect(results).to.deep.equal([true, false, true]);
    expect(await probe.hGetAll(at('ttl'))).to.deep.equal({ value: 'with a TTL', version: '3' });
    expect(await probe.pTTL(at('ttl'))).to.be.within(60_000 - DRIFT_MS, 60_000);
    expect(await probe.hGetAll(at('older'))).to.deep.equal({ value: 'kept', version: '5' });
    expect(await probe.pTTL(at('older')), 'a refused entry leaves the key as it was').to.equal(-1);
    expect(await probe.hGetAll(at('no-ttl'))).to.deep.equal({ value: 'v\u0000w', version: '9007199254740991' });
    expect(await probe.pTTL(at('no-ttl'))).to.equal(-1);
  });

  it(`a batch of ${2 * KEYS_PER_BATCH_SCRIPT + 50} entries runs the script ${KEYS_PER_BATCH_SCRIPT} keys at a time, and each entry gets its own result, in order, across the runs`, async () => {
    const n = 2 * KEYS_PER_BATCH_SCRIPT + 50;
    // Every fifth key already holds a newer value; every seventh a 0.1 string (version 0); every
    // eleventh a floor at the entry's version (a value at that version may still be written); with a TTL on some.
    const expected: boolean[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 5 === 0) {
        await adapter.saveIfNewer(`mixed-${i}`, 'newer', 10 + i, 60_000);
        expected.push(false);
      } else if (i % 7 === 0) {
        await probe.set(at(`mixed-${i}`), 'plain 0.1 string', { PX: 60_000 });
        expected.push(true);
      } else if (i % 11 === 0) {
        await adapter.saveIfNewer(`mixed-${i}`, 'taken', 1 + i);
        expect(await adapter.take(`mixed-${i}`)).to.equal('taken');
        expected.push(true);
      } else {
        expected.push(true);
      }
    }
    const writes = Array.from({ length: n }, (_, i) => ({
      key: `mixed-${i}`,
      value: `w${i}`,
      version: 1 + i,
      ...(i % 2 === 0 ? { ttlMs: 30_000 } : {}),
    }));
    expect(await adapter.saveManyIfNewer(writes)).to.deep.equal(expected);
    for (let i = 0; i < n; i++) {
      const stored = await probe.hGetAll(at(`mixed-${i}`));
      const ttl = await probe.pTTL(at(`mixed-${i}`));
      if (!expected[i]) {
        expect(stored, `entry ${i}`).to.deep.equal({ value: 'newer', version: String(10 + i) });
        expect(ttl).to.be.within(60_000 - DRIFT_MS, 60_000);
        continue;
      }
      expect(stored, `entry ${i}`).to.deep.equal({ value: `w${i}`, version: String(1 + i) });
      if (i % 2 === 0) expect(ttl, `entry ${i}'s TTL`).to.be.within(30_000 - DRIFT_MS, 30_000);
      else expect(ttl, `entry ${i} without ttlMs keeps no TTL of what it replaced`).to.equal(-1);
    }
  });

  it('an empty batch resolves [] without connecting (even to a port where nothing listens)', async () => {
    const nowhere = new RedisAdapter({ url: `redis://127.0.0.1:${await freePort()}` });
    try {
      expect(await nowhere.saveManyIfNewer([])).to.deep.equal([]);
      expect(nowhere.prefix).to.equal('reprise:');
    } finally {
      await nowhere.close();
    }
  });

  it('rejects bad arguments naming the index before sending anything, and after close()', async () => {
    await expectRejection(
      adapter.saveManyIfNewer([
        { key: 'a', value: 'v', version: 1 },
        { key: 'b', value: 'v', version: 1, ttlMs: 0 },
      ]),
      'ERR_REPRISE_ADAPTER',
      /^RedisAdapter: writes\[1\]: ttlMs must be undefined or a positive finite number/,
    );
    expect(await probe.exists(at('a'))).to.equal(0);
    const closed = new RedisAdapter({ url: REDIS_URL, prefix: RUN_PREFIX });
    await closed.close();
    await expectRejection(
      closed.saveManyIfNewer([{ key: 'a', value: 'v', version: 1 }]),
      'ERR_REPRISE_ADAPTER',
      /^RedisAdapter: saveManyIfNewer after close\(\)$/,
    );
  });

  it('an entry on a key of another type rejects the batch (WRONGTYPE, sent: not unsent); the other entries, independent, were stored', async () => {
    await probe.rPush(at('a-list'), 'x');
    const error = await expectRejection(
      adapter.saveManyIfNewer([
        { key: 'before-list', value: 'v', version: 1 },
        { key: 'a-list', value: 'v', version: 1 },
        { key: 'after-list', value: 'v', version: 1 },
      ]),
      'ERR_REPRISE_ADAPTER',
      /^RedisAdapter: saveManyIfNewer failed: .*WRONGTYPE/,
    );
    expect(error).to.include({ transient: true, unsent: false });
    expect(await adapter.load('before-list')).to.equal('v');
    expect(await adapter.load('after-list')).to.equal('v');
  });

  it(`${MAX_BATCH_WRITES} entries cost one round trip: through a proxy adding 100 ms each way, the batch takes one round trip, not ${MAX_BATCH_WRITES}`, async () => {
    const proxy = await LatencyProxy.start('127.0.0.1', Number(new URL(REDIS_URL).port || 6379), 100);
    const url = new URL(REDIS_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const distant = new RedisAdapter({ url: url.toString(), prefix: RUN_PREFIX, commandTimeout: 10_000 });
    try {
      await distant.saveIfNewer('warm-up', 'v', 1); // connects, and caches the script on the server
      const writes = Array.from({ length: MAX_BATCH_WRITES }, (_, i) => ({
        key: `distant-${i}`,
        value: `v${i}`,
        version: 1,
        ttlMs: 60_000,
      }));
      const started = performance.now();
      const results = await distant.saveManyIfNewer(writes);
      const ms = performance.now() - started;
      expect(results).to.have.length(MAX_BATCH_WRITES);
      expect(results.every((stored) => stored === true)).to.equal(true);
      expect(ms, `${MAX_BATCH_WRITES} entries took ${ms.toFixed(0)} ms with a round trip of 200 ms`).to.be.within(190, 2 * 200 - 10);
      expect(await adapter.load(`distant-${MAX_BATCH_WRITES - 1}`)).to.equal(`v${MAX_BATCH_WRITES - 1}`);
    } finally {
      await distant.close();
      await proxy.close();
    }
  });
});
