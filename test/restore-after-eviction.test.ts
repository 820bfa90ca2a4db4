import { once } from 'node:events';
import { expect } from 'chai';
import type { SessionAdapter, Snapshot } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { Browser, expectSameCookie, issuedSid } from './helpers/browser.js';
import { storeCases } from './helpers/adapter-stores.js';
import { servedStore } from './helpers/served-store.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';

/**
 * Each store without checkpoints, and with them every 200 ms (forced on for the memory adapter too).
 * With them, the record a restore takes is written again at once as the live session's checkpoint.
 */
const CHECKPOINTS = [
  { label: '', interval: 0 },
  { label: ', checkpoints every 200 ms', interval: 200 },
] as const;

for (const store of storeCases('eviction'))
  for (const checkpoints of CHECKPOINTS) {
    describe(`restore after eviction over HTTP: ${store.name}${checkpoints.label}`, function () {
      const served = servedStore<VisitorData>(store);
      let adapter: SessionAdapter | undefined;

      /** A server on this store with a cap of `maxSessions`: the app, its manager, and the adapter it writes to. */
      async function start(maxSessions: number) {
        const {
          adapter: opened,
          middleware,
          server,
        } = await served.start((on) => sessionApp({ adapter: on, maxSessions, checkpointInterval: checkpoints.interval }));
        adapter = opened;
        return { adapter, manager: middleware.manager, server };
      }

      /**
       * A restore took the record under `sid`: nothing is left there without checkpoints; with them, the
       * live session's checkpoint is written there again at once.
       */
      async function expectTakenByRestore(sid: string, why: string): Promise<void> {
        if (checkpoints.interval === 0) {
          expect(await adapter!.load(sid), why).to.equal(undefined);
          return;
        }
        const deadline = Date.now() + 5_000;
        let stored = await adapter!.load(sid);
        while (stored === undefined && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          stored = await adapter!.load(sid);
        }
        expect(stored, `${why}: the live session's checkpoint`).to.be.a('string');
        const record = decodeRecord(stored!);
        expect(record.kind === 'snapshot' && record.snapshot.reason, why).to.equal('checkpoint');
      }

      /** Nothing under `sid` restores: nothing at all, or (after a checkpoint) the record that erased it. */
      async function expectNothingRestorable(sid: string, why: string): Promise<void> {
        const stored = await adapter!.load(sid);
        if (stored === undefined) return;
        expect(checkpoints.interval, `${why}: only a checkpoint's erasure may be there`).to.be.greaterThan(0);
        const record = decodeRecord(stored);
        expect(record.kind === 'pointer' && record.pointer.reason, why).to.equal('closed');
      }

      /** The snapshot stored under `key`, read through the adapter itself and decoded. */
      async function storedSnapshot(key: string): Promise<Snapshot<VisitorData>> {
        const stored = await adapter!.load(key);
        expect(stored, `snapshot under ${key} in ${adapter!.name}`).to.be.a('string');
        const record = decodeRecord(stored!);
        expect(record.kind).to.equal('snapshot');
        return (record as { snapshot: Snapshot<VisitorData> }).snapshot;
      }

      it('cap 2, three visitors: the first is evicted, its snapshot is in the store, its cookie gets the data back under the same id', async function () {
        const { manager, server: listening } = await start(2);

        const first = new Browser(listening);
        await first.post('/visit?name=ada&item=apple', 200);
        const before = (await first.post('/visit?name=ada&item=pear', 200)).body as VisitorView;
        const sid = first.sid!;
        expect(before).to.deep.include({
          sessionId: sid,
          name: 'ada',
          cart: [
            ['apple', 1],
            ['pear', 1],
          ],
        });
        const otherTab = first.clone(); // the same browser's cookie, sent later from another tab

        const second = new Browser(listening);
        await second.post('/visit?name=grace&item=milk', 200);
        await second.get('/me', 200); // grace comes back too: both are returning visitors, out of probation
        const closed = once(manager, 'close') as Promise<[{ id: string }, string]>;
        const third = new Browser(listening);
        await third.post('/visit?name=edsger&item=bread', 200); // over the cap: the least recently active (ada) goes
        const [closedSession, reason] = await closed;
        expect({ id: closedSession.id, reason }).to.deep.equal({ id: sid, reason: 'evicted' });
        expect(manager.size).to.equal(2);
        expect(manager.get(sid)).to.equal(undefined);

        // The snapshot is in the store, under the session id, read through the adapter itself.
        const snapshot = await storedSnapshot(sid);
        expect(snapshot).to.deep.include({ key: sid, sessionId: sid, reason: 'evicted' });
        expect(snapshot.data.name).to.equal('ada');
        expect(snapshot.data.cart).to.be.instanceOf(Map);
        expect([...snapshot.data.cart!]).to.deep.equal([
          ['apple', 1],
          ['pear', 1],
        ]);
        expect(snapshot.data.since).to.be.instanceOf(Date);
        expect(snapshot.data.since!.toISOString()).to.equal(before.since);

        // The cookie comes back: the data, in a live session with the same id; the cookie does not change.
        const back = await first.get('/me', 200);
        expect(back.body).to.deep.equal(before);
        expectSameCookie(back, sid, 'the restore');
        expect(first.sid).to.equal(sid);
        expect(manager.stats()).to.deep.include({ restored: 1, restoreFailures: 0, created: 3 });
        const restored = manager.get(sid);
        expect(restored, 'live again under its own id').to.not.equal(undefined);
        expect(restored!.createdAt, 'the restored session keeps its first creation time').to.equal(snapshot.createdAt);
        // Making room for it evicted the visitor who never came back (edsger, in probation), not grace,
        // who is less recently active but came back.
        expect(manager.stats().closed.evicted).to.equal(2);
        expect(manager.get(third.sid!), 'edsger, evicted').to.equal(undefined);
        expect((await second.get('/me', 200)).body).to.include({ name: 'grace', sessionId: second.sid });

        // The restore took the snapshot: it is gone from the store. The same cookie from another tab
        // finds the live session: same id, same data, no new cookie, and no second restore.
        await expectTakenByRestore(sid, 'taken by the restore');
        const tab = await otherTab.get('/me', 200);
        expect(tab.body).to.deep.equal(before);
        expect(issuedSid(tab), "a live session's cookie is left alone").to.equal(undefined);
        expect(manager.stats()).to.deep.include({ restored: 1, created: 3 });
      });

      it('restored, written, then closed again before its next request: restored again under the same id with every item, round after round', async function () {
        // The "one page view after a restore, then a coffee break": the restored session is
        // evicted (or expires) before the visitor's next request. The cookie still holds the one id.
        const ROUNDS = 3;
        const { manager, server: listening } = await start(1);
        const visitor = new Browser(listening);
        const created = (await visitor.post('/visit?name=ada&item=apple', 200)).body as VisitorView;
        const sid = visitor.sid!;
        const items = ['apple'];

        const closedAs = async (reason: string, close: () => Promise<unknown>): Promise<void> => {
          // The close event of ada's session (another visitor's eviction may still be finishing).
          const closed = new Promise<string>((resolve) => {
            const listener = (session: { id: string }, why: string): void => {
              if (session.id !== sid) return;
              manager.off('close', listener);
              resolve(why);
            };
            manager.on('close', listener);
          });
          await close();
          expect(await closed).to.equal(reason);
          expect(manager.get(sid)).to.equal(undefined);
          // Its snapshot holds every item acknowledged so far, under the same id.
          const snapshot = await storedSnapshot(sid);
          expect(snapshot).to.deep.include({ key: sid, sessionId: sid, reason });
          expect([...snapshot.data.cart!]).to.deep.equal(items.map((item) => [item, 1]));
        };

        for (let round = 1; round <= ROUNDS; round++) {
          // Another visitor's first write takes the only slot: ada is evicted.
          await closedAs('evicted', () => new Browser(listening).post(`/visit?name=other-${round}&item=milk`, 200));
          // ada's next request is a write: the session is restored under its id, and the write goes into it.
          const item = `item-${round}`;
          const response = await visitor.post(`/visit?name=ada&item=${item}`, 200);
          items.push(item);
          expectSameCookie(response, sid, `round ${round}'s write`);
          expect(response.body).to.deep.equal({ ...created, cart: items.map((one) => [one, 1]) });
          expect(manager.stats()).to.deep.include({ restored: round, restoreFailures: 0 });
        }
        // Last, an expiry right after the restore (closed by the application with that reason).
        await closedAs('expired', async () => expect(await manager.close(sid, 'expired')).to.equal(true));
        const back = await visitor.get('/me', 200);
        expectSameCookie(back, sid, 'the last restore');
        expect(back.body).to.deep.equal({ ...created, cart: items.map((item) => [item, 1]) });
        expect(visitor.sid).to.equal(sid);

        expect(manager.stats()).to.deep.include({ created: 1 + ROUNDS, restored: ROUNDS + 1, restoreFailures: 0 });
        expect(manager.stats().closed).to.deep.equal({ evicted: 2 * ROUNDS, expired: 1, closed: 0, shutdown: 0, handover: 0 });
        await expectTakenByRestore(sid, 'taken by the last restore');
      });

      it('the parallel requests of a page load, all with the evicted cookie, share one restore: one id, the same data, every write kept', async function () {
        // DESIGN: "Concurrent requests carrying the same closed id share one restore and all get the
        // same live session (same id)." A browser loading a page sends its requests in parallel, all
        // with the cookie; none may get another id, a cleared cookie, or lose a write.
        const TABS = 4;
        const { manager, server: listening } = await start(1);
        const visitor = new Browser(listening);
        await visitor.post('/visit?name=ada&item=apple', 200);
        const before = (await visitor.post('/visit?name=ada&item=pear', 200)).body as VisitorView;
        const sid = visitor.sid!;
        const closed = once(manager, 'close');
        await new Browser(listening).post('/visit?name=grace&item=milk', 200); // cap 1: ada is evicted
        await closed;
        expect(manager.get(sid)).to.equal(undefined);

        const reads = Array.from({ length: TABS }, () => visitor.get('/me'));
        const writes = Array.from({ length: TABS }, (_, i) => visitor.post(`/visit?name=ada&item=tab-${i}`));
        const [readResponses, writeResponses] = await Promise.all([Promise.all(reads), Promise.all(writes)]);
        for (const [i, response] of [...readResponses, ...writeResponses].entries()) {
          expect(response.status, `request ${i}: ${response.text}`).to.equal(200);
          expectSameCookie(response, sid, `request ${i}`);
          const view = response.body as VisitorView;
          expect(view, `request ${i} gets the restored session`).to.deep.include({ sessionId: sid, name: 'ada', since: before.since });
          expect(view.cart.slice(0, 2), `request ${i} sees the restored cart`).to.deep.equal(before.cart);
        }
        for (const [i, response] of writeResponses.entries())
          expect(response.body.cart, `write ${i} sees its item`).to.deep.include([`tab-${i}`, 1]);

        const after = (await visitor.get('/me', 200)).body as VisitorView;
        const tabs = Array.from({ length: TABS }, (_, i) => [`tab-${i}`, 1]);
        expect(after).to.deep.include({ sessionId: sid, name: 'ada', since: before.since });
        expect(after.cart.slice(0, 2)).to.deep.equal(before.cart);
        expect(after.cart.slice(2), 'every acknowledged write is in the session').to.have.deep.members(tabs);
        expect(visitor.sid).to.equal(sid);
        expect(manager.stats()).to.deep.include({ restored: 1, restoreFailures: 0, created: 2, live: 1 });
        expect(manager.stats().closed.evicted, 'ada, then grace to make room for ada').to.equal(2);
        await expectTakenByRestore(sid, 'taken by the one restore');
      });

      it('an explicit close is not restored from the cookie: with the default key nothing is written, the cookie is not cleared, and a write gets a fresh id', async function () {
        const { manager, server: listening } = await start(2);
        const visitor = new Browser(listening);
        await visitor.post('/visit?name=ada&item=apple', 200);
        const sid = visitor.sid!;

        // The application closes it (a logout without a key of its own): the hooks run, nothing is stored.
        expect(await manager.close(sid)).to.equal(true);
        expect(manager.get(sid)).to.equal(undefined);
        await expectNothingRestorable(sid, 'nothing under the id');
        expect(manager.stats()).to.deep.include({ persisted: 0, pendingPersists: 0 });
        expect(manager.stats().closed).to.deep.equal({ evicted: 0, expired: 0, closed: 1, shutdown: 0, handover: 0 });

        // The cookie comes back: nothing to restore, and an unknown id is not a logout (no clearing Set-Cookie).
        const read = await visitor.get('/me', 200);
        expect(read.body).to.deep.equal({ sessionId: null, name: null, cart: [], since: null });
        expect(issuedSid(read), 'the cookie is left alone').to.equal(undefined);
        // A write starts a fresh session under a new id, never the one the client presented.
        const write = await visitor.post('/visit?name=ada&item=pear', 200);
        const fresh = issuedSid(write);
        expect(fresh).to.be.a('string').and.not.equal(sid);
        expect(write.body).to.deep.include({ sessionId: fresh, name: 'ada', cart: [['pear', 1]] });
        expect(manager.stats()).to.deep.include({ created: 2, restored: 0, restoreFailures: 0 });
      });
    });
  }
