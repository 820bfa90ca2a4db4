import { expect } from 'chai';
import type { ManagerStats, Snapshot } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { Browser, expectSameCookie } from './helpers/browser.js';
import { assertBuilt } from './helpers/build.js';
import type { Child } from './helpers/process.js';
import { PROCESS_STORES, type OpenedStore } from './helpers/process-stores.js';
import { startSessionServer } from './helpers/session-server.js';
import { waitUntil } from './helpers/wait.js';
import type { VisitorData, VisitorView } from './helpers/session-app.js';

const VISITORS = 20;

/**
 * Run without checkpoints, and with them every 200 ms. With them, the record a restore takes is
 * written again at once as the live session's checkpoint (a crash must not lose it), and the closes
 * at shutdown replace the checkpoints.
 */
const CHECKPOINTS = [
  { label: 'no checkpoints', env: { CHECKPOINT_INTERVAL: '0' }, on: false },
  { label: 'checkpoints every 200 ms', env: { CHECKPOINT_INTERVAL: '200' }, on: true },
] as const;

/** SIGTERM, then the exit code and the stats the process printed after its shutdown. */
async function stopServer(child: Child): Promise<ManagerStats> {
  const exit = await child.terminate();
  expect(exit, `exit after SIGTERM; stderr:\n${child.stderr.text}`).to.deep.equal({ code: 0, signal: null });
  const [, stats] = await child.line(/^shutdown complete (\{.*\})$/);
  return JSON.parse(stats!) as ManagerStats;
}

for (const store of PROCESS_STORES) {
  describe(`process restart on ${store.name}: SIGTERM -> shutdown() -> a new process`, function () {
    const started: Child[] = [];
    let opened: OpenedStore | undefined;

    before(async function () {
      await store.require(this);
      // The server processes run the built packages (fast to start): they must be up to date.
      assertBuilt('packages/core', 'packages/koa', 'packages/redis', 'packages/postgres');
    });

    afterEach(async function () {
      for (const child of started.splice(0)) await child.kill();
      await opened?.cleanup();
      opened = undefined;
    });

    for (const checkpoints of CHECKPOINTS)
      it(`${checkpoints.label}: every one of ${VISITORS} sessions is written at shutdown, restored by its cookie under the same id in the next process, and written again with its new data at the next shutdown`, async function () {
        this.timeout(30_000);
        opened = store.open('restart');
        const env = { ...opened.env, ...checkpoints.env };
        const adapter = opened.adapter();

        // Process 1: VISITORS visitors write their sessions.
        const first = await startSessionServer(env, started);
        const visitors = Array.from({ length: VISITORS }, () => new Browser(first.base));
        const views = await Promise.all(
          visitors.map(async (visitor, i) => {
            await visitor.post(`/visit?name=visitor-${i}&item=sku-${i}`, 200);
            return (await visitor.post(`/visit?name=visitor-${i}&item=sku-${i % 3}`, 200)).body as VisitorView;
          }),
        );
        const oldSids = visitors.map((visitor) => visitor.sid!);
        expect(new Set(oldSids).size).to.equal(VISITORS);
        for (const [i, view] of views.entries()) expect(view.sessionId).to.equal(oldSids[i]);
        const live = (await new Browser(first.base).get('/stats', 200)).body as ManagerStats;
        expect(live).to.deep.include({ live: VISITORS, created: VISITORS });

        // SIGTERM: server.close(), manager.shutdown() (every session closes with 'shutdown' and is written), adapter.close(), exit 0.
        const stats = await stopServer(first.child);
        expect(stats.closed).to.deep.equal({ evicted: 0, expired: 0, closed: 0, shutdown: VISITORS, handover: 0 });
        expect(stats).to.deep.include({
          persisted: VISITORS,
          pendingPersists: 0,
          retryingPersists: 0,
          persistGivenUp: 0,
          superseded: 0,
          live: 0,
        });
        expect(first.child.stderr.text, 'no error reported').to.equal('');

        // Every snapshot is in the store (read through an adapter of the test's own).
        for (const [i, sid] of oldSids.entries()) {
          const text = await adapter.load(sid);
          expect(text, `snapshot of visitor ${i}`).to.be.a('string');
          const record = decodeRecord(text!);
          expect(record.kind === 'snapshot' && record.snapshot.reason).to.equal('shutdown');
        }

        // Process 2 on the same store: every cookie gets its data back under the same id (the cookie does not change).
        const second = await startSessionServer(env, started);
        const responses = await Promise.all(visitors.map((visitor) => visitor.at(second.base).get('/me', 200)));
        for (const [i, response] of responses.entries()) {
          expectSameCookie(response, oldSids[i]!, `visitor ${i}'s restore`);
          expect(response.body, `visitor ${i} is restored`).to.deep.equal(views[i]);
        }
        const after = (await new Browser(second.base).get('/stats', 200)).body as ManagerStats;
        expect(after).to.deep.include({ restored: VISITORS, created: 0, live: VISITORS, restoreFailures: 0 });
        if (!checkpoints.on) {
          for (const sid of oldSids) expect(await adapter.load(sid), 'each snapshot was taken by its restore').to.equal(undefined);
        } else {
          // Taken by its restore, and written again at once as the live session's checkpoint, with the restored data.
          await waitUntil(
            'every restored session is checkpointed',
            async () => (await Promise.all(oldSids.map((sid) => adapter.load(sid)))).every((text) => text !== undefined),
            { timeoutMs: 5_000 },
          );
          for (const [i, sid] of oldSids.entries()) {
            const record = decodeRecord((await adapter.load(sid))!);
            expect(record.kind === 'snapshot' && record.snapshot.reason, `visitor ${i}'s record while live`).to.equal('checkpoint');
            const data = (record as { snapshot: Snapshot<VisitorData> }).snapshot.data;
            expect([...data.cart!], `visitor ${i}'s checkpointed cart`).to.deep.equal(views[i]!.cart);
          }
        }

        // Each visitor writes once more in process 2: the write goes into the restored session, same id.
        const written = await Promise.all(
          visitors.map(async (visitor, i) => {
            const response = await visitor.at(second.base).post(`/visit?name=visitor-${i}&item=second-${i}`, 200);
            expectSameCookie(response, oldSids[i]!, `visitor ${i}'s write in process 2`);
            expect(response.body, `visitor ${i}'s write`).to.deep.equal({ ...views[i], cart: [...views[i]!.cart, [`second-${i}`, 1]] });
            return response.body as VisitorView;
          }),
        );
        expect((await new Browser(second.base).get('/stats', 200)).body).to.deep.include({
          restored: VISITORS,
          created: 0,
          live: VISITORS,
        });

        // A second SIGTERM writes every session again, under the same ids, with the write of process 2.
        const final = await stopServer(second.child);
        expect(final.closed).to.deep.equal({ evicted: 0, expired: 0, closed: 0, shutdown: VISITORS, handover: 0 });
        expect(final).to.deep.include({
          persisted: VISITORS,
          pendingPersists: 0,
          retryingPersists: 0,
          persistGivenUp: 0,
          superseded: 0,
          live: 0,
        });
        expect(second.child.stderr.text, 'no error reported').to.equal('');
        for (const [i, sid] of oldSids.entries()) {
          const text = await adapter.load(sid);
          expect(text, `visitor ${i}'s snapshot after the second shutdown`).to.be.a('string');
          const record = decodeRecord(text!);
          expect(record.kind).to.equal('snapshot');
          const snapshot = (record as { snapshot: Snapshot<VisitorData> }).snapshot;
          expect(snapshot).to.deep.include({ key: sid, sessionId: sid, reason: 'shutdown' });
          expect([...snapshot.data.cart!], `visitor ${i}'s cart`).to.deep.equal(written[i]!.cart);
          expect(snapshot.data.since!.toISOString(), `visitor ${i}'s data`).to.equal(views[i]!.since);
        }
      });
  });
}
