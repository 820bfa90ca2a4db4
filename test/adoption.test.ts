import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SessionManager, type SessionAdapter, type SessionCoordinator } from '@reprise/core';
import { PostgresAdapter, PostgresCoordinator } from '@reprise/postgres';
import { RedisAdapter, RedisCoordinator } from '@reprise/redis';
import { Child } from './helpers/process.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './helpers/services.js';

type Data = { cart?: string[] };

/** One store for the doomed child and the survivor here: its environment, and the survivor's pair. */
interface Store {
  readonly name: string;
  readonly require: (context: Mocha.Context) => Promise<void>;
  readonly env: NodeJS.ProcessEnv;
  pair(): { adapter: SessionAdapter & { close(): Promise<void> }; coordinator: SessionCoordinator };
  cleanUp(): Promise<void>;
}

function redisStore(): Store {
  const prefix = `reprise-test-adoption:${randomUUID()}:`;
  return {
    name: 'Redis',
    require: requireRedis,
    env: { STORE: 'redis', REDIS_URL, PREFIX: prefix },
    pair: () => ({
      adapter: new RedisAdapter({ url: REDIS_URL, prefix }),
      coordinator: new RedisCoordinator({ url: REDIS_URL }, { prefix }),
    }),
    cleanUp: async () => {
      await deleteRedisKeys(prefix);
    },
  };
}

function postgresStore(): Store {
  const table = uniqueName('reprise_it_adoption');
  const leases = `${table}_leases`;
  return {
    name: 'Postgres',
    require: requirePostgres,
    env: { STORE: 'postgres', DATABASE_URL, TABLE: table, LEASES: leases },
    pair: () => ({
      adapter: new PostgresAdapter({ connectionString: DATABASE_URL }, { table }),
      coordinator: new PostgresCoordinator({ connectionString: DATABASE_URL }, { table: leases }),
    }),
    cleanUp: async () => {
      await dropTable(table);
      await dropTable(leases);
    },
  };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const makeStore of [redisStore, postgresStore]) {
  describe(`adoption: a dead instance's sessions closed once by a survivor (${makeStore().name})`, function () {
    this.timeout(30_000);
    const store = makeStore();
    before(function () {
      return store.require(this);
    });
    after(() => store.cleanUp());

    it("kill -9 the owner: once the idle deadline passed, a survivor restores each checkpoint and runs its closing hook once ('expired'); a returning visitor then gets the context", async () => {
      const doomed = Child.tsx('fixtures/adoption-owner.ts', { ...store.env, SESSIONS: '6', LEASE_MS: '600', DEADLINE_MS: '2500' });
      const hooks: string[] = [];
      const { adapter, coordinator } = store.pair();
      const survivor = new SessionManager<Data>({
        adapter,
        coordinator,
        instanceId: 'survivor',
        leaseMs: 600,
        checkpointInterval: 1_000,
        onClose: (session, reason) => void hooks.push(`${reason} ${session.id} ${(session.data.cart ?? []).join(',')}`),
      });
      survivor.on('error', () => {});
      try {
        const { ids, closed } = JSON.parse((await doomed.line(/^ready (.*)$/, 20_000))[1]!) as { ids: string[]; closed: string };
        const readyAt = Date.now();
        await doomed.kill();
        expect(
          doomed.stdout.lines.filter((line) => line.startsWith('hook ')),
          'hooks on the doomed instance',
        ).to.deep.equal([`hook closed ${closed}`]);
        // Nothing is adopted before the deadline, though the leases lapse long before it.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await survivor.adoptOrphans();
        expect(hooks, 'before the idle deadline').to.deep.equal([]);
        await until(() => survivor.stats().adoptions === ids.length, 10_000, 'every orphan adopted');
        expect(Date.now() - readyAt).to.be.at.least(1_000);
        expect([...hooks].sort()).to.deep.equal(ids.map((id, n) => `expired ${id} item-${n},shared`).sort());
        expect(survivor.stats()).to.include({ adoptions: ids.length, restored: ids.length });
        expect(survivor.stats().closed.expired).to.equal(ids.length);
        // Later passes find nothing more: the hooks ran once.
        await until(() => survivor.stats().leases === 0, 5_000, 'the adopted leases released');
        expect(await survivor.adoptOrphans()).to.equal(0);
        expect(hooks).to.have.length(ids.length);
        // A visitor who does come back gets the context the adoption closed (same id), and no hook runs again.
        const back = await survivor.resume(ids[0]!);
        expect(back.kind).to.equal('restored');
        const session = (back as { session: { data: Data } }).session;
        expect(session.data.cart).to.deep.equal(['item-0', 'shared']);
        survivor.release(session as never);
        // The explicitly closed session is not adopted, and its cookie restores nothing.
        expect((await survivor.resume(closed)).kind).to.equal('none');
      } finally {
        await doomed.kill();
        await survivor.shutdown();
        await coordinator.leave();
        await adapter.close();
      }
    });
  });
}
