import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createClient } from '@keyv/redis';
import { runCoordinatorTests } from '@reprise/adapter-tests';
import { expectOptionError, expectRejection } from '@reprise/adapter-tests/internal';
import { RedisCoordinator } from '../src/index.js';
import { REDIS_URL } from './support/prefixed-redis.js';
import { freePort, OwnRedis } from './support/redis-server.js';

const prefix = `reprise-test-coordinator:${randomUUID()}:`;

/** Removes every key under this run's prefix (leases lapse by themselves; token counters do not). */
async function cleanUp(): Promise<void> {
  const probe = createClient({ url: REDIS_URL });
  await probe.connect();
  const keys = await probe.keys(`${prefix}*`);
  if (keys.length > 0) await probe.unlink(keys);
  probe.destroy();
}

describe('RedisCoordinator', function () {
  this.timeout(20_000);
  after(cleanUp);

  // { url }: each instance opens and closes its own two clients.
  runCoordinatorTests('RedisCoordinator { url } (conformance)', () => new RedisCoordinator({ url: REDIS_URL }, { prefix }), {
    describe,
    it,
    before,
    after,
  });

  describe('{ client }', () => {
    const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
    before(async () => {
      await client.connect();
    });
    after(() => {
      client.destroy();
    });
    runCoordinatorTests('RedisCoordinator { client } (conformance)', () => new RedisCoordinator({ client }, { prefix }), {
      describe,
      it,
      before,
      after,
    });

    it("leave() leaves the caller's client open and usable", async () => {
      const coordinator = new RedisCoordinator({ client }, { prefix });
      await coordinator.join('caller-client', { handover: async () => {} });
      const claim = await coordinator.claim(`s-${randomUUID()}`, 60_000);
      expect(claim.held).to.equal(true);
      await coordinator.leave();
      expect(client.isReady).to.equal(true);
      expect(await client.ping()).to.equal('PONG');
    });
  });

  it('keeps the token counter past the lease, for tokenRetention (refreshed by claims and renewals); the lease key lives leaseMs', async () => {
    const probe = createClient({ url: REDIS_URL });
    await probe.connect();
    const coordinator = new RedisCoordinator({ url: REDIS_URL }, { prefix, tokenRetention: 3_600_000 });
    try {
      await coordinator.join('ttl-check', { handover: async () => {} });
      const id = `s-${randomUUID()}`;
      await coordinator.claim(id, 5_000);
      expect(await probe.pTTL(`${prefix}lease:${id}`)).to.be.within(4_000, 5_000);
      expect(await probe.pTTL(`${prefix}token:${id}`)).to.be.within(3_500_000, 3_600_000);
      expect(await probe.hGetAll(`${prefix}lease:${id}`)).to.deep.equal({ owner: 'ttl-check', token: '1' });
      // A renewal refreshes both: a lease renewed for longer than the retention never outlives its counter.
      await probe.pExpire(`${prefix}token:${id}`, 1_000);
      expect(await coordinator.renew([{ sessionId: id, owner: 'ttl-check', token: 1 }], 5_000)).to.deep.equal([]);
      expect(await probe.pTTL(`${prefix}token:${id}`)).to.be.within(3_500_000, 3_600_000);
    } finally {
      await coordinator.leave();
      probe.destroy();
    }
  });

  it('refuses wrong options with ERR_REPRISE_OPTION', () => {
    expectOptionError(
      () => new RedisCoordinator({ url: REDIS_URL }, { prefix: 3 as unknown as string }),
      /^RedisCoordinator: prefix must be a string/,
    );
    expectOptionError(
      () => new RedisCoordinator({ url: REDIS_URL }, { tokenRetention: 0 }),
      /^RedisCoordinator: tokenRetention must be a positive integer/,
    );
    expectOptionError(
      () => new RedisCoordinator({ url: REDIS_URL }, { leaseMs: 5 } as never),
      /^RedisCoordinator: unknown option "leaseMs"/,
    );
    expectOptionError(
      () => new RedisCoordinator({ url: REDIS_URL, prefix: 'x' } as never),
      /^RedisCoordinator: give prefix in the second argument/,
    );
    expectOptionError(() => new RedisCoordinator({} as never), /^RedisCoordinator: give a url or a client/);
  });

  it("Redis down: join, claim, renew and hand-over requests reject at once with ERR_REPRISE_ADAPTER (in the coordinator's name); a failed join can be tried again; all work again once Redis is back", async () => {
    const own = new OwnRedis(await freePort());
    await own.start();
    const a = new RedisCoordinator({ url: own.url }, { prefix });
    const b = new RedisCoordinator({ url: own.url }, { prefix });
    const later: RedisCoordinator[] = [];
    try {
      await a.join('down-a', { handover: async () => {} });
      await b.join('down-b', { handover: async () => {} });
      const id = `s-${randomUUID()}`;
      const claim = await a.claim(id, 60_000);
      expect(claim.held).to.equal(true);
      await own.kill();
      const started = Date.now();
      const down = await expectRejection(a.claim(id, 60_000), 'ERR_REPRISE_ADAPTER', /claim|unreachable|Socket closed|offline/);
      expect(down.message, "in the coordinator's name").to.match(/^RedisCoordinator: /);
      expect(down).to.include({ transient: true });
      // A join while Redis is down fails, and may be tried again once it is back.
      const c = new RedisCoordinator({ url: own.url }, { prefix });
      await expectRejection(c.join('down-c', { handover: async () => {} }), 'ERR_REPRISE_ADAPTER', /^RedisCoordinator: /);
      later.push(c);
      if (!claim.held) throw new Error('not held');
      await expectRejection(a.renew([claim.lease], 60_000), 'ERR_REPRISE_ADAPTER', /renew|unreachable|offline/);
      await expectRejection(b.requestHandover(id, 'down-a', 5_000), 'ERR_REPRISE_ADAPTER', /requestHandover|unreachable|offline/);
      expect(Date.now() - started, 'at once, not after commandTimeout').to.be.below(2_000);
      await own.start();
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await c.join('down-c', { handover: async () => {} });
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      expect((await c.claim(`s-${randomUUID()}`, 60_000)).held, 'joined after a failed join').to.equal(true);
      for (;;) {
        try {
          expect((await b.claim(`s-${randomUUID()}`, 60_000)).held).to.equal(true);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      await a.leave();
      await b.leave();
      for (const c of later) await c.leave();
      await own.kill();
    }
  });
});
