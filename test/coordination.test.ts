import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SessionManager, SessionUnavailableError, type LiveSession, type SessionAdapter, type SessionCoordinator } from '@reprise/core';
import { MemoryAdapter, MemoryCluster, MemoryCoordinator } from '@reprise/memory';
import { RedisAdapter, RedisCoordinator } from '@reprise/redis';
import { PostgresAdapter, PostgresCoordinator } from '@reprise/postgres';
import { request } from './helpers/manager-request.js';
import { DATABASE_URL, deleteRedisKeys, dropTable, uniqueName } from './helpers/services.js';

type Data = { items?: string[] };

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Polls `check` every 5 ms until it holds, for at most `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One store shared by several instances (managers in this process), each with its own coordinator. */
interface Cluster {
  readonly name: string;
  instance(id: string): { adapter: SessionAdapter; coordinator: SessionCoordinator };
  /** Lets every lease lapse at once (memory: its clock jumps; not offered on Redis). */
  lapse?(): void;
  cleanUp(): Promise<void>;
}

/** `target` as a killed process sees it once `dead()`: every call hangs; `called(name)` hears each call first. */
function killable<T extends object>(target: T, dead: () => boolean, called: (name: string) => void): T {
  return new Proxy(target, {
    get(object, name) {
      const value = Reflect.get(object, name, object) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        called(String(name));
        return dead() ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** Makes every instance leave its coordinator and close its adapter (and forgets them). */
async function closeAll(opened: { adapter: { close(): Promise<void> }; coordinator: SessionCoordinator }[]): Promise<void> {
  for (const { adapter, coordinator } of opened.splice(0)) {
    await coordinator.leave();
    await adapter.close();
  }
}

function memoryCluster(): Cluster {
  let offset = 0;
  const cluster = new MemoryCluster({ now: () => Date.now() + offset });
  const adapter = new MemoryAdapter();
  return {
    name: 'memory',
    instance: () => ({ adapter, coordinator: new MemoryCoordinator(cluster) }),
    lapse: () => void (offset += 3_600_000),
    cleanUp: async () => {},
  };
}

function redisCluster(): Cluster {
  const prefix = `reprise-test-coordination:${randomUUID()}:`;
  const opened: { adapter: RedisAdapter; coordinator: RedisCoordinator }[] = [];
  return {
    name: 'Redis',
    instance: () => {
      const pair = {
        adapter: new RedisAdapter({ url: REDIS_URL, prefix }),
        coordinator: new RedisCoordinator({ url: REDIS_URL }, { prefix }),
      };
      opened.push(pair);
      return pair;
    },
    cleanUp: async () => {
      await closeAll(opened);
      await deleteRedisKeys(prefix);
    },
  };
}

function postgresCluster(): Cluster {
  const table = uniqueName('reprise_it_coordination');
  const leases = `${table}_leases`;
  const opened: { adapter: PostgresAdapter; coordinator: PostgresCoordinator }[] = [];
  return {
    name: 'Postgres',
    instance: () => {
      const pair = {
        adapter: new PostgresAdapter({ connectionString: DATABASE_URL }, { table }),
        coordinator: new PostgresCoordinator({ connectionString: DATABASE_URL }, { table: leases }),
      };
      opened.push(pair);
      return pair;
    },
    cleanUp: async () => {
      await closeAll(opened);
      await dropTable(table);
      await dropTable(leases);
    },
  };
}

for (const makeCluster of [memoryCluster, redisCluster, postgresCluster]) {
  describe(`several instances in one process: ${makeCluster().name}`, function () {
    this.timeout(20_000);
    let cluster: Cluster;
    const managers: SessionManager<Data>[] = [];
    /** Closing hooks that ran: `instance reason id items`. */
    const hooks: string[] = [];

    beforeEach(() => {
      cluster = makeCluster();
      hooks.length = 0;
    });
    afterEach(async () => {
      await Promise.all(managers.splice(0).map((manager) => manager.shutdown()));
      await cluster.cleanUp();
    });

    function instance(
      id: string,
      options: { leaseMs?: number; handoverTimeout?: number; checkpointInterval?: number; wrap?: <T extends object>(target: T) => T } = {},
    ): SessionManager<Data> {
      const { adapter, coordinator } = cluster.instance(id);
      const wrap = options.wrap ?? (<T>(target: T): T => target);
      const manager = new SessionManager<Data>({
        adapter: wrap(adapter),
        coordinator: wrap(coordinator),
        instanceId: id,
        checkpointInterval: options.checkpointInterval ?? 60_000,
        leaseMs: options.leaseMs ?? 3_000,
        handoverTimeout: options.handoverTimeout ?? 2_000,
        onClose: (session, reason) => void hooks.push(`${id} ${reason} ${session.id.slice(0, 6)} ${(session.data.items ?? []).join(',')}`),
      });
      manager.on('error', () => {});
      managers.push(manager);
      return manager;
    }

    it("a request on another instance gets the session handed over: hooks run once on the owner ('handover'), the context moves with every write, and back", async () => {
      const [a, b] = [instance('a'), instance('b')];
      const session = a.create({ items: ['apple'] });
      const id = session.id;
      await until(() => a.stats().leases === 1, 2_000, 'the lease of the new session');
      expect(await request(b, id, (s) => void s.data.items!.push('pear'))).to.equal('restored');
      expect(hooks).to.deep.equal([`a handover ${id.slice(0, 6)} apple`]);
      expect(a.get(id)).to.equal(undefined);
      expect(b.get(id)?.data.items).to.deep.equal(['apple', 'pear']);
      expect(b.stats()).to.include({ handoversIn: 1, restored: 1 });
      expect(a.stats().closed.handover).to.equal(1);
      // And back to a, with b's write.
      expect(await request(a, id, (s) => void s.data.items!.push('plum'))).to.equal('restored');
      expect(a.get(id)?.data.items).to.deep.equal(['apple', 'pear', 'plum']);
      expect(hooks).to.deep.equal([`a handover ${id.slice(0, 6)} apple`, `b handover ${id.slice(0, 6)} apple,pear`]);
      await until(() => b.stats().leases === 0, 2_000, "b's lease released after its close's write");
    });

    it('requests for one session on three instances at once: each is served in turn, one live owner at the end, every write kept', async () => {
      const [a, b, c] = [instance('a'), instance('b'), instance('c')];
      const id = a.create({ items: [] }).id;
      await until(() => a.stats().leases === 1, 2_000, 'the lease of the new session');
      const writes = Array.from({ length: 12 }, (_, n) => ({ manager: [a, b, c][n % 3]!, item: `i${n}` }));
      const outcomes = await Promise.all(writes.map(({ manager, item }) => request(manager, id, (s) => void s.data.items!.push(item))));
      for (const outcome of outcomes) expect(['live', 'restored', 'unavailable']).to.include(outcome);
      const owners = [a, b, c].filter((manager) => manager.get(id) !== undefined);
      expect(owners, 'live owners').to.have.length(1);
      const served = writes.filter((_, n) => outcomes[n] === 'live' || outcomes[n] === 'restored').map((w) => w.item);
      expect([...owners[0]!.get(id)!.data.items!].sort()).to.deep.equal([...served].sort());
      expect(served.length, 'most requests served within the hand-over timeout').to.be.at.least(6);
    });

    it('a write from a stale owner (its term ended) is refused by the store: the new owner keeps its newer context', async () => {
      const [a, b] = [instance('a'), instance('b', { checkpointInterval: 50 })];
      const id = a.create({ items: ['first'] }).id;
      await until(() => a.stats().leases === 1, 2_000, 'the lease of the new session');
      expect(await request(b, id, (s) => void s.data.items!.push('second'))).to.equal('restored');
      const { adapter } = cluster.instance('probe');
      let record: string | undefined;
      const deadline = Date.now() + 5_000;
      while (!(record = await adapter.load(id))?.includes('second')) {
        if (Date.now() > deadline) throw new Error(`the new owner's checkpoint never reached the store (${record})`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // A late write of a's term (token 1), as a stalled owner would make: refused by the version.
      const stale = 2 ** 52 + 1 * 2 ** 21 + 100;
      expect(await adapter.saveIfNewer!(id, 'a stale copy', stale)).to.equal(false);
      expect(await adapter.load(id)).to.equal(record);
    });

    it('an owner that does not answer: the request is unavailable (503) after handoverTimeout, and the lease stays', async () => {
      const [a, b] = [instance('a'), instance('b', { handoverTimeout: 300 })];
      const session = a.create({ items: ['kept'] });
      await until(() => a.stats().leases === 1, 2_000, 'the lease of the new session');
      // a is busy with a request that outlives the timeout: it hands over only once that ends.
      const held = await a.resume(session.id);
      expect(held.kind).to.equal('live');
      const started = Date.now();
      const resumed = await b.resume(session.id);
      expect(resumed.kind).to.equal('unavailable');
      expect((resumed as { error: SessionUnavailableError }).error.message).to.match(/another instance holds it/);
      expect(Date.now() - started, 'one handoverTimeout, not one per round').to.be.within(250, 850);
      a.release((held as { session: LiveSession<Data> }).session);
    });

    if (makeCluster().lapse !== undefined) {
      it('a lease lost to another instance (this one stalled past it): the session is dropped here without hooks, and writes to it answer 503', async () => {
        const a = instance('a', { leaseMs: 90 });
        const session = a.create({ items: ['x'] });
        await until(() => a.stats().leases === 1, 2_000, 'the lease of the new session');
        cluster.lapse!();
        const thief = cluster.instance('thief').coordinator;
        await thief.join('thief', { handover: async () => {} });
        expect((await thief.claim(session.id, 60_000)).held).to.equal(true);
        await until(() => a.stats().leasesLost === 1, 2_000, 'the renewal noticing the lost lease');
        expect(a.get(session.id)).to.equal(undefined);
        expect(hooks).to.deep.equal([]);
        expect(() => {
          session.data.items = ['late'];
        }).to.throw(SessionUnavailableError, /another instance holds it/);
        await thief.leave();
      });
    }

    it('renewals failing for half the lease: the live session is not served (unavailable) until a renewal succeeds again, before the lease lapses', async () => {
      const { adapter, coordinator } = cluster.instance('flaky');
      let failing = false;
      const flaky = new Proxy(coordinator, {
        get(target, name) {
          const value = Reflect.get(target, name, target) as unknown;
          if (name === 'renew')
            return (...args: unknown[]) =>
              failing ? Promise.reject(new Error('coordinator unreachable')) : (value as (...a: unknown[]) => unknown).apply(target, args);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const manager = new SessionManager<Data>({
        adapter,
        coordinator: flaky,
        instanceId: 'flaky',
        leaseMs: 900,
        checkpointInterval: 60_000,
      });
      manager.on('error', () => {});
      managers.push(manager);
      const id = manager.create({ items: ['x'] }).id;
      await until(() => manager.stats().leases === 1, 2_000, 'the lease of the new session');
      expect(await request(manager, id)).to.equal('live');
      failing = true;
      const started = Date.now();
      let answer = 'live';
      while (answer === 'live' && Date.now() - started < 3_000) {
        answer = await request(manager, id);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(answer, 'once renewals have failed for half the lease').to.equal('unavailable');
      expect(Date.now() - started).to.be.within(100, 1_500);
      failing = false;
      let back = 'unavailable';
      const again = Date.now();
      while (back !== 'live' && Date.now() - again < 3_000) {
        back = await request(manager, id);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(back, 'served again after a successful renewal').to.equal('live');
      expect(manager.stats().leasesLost).to.equal(0);
    });

    it('restore(id) of a checkpoint whose session is live on another instance restores nothing there (one live owner); once it closed, restore(persistKey) brings it back under the same id', async () => {
      const a = instance('a', { checkpointInterval: 20 });
      const b = instance('b');
      const session = a.create({ items: ['prefs'] });
      session.persistKey = `user:${randomUUID()}`;
      await until(() => a.stats().checkpoints >= 1 && a.stats().leases === 1, 3_000, 'a checkpoint under the key');
      expect(await b.restore(session.id)).to.equal(undefined);
      expect(b.get(session.id)).to.equal(undefined);
      expect(a.get(session.id), 'still live on its owner').to.equal(session);
      expect(b.stats().leases).to.equal(0);
      await a.close(session.id, 'evicted');
      const restored = await b.restore(session.persistKey);
      expect(restored?.id).to.equal(session.id);
      expect(restored?.data.items).to.deep.equal(['prefs']);
      expect(hooks).to.deep.equal([`a evicted ${session.id.slice(0, 6)} prefs`]);
    });

    it('an owner killed right after it restored a session, before its first write of it: nothing stored is lost, the next owner restores it once the lease lapsed', async () => {
      const a = instance('a', { checkpointInterval: 20 });
      const id = a.create({ items: ['i1', 'i2', 'i3'] }).id;
      await until(() => a.stats().checkpoints >= 1 && a.stats().leases === 1, 3_000, 'the checkpoint of the session');
      let dead = false;
      // B dies at its first write (the one right after its restore): from then on every call hangs, as for a killed process.
      const b = instance('b', {
        leaseMs: 600,
        checkpointInterval: 20,
        wrap: (target) =>
          killable(
            target,
            () => dead,
            (name) => (dead ||= name.startsWith('save')),
          ),
      });
      managers.splice(managers.indexOf(b), 1); // dead: never shut down
      expect(await request(b, id)).to.equal('restored');
      await until(() => dead, 2_000, 'B dying at its first write');
      const c = instance('c');
      let items: string[] | undefined;
      // Polled: C's resume is unavailable until B's lease lapsed.
      async function poll(): Promise<void> {
        while (items === undefined) {
          const kind = await request(c, id, (session) => void (items = [...(session.data.items ?? [])]));
          expect(kind).to.be.oneOf(['unavailable', 'restored']);
          if (items === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      await Promise.race([poll(), until(() => false, 5_000, 'C restoring the session')]);
      expect(items).to.deep.equal(['i1', 'i2', 'i3']);
    });

    it('checkpoints off: the record a hand-over left is erased by an explicit close (a logout) and by a regenerate, so the old cookie restores nothing', async () => {
      const [a, b, c] = [
        instance('a', { checkpointInterval: 0 }),
        instance('b', { checkpointInterval: 0 }),
        instance('c', { checkpointInterval: 0 }),
      ];
      const logout = a.create({ items: ['x'] }).id;
      const renamed = a.create({ items: ['y'] }).id;
      await until(() => a.stats().leases === 2, 2_000, 'the leases');
      let newId = '';
      expect(await request(b, logout)).to.equal('restored');
      expect(await request(b, renamed, (session) => void (newId = b.regenerate(session)))).to.equal('restored');
      await b.close(logout, 'closed');
      await b.shutdown();
      expect(await request(c, logout), 'the logged-out cookie').to.equal('none');
      expect(await request(c, renamed), 'the id before the regenerate').to.equal('none');
      expect(await request(c, newId, (session) => expect(session.data.items).to.deep.equal(['y']))).to.equal('restored');
    });

    it('a release still in flight when the visitor comes back to the same instance: the claim waits for it, so the lease is not deleted under the restored session (one live owner)', async () => {
      const slowReleases = <T extends object>(target: T): T =>
        new Proxy(target, {
          get(object, name) {
            const value = Reflect.get(object, name, object) as unknown;
            if (typeof value !== 'function') return value;
            const call = (value as (...a: unknown[]) => unknown).bind(object);
            return name === 'release'
              ? async (...args: unknown[]) => (await new Promise((resolve) => setTimeout(resolve, 200)), call(...args))
              : call;
          },
        });
      const a = instance('a', { leaseMs: 600, wrap: slowReleases });
      const b = instance('b', { leaseMs: 600 });
      const id = a.create({ items: ['i1'] }).id;
      await a.leased(id);
      await a.close(id, 'evicted'); // its release leaves now and lands 200 ms later
      expect(await request(a, id, (session) => void session.data.items!.push('i2'))).to.equal('restored');
      await new Promise((resolve) => setTimeout(resolve, 300)); // the release has landed
      expect(await request(b, id, (session) => void session.data.items!.push('i3'))).to.equal('restored');
      expect(a.get(id), 'handed over by A, not live twice').to.equal(undefined);
      await new Promise((resolve) => setTimeout(resolve, 700)); // A's renewals ran
      expect(a.stats().leasesLost).to.equal(0);
      expect(b.get(id)?.data.items).to.deep.equal(['i1', 'i2', 'i3']);
      expect(hooks).to.deep.equal([`a evicted ${id.slice(0, 6)} i1`, `a handover ${id.slice(0, 6)} i1,i2`]);
    });

    it('shutdown releases every lease once the snapshots are written', async () => {
      const a = instance('a');
      const ids = Array.from({ length: 5 }, (_, n) => a.create({ items: [`s${n}`] }).id);
      await until(() => a.stats().leases === 5, 2_000, 'the leases');
      await a.shutdown();
      const probe = cluster.instance('probe2').coordinator;
      await probe.join('probe2', { handover: async () => {} });
      for (const id of ids) expect(await probe.owner(id), id).to.equal(undefined);
      await probe.leave();
      expect(a.stats().leases).to.equal(0);
    });
  });
}

describe('several instances: options', () => {
  it('refuses a coordinator on an adapter without conditional writes, and coordination options without a coordinator', () => {
    const unordered: SessionAdapter = {
      name: 'plain',
      save: async () => {},
      load: async () => undefined,
      take: async () => undefined,
      delete: async () => false,
    };
    const coordinator = new MemoryCoordinator(new MemoryCluster());
    expect(() => new SessionManager({ adapter: unordered, coordinator })).to.throw(/needs an adapter with conditional writes/);
    expect(() => new SessionManager({ adapter: new MemoryAdapter(), instanceId: 'x' })).to.throw(/instanceId needs a coordinator/);
    expect(() => new SessionManager({ adapter: new MemoryAdapter(), coordinator, instanceId: 'no spaces' })).to.throw(/instanceId must be/);
    expect(() => new SessionManager({ adapter: new MemoryAdapter(), coordinator, leaseMs: 10 })).to.throw(
      /leaseMs must be at least 30 ms, got 10/,
    );
    expect(() => new SessionManager({ adapter: new MemoryAdapter(), coordinator: {} as SessionCoordinator })).to.throw(
      /coordinator must implement SessionCoordinator; missing: join/,
    );
  });
});
