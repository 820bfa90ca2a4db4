import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SessionManager } from '@reprise/core';
import { RedisAdapter, RedisCoordinator } from '@reprise/redis';
import { request } from './helpers/manager-request.js';
import { REDIS_URL, deleteRedisKeys, requireRedis } from './helpers/services.js';
import { readSnapshots } from './helpers/store-reads.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

type Data = { items: string[] };

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A network partition of one instance: instance A reaches Redis through a proxy of the test's own,
 * which stalls every byte both ways (nothing is lost, nothing arrives: packets black-holed), while
 * instance B reaches it directly. Then the partition heals and what A sent meanwhile arrives late.
 */
describe('several instances: a network partition of one instance (Redis)', function () {
  this.timeout(30_000);
  const prefix = `reprise-test-partition:${randomUUID()}:`;
  let proxy: TcpProxy;
  before(async function () {
    await requireRedis(this);
    const target = new URL(REDIS_URL);
    proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
  });
  after(async () => {
    await proxy?.close();
    await deleteRedisKeys(prefix);
  });

  it('the cut-off owner stops serving (503) within half a lease; another instance takes over from the checkpoint once the lease lapsed; after the heal the old owner drops its copy without hooks and its late write is refused', async () => {
    const hooks: string[] = [];
    const open = (name: string, url: string) => {
      const adapter = new RedisAdapter({ url, prefix, commandTimeout: 20_000 });
      const coordinator = new RedisCoordinator({ url, commandTimeout: 20_000 }, { prefix });
      const manager = new SessionManager<Data>({
        adapter,
        coordinator,
        instanceId: name,
        leaseMs: 1_500,
        handoverTimeout: 300,
        checkpointInterval: 50,
        onClose: (session, reason) => void hooks.push(`${name} ${reason} ${session.data.items.join(',')}`),
      });
      manager.on('error', () => {});
      return { adapter, coordinator, manager };
    };
    const a = open('a', proxy.redisUrl);
    const b = open('b', REDIS_URL);
    try {
      const { id } = a.manager.create({ items: ['before'] });
      await until(() => a.manager.stats().checkpoints >= 1 && a.manager.stats().leases === 1, 5_000, 'the checkpoint and lease of the session');

      proxy.set('up', { stalled: true });
      proxy.set('down', { stalled: true });
      const cutAt = Date.now();
      // Acknowledged by A just after the cut: its checkpoint write waits in the partition.
      expect(await request(a.manager, id, (session) => void session.data.items.push('late'))).to.equal('live');
      await until(async () => (await request(a.manager, id)) === 'unavailable', 3_000, 'A refusing the session');
      expect(Date.now() - cutAt, 'A stops serving within about half the lease').to.be.below(1_500);

      // B: unavailable while A's lease lives (A cannot be asked: its hand-over requests wait in the
      // partition), then a takeover from the checkpoint, never before the lease could have lapsed
      // (A renewed it at most a third of a lease before the cut).
      const kinds: string[] = [];
      await until(async () => kinds.push(await request(b.manager, id, (session) => void session.data.items.push('b1'))) > 0 && kinds.at(-1) === 'restored', 10_000, 'B taking the session over');
      expect(Date.now() - cutAt, 'B restored the session only once the lease could have lapsed').to.be.at.least(1_000);
      expect(kinds.slice(0, -1).every((kind) => kind === 'unavailable'), kinds.join(' ')).to.equal(true);
      expect(b.manager.stats().takeovers).to.equal(1);
      expect(b.manager.get(id)!.data.items).to.deep.equal(['before', 'b1']); // 'late' was acknowledged after the last checkpoint
      await until(async () => (await readSnapshots<Data>(b.adapter, [id])).get(id)?.data.items.includes('b1') === true, 5_000, "B's write stored");

      // The partition heals: A's stalled writes arrive now, with its old term's versions.
      proxy.set('up', { stalled: false });
      proxy.set('down', { stalled: false });
      await until(() => a.manager.stats().leasesLost === 1, 10_000, 'A learning that its lease is lost');
      expect(a.manager.stats().closed.handover, 'a late hand-over request closes nothing').to.equal(0);
      expect(a.manager.get(id)).to.equal(undefined);
      await a.manager.shutdown();
      const stored = (await readSnapshots<Data>(b.adapter, [id])).get(id);
      expect(stored?.data.items, "the store keeps B's newer context").to.deep.equal(['before', 'b1']);
      await b.manager.shutdown();
      expect(hooks, 'hooks once, on the owner of the last context').to.deep.equal(['b shutdown before,b1']);
    } finally {
      proxy.set('up', { stalled: false });
      proxy.set('down', { stalled: false });
      for (const { manager, coordinator, adapter } of [a, b]) {
        await manager.shutdown();
        await coordinator.leave();
        await adapter.close();
      }
    }
  });
});
