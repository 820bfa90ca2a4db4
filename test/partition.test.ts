import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SessionManager } from '@reprise/core';
import type { SessionAdapter, SessionCoordinator } from '@reprise/core';
import { PostgresAdapter, PostgresCoordinator } from '@reprise/postgres';
import { RedisAdapter, RedisCoordinator } from '@reprise/redis';
import { request } from './helpers/manager-request.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './helpers/services.js';
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

/** A store and how to open an adapter and a coordinator on it at a URL (direct, or through the proxy). */
interface Store {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly require: (context: Mocha.Context) => Promise<void>;
  pair(url: string): { adapter: SessionAdapter & { close(): Promise<void> }; coordinator: SessionCoordinator };
  cleanUp(): Promise<void>;
}

function redisStore(): Store {
  const prefix = `reprise-test-partition:${randomUUID()}:`;
  return {
    name: 'Redis',
    url: REDIS_URL,
    port: 6379,
    require: requireRedis,
    // Long command timeouts: what A sent into the partition is still sent when it heals.
    pair: (url) => ({
      adapter: new RedisAdapter({ url, prefix, commandTimeout: 20_000 }),
      coordinator: new RedisCoordinator({ url, commandTimeout: 20_000 }, { prefix }),
    }),
    cleanUp: async () => void (await deleteRedisKeys(prefix)),
  };
}

function postgresStore(): Store {
  const table = uniqueName('reprise_it_partition');
  return {
    name: 'Postgres',
    url: DATABASE_URL,
    port: 5432,
    require: requirePostgres,
    pair: (connectionString) => ({
      adapter: new PostgresAdapter({ connectionString }, { table, queryTimeout: 20_000 }),
      coordinator: new PostgresCoordinator({ connectionString }, { table: `${table}_leases` }),
    }),
    cleanUp: async () => {
      await dropTable(table);
      await dropTable(`${table}_leases`);
    },
  };
}

/**
 * A network partition of one instance: instance A reaches the store through a proxy of the test's own,
 * which stalls every byte both ways (nothing is lost, nothing arrives: packets black-holed), while
 * instance B reaches it directly. Then the partition heals and what A sent meanwhile arrives late.
 */
for (const store of [redisStore(), postgresStore()])
  describe(`several instances: a network partition of one instance (${store.name})`, function () {
    this.timeout(30_000);
    let proxy: TcpProxy;
    before(async function () {
      await store.require(this);
      const target = new URL(store.url);
      proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || store.port) });
    });
    after(async () => {
      await proxy?.close();
      await store.cleanUp();
    });

    it('the cut-off owner stops serving (503) within half a lease; another instance takes over from the checkpoint once the lease lapsed; after the heal the old owner drops its copy without hooks and its late write is refused', async () => {
      const hooks: string[] = [];
      const open = (name: string, url: string) => {
        const { adapter, coordinator } = store.pair(url);
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
      const through = new URL(store.url);
      through.host = `127.0.0.1:${proxy.port}`;
      const a = open('a', through.toString());
      const b = open('b', store.url);
      try {
        const { id } = a.manager.create({ items: ['before'] });
        await until(
          () => a.manager.stats().checkpoints >= 1 && a.manager.stats().leases === 1,
          5_000,
          'the checkpoint and lease of the session',
        );

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
        await until(
          async () =>
            kinds.push(await request(b.manager, id, (session) => void session.data.items.push('b1'))) > 0 && kinds.at(-1) === 'restored',
          10_000,
          'B taking the session over',
        );
        expect(Date.now() - cutAt, 'B restored the session only once the lease could have lapsed').to.be.at.least(1_000);
        expect(
          kinds.slice(0, -1).every((kind) => kind === 'unavailable'),
          kinds.join(' '),
        ).to.equal(true);
        expect(b.manager.stats().takeovers).to.equal(1);
        expect(b.manager.get(id)!.data.items).to.deep.equal(['before', 'b1']); // 'late' was acknowledged after the last checkpoint
        await until(
          async () => (await readSnapshots<Data>(b.adapter, [id])).get(id)?.data.items.includes('b1') === true,
          5_000,
          "B's write stored",
        );

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
