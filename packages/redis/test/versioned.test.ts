import { expect } from 'chai';
import { expectRejection } from '@reprise/adapter-tests/internal';
import { RedisAdapter } from '../src/index.js';
import { DRIFT_MS, REDIS_URL, prefixedRedis } from './support/prefixed-redis.js';

describe('RedisAdapter: ordered writes, as stored in Redis', () => {
  const { prefix: RUN_PREFIX, probe, adapter, at } = prefixedRedis('versioned');

  it('saveIfNewer writes a hash { value, version } with the TTL on the key; the version as its decimal string', async () => {
    expect(await adapter.saveIfNewer('k', 'v', Number.MAX_SAFE_INTEGER, 60_000)).to.equal(true);
    expect(await probe.hGetAll(at('k'))).to.deep.equal({ value: 'v', version: '9007199254740991' });
    expect(await probe.pTTL(at('k'))).to.be.within(60_000 - DRIFT_MS, 60_000);
  });

  it('takeVersioned leaves a floor { version } with the remaining TTL of the value, exactly (no rewrite of the expiry)', async () => {
    await adapter.saveIfNewer('floor', 'v', 7, 60_000);
    const expiresAt = await probe.pExpireTime(at('floor'));
    expect(await adapter.takeVersioned('floor')).to.deep.equal({ value: 'v', version: 7 });
    expect(await probe.hGetAll(at('floor'))).to.deep.equal({ version: '7' });
    expect(await probe.pExpireTime(at('floor'))).to.equal(expiresAt);
    await adapter.saveIfNewer('forever', 'v', 7);
    await adapter.take('forever');
    expect(await probe.pTTL(at('forever'))).to.equal(-1);
  });

  it('a take of a floor or of a missing key takes nothing and changes nothing (TTL included); a foreign hash is refused, left as it was', async () => {
    await adapter.saveIfNewer('twice', 'v', 9, 60_000);
    await adapter.takeVersioned('twice');
    const expiresAt = await probe.pExpireTime(at('twice'));
    expect(await adapter.takeVersioned('twice')).to.equal(undefined);
    expect(await adapter.take('twice')).to.equal(undefined);
    expect(await probe.hGetAll(at('twice'))).to.deep.equal({ version: '9' });
    expect(await probe.pExpireTime(at('twice'))).to.equal(expiresAt);
    expect(await adapter.takeVersioned('never-written')).to.equal(undefined);
    expect(await probe.exists(at('never-written'))).to.equal(0);
    await probe.hSet(at('foreign'), { value: 'v', other: 'x' });
    await expectRejection(adapter.takeVersioned('foreign'), 'ERR_REPRISE_ADAPTER', /WRONGTYPE/);
    expect(await probe.hGetAll(at('foreign'))).to.deep.equal({ value: 'v', other: 'x' });
  });

  it('a take of a version-0 value (plain save) leaves no key at all', async () => {
    await adapter.save('plain', 'v', 60_000);
    expect(await adapter.takeVersioned('plain')).to.deep.equal({ value: 'v', version: 0 });
    expect(await probe.exists(at('plain'))).to.equal(0);
  });

  it('a fence on a missing key writes { version } living ttlMs (rounded up), or without TTL when none is given', async () => {
    expect(await adapter.takeVersioned('fenced', { version: 4, ttlMs: 30_000.2 })).to.equal(undefined);
    expect(await probe.hGetAll(at('fenced'))).to.deep.equal({ version: '4' });
    expect(await probe.pTTL(at('fenced'))).to.be.within(30_001 - DRIFT_MS, 30_001);
    await adapter.takeVersioned('fenced-forever', { version: 4 });
    expect(await probe.pTTL(at('fenced-forever'))).to.equal(-1);
  });

  it('a fence that takes keeps the longer of the remaining TTL and ttlMs; a fence never shortens a floor', async () => {
    await adapter.saveIfNewer('longer', 'v', 1, 60_000);
    await adapter.takeVersioned('longer', { version: 3, ttlMs: 1_000 });
    expect(await probe.hGetAll(at('longer'))).to.deep.equal({ version: '3' });
    expect(await probe.pTTL(at('longer'))).to.be.within(60_000 - DRIFT_MS, 60_000);
    await adapter.saveIfNewer('extended', 'v', 1, 1_000);
    await adapter.takeVersioned('extended', { version: 3, ttlMs: 60_000 });
    expect(await probe.pTTL(at('extended'))).to.be.within(60_000 - DRIFT_MS, 60_000);
    await adapter.takeVersioned('extended', { version: 2 });
    expect(await probe.pTTL(at('extended')), 'a fence without ttlMs makes the floor last until delete').to.equal(-1);
    expect(await probe.hGet(at('extended'), 'version')).to.equal('3');
  });

  it('a fence below a newer value leaves it untouched, TTL included', async () => {
    await adapter.saveIfNewer('newer', 'v', 9, 60_000);
    const expiresAt = await probe.pExpireTime(at('newer'));
    expect(await adapter.takeVersioned('newer', { version: 5, ttlMs: 3_600_000 })).to.equal(undefined);
    expect(await probe.hGetAll(at('newer'))).to.deep.equal({ value: 'v', version: '9' });
    expect(await probe.pExpireTime(at('newer'))).to.equal(expiresAt);
  });

  describe('keys written by @reprise/redis 0.1 (plain strings)', () => {
    it('are read as values at version 0 by load, take and takeVersioned', async () => {
      await probe.set(at('legacy'), 'old snapshot');
      expect(await adapter.load('legacy')).to.equal('old snapshot');
      expect(await adapter.takeVersioned('legacy')).to.deep.equal({ value: 'old snapshot', version: 0 });
      expect(await probe.exists(at('legacy'))).to.equal(0);
    });

    it('are replaced by a hash on the next write, refused at version 0 and accepted above it', async () => {
      await probe.set(at('legacy-write'), 'old snapshot');
      expect(await adapter.saveIfNewer('legacy-write', 'v', 0)).to.equal(false);
      expect(await adapter.saveIfNewer('legacy-write', 'v', 1)).to.equal(true);
      expect(await probe.hGetAll(at('legacy-write'))).to.deep.equal({ value: 'v', version: '1' });
    });

    it('a fence that takes one leaves a floor that keeps its TTL', async () => {
      await probe.set(at('legacy-fence'), 'old snapshot', { PX: 60_000 });
      expect(await adapter.takeVersioned('legacy-fence', { version: 2, ttlMs: 1_000 })).to.deep.equal({
        value: 'old snapshot',
        version: 0,
      });
      expect(await probe.hGetAll(at('legacy-fence'))).to.deep.equal({ version: '2' });
      expect(await probe.pTTL(at('legacy-fence'))).to.be.within(60_000 - DRIFT_MS, 60_000);
    });

    it('delete of one resolves true', async () => {
      await probe.set(at('legacy-delete'), 'old snapshot');
      expect(await adapter.delete('legacy-delete')).to.equal(true);
      expect(await probe.exists(at('legacy-delete'))).to.equal(0);
    });
  });

  it('a version field that is not a safe integer (written by something else) rejects takeVersioned', async () => {
    await probe.hSet(at('bad-version'), { value: 'v', version: '1e3' });
    await expectRejection(
      adapter.takeVersioned('bad-version'),
      'ERR_REPRISE_ADAPTER',
      /Redis returned a version that is not a non-negative safe integer/,
    );
  });

  it('concurrent saveIfNewer from two adapters (two connections) leave the highest version', async () => {
    const other = new RedisAdapter({ url: REDIS_URL, prefix: RUN_PREFIX });
    try {
      for (let round = 0; round < 5; round++) {
        const key = `race-${round}`;
        const versions = Array.from({ length: 40 }, (_, i) => ((i * 17) % 40) + 1);
        const results = await Promise.all(versions.map((v, i) => (i % 2 ? other : adapter).saveIfNewer(key, `v${v}`, v)));
        expect(results[versions.indexOf(40)], `round ${round}`).to.equal(true);
        expect(await adapter.takeVersioned(key)).to.deep.equal({ value: 'v40', version: 40 });
      }
    } finally {
      await other.close();
    }
  });
});
