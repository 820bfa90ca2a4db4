import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { decodeRecord, type SessionAdapter, type Snapshot } from '@reprise/core';
import type { SessionMiddleware } from '@reprise/koa';
import { MemoryAdapter } from '@reprise/memory';
import { PostgresAdapter } from '@reprise/postgres';
import { RedisAdapter } from '@reprise/redis';
import { Browser, issuedSid } from './helpers/browser.js';
import { closeServer, listen } from './helpers/http.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './helpers/services.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';

/** One store to run the scenario on: how to check it is there, make its adapter, and clean up after. */
interface Store {
  readonly name: string;
  readonly require?: (context: Mocha.Context) => Promise<void>;
  /** A fresh adapter on this run's own keys (prefix) or table, and the cleanup that removes them. */
  open(): { adapter: SessionAdapter; cleanup(): Promise<void> };
}

const STORES: Store[] = [
  {
    name: 'memory',
    open: () => ({ adapter: new MemoryAdapter(), cleanup: async () => {} }),
  },
  {
    name: 'Redis',
    require: requireRedis,
    open() {
      const prefix = `reprise-it:eviction:${randomUUID()}:`;
      return {
        adapter: new RedisAdapter({ url: REDIS_URL, prefix }),
        cleanup: async () => void (await deleteRedisKeys(prefix)),
      };
    },
  },
  {
    name: 'Postgres',
    require: requirePostgres,
    open() {
      const table = uniqueName('reprise_it_eviction');
      return {
        adapter: new PostgresAdapter({ connectionString: DATABASE_URL }, { table }),
        cleanup: () => dropTable(table),
      };
    },
  },
];

for (const store of STORES) {
  describe(`restore after eviction over HTTP: ${store.name}`, function () {
    let adapter: SessionAdapter | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    let server: Server | undefined;
    let middleware: SessionMiddleware<VisitorData> | undefined;

    before(async function () {
      await store.require?.(this);
    });

    afterEach(async function () {
      if (server !== undefined) await closeServer(server);
      await middleware?.manager.shutdown();
      await adapter?.close?.();
      await cleanup?.();
      server = middleware = adapter = cleanup = undefined;
    });

    it('cap 2, three visitors: the first is evicted, its snapshot is in the store, its cookie gets the data back under a new id', async function () {
      ({ adapter, cleanup } = store.open());
      const built = sessionApp({ adapter, maxSessions: 2 });
      middleware = built.middleware;
      const { manager } = middleware;
      server = await listen(built.app);

      const first = new Browser(server);
      await first.post('/visit?name=ada&item=apple', 200);
      const before = (await first.post('/visit?name=ada&item=pear', 200)).body as VisitorView;
      const oldSid = first.sid!;
      expect(before).to.deep.include({ sessionId: oldSid, name: 'ada', cart: [['apple', 1], ['pear', 1]] });
      const oldCookie = first.clone();

      await new Browser(server).post('/visit?name=grace&item=milk', 200);
      const closed = once(manager, 'close') as Promise<[{ id: string }, string]>;
      const third = new Browser(server);
      await third.post('/visit?name=edsger&item=bread', 200); // over the cap: the least recently active (ada) goes
      const [closedSession, reason] = await closed;
      expect({ id: closedSession.id, reason }).to.deep.equal({ id: oldSid, reason: 'evicted' });
      expect(manager.size).to.equal(2);
      expect(manager.get(oldSid)).to.equal(undefined);

      // The snapshot is in the store, under the old id, read through the adapter itself.
      const stored = await adapter.load(oldSid);
      expect(stored, `snapshot of ${oldSid} in ${adapter.name}`).to.be.a('string');
      const record = decodeRecord(stored!);
      expect(record.kind).to.equal('snapshot');
      const snapshot = (record as { snapshot: Snapshot<VisitorData> }).snapshot;
      expect(snapshot).to.deep.include({ key: oldSid, sessionId: oldSid, reason: 'evicted' });
      expect(snapshot.data.name).to.equal('ada');
      expect(snapshot.data.cart).to.be.instanceOf(Map);
      expect([...snapshot.data.cart!]).to.deep.equal([['apple', 1], ['pear', 1]]);
      expect(snapshot.data.since).to.be.instanceOf(Date);
      expect(snapshot.data.since!.toISOString()).to.equal(before.since);

      // The old cookie comes back: the data, in a new session with a new id and a new cookie.
      const back = await first.get('/me', 200);
      const newSid = issuedSid(back);
      expect(newSid).to.be.a('string').and.not.equal(oldSid);
      expect(back.body).to.deep.equal({ ...before, sessionId: newSid });
      expect(manager.stats().restored).to.equal(1);
      // Making room for it evicted the next least recently active visitor (grace); the third is still live.
      expect(manager.stats().closed.evicted).to.equal(2);
      expect((await third.get('/me', 200)).body).to.include({ name: 'edsger', sessionId: third.sid });

      // The restore took the snapshot: it is gone from the store. Once the visitor has come back with
      // the new cookie, the old cookie replayed gets nothing.
      expect(await adapter.load(oldSid)).to.equal(undefined);
      expect((await first.get('/me', 200)).body.sessionId).to.equal(newSid);
      const replay = await oldCookie.get('/me', 200);
      expect(replay.body.sessionId).to.equal(null);
      expect(issuedSid(replay), 'the replayed cookie is cleared').to.equal('');
    });

    it('requests a browser sent with the old cookie before the new one reached it share the restore and do not clear the new cookie', async function () {
      // DESIGN: "Concurrent requests carrying the same closed id share one restore and all get the same
      // new id." A browser loading a page sends its requests in parallel, all with the old cookie; the
      // server may read some of them only after it has sent the first response (with the new cookie).
      // Those must still get the restored session, and above all must not clear the cookie: a clearing
      // Set-Cookie that arrives after the new cookie deletes it, and the restored session is lost.
      ({ adapter, cleanup } = store.open());
      const built = sessionApp({ adapter, maxSessions: 1 });
      middleware = built.middleware;
      const { manager } = middleware;
      server = await listen(built.app);

      const visitor = new Browser(server);
      const before = (await visitor.post('/visit?name=ada&item=apple', 200)).body as VisitorView;
      const tabs = Array.from({ length: 5 }, () => visitor.clone()); // requests already on their way, old cookie
      const closed = once(manager, 'close');
      await new Browser(server).post('/visit?name=grace&item=milk', 200); // cap 1: ada is evicted
      await closed;

      const first = await visitor.get('/me', 200);
      const newSid = issuedSid(first);
      expect(newSid).to.be.a('string').and.not.equal(before.sessionId);
      expect(first.body).to.deep.equal({ ...before, sessionId: newSid });

      const late = await Promise.all(tabs.map((tab) => tab.get('/me', 200)));
      for (const response of late) {
        expect(issuedSid(response), 'a late parallel request does not clear the cookie').to.not.equal('');
        expect(response.body, 'and gets the restored session').to.deep.equal({ ...before, sessionId: newSid });
      }
      expect(manager.stats()).to.deep.include({ restored: 1, restoreFailures: 0 });
    });
  });
}
