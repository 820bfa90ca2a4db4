// Writes during a store outage: an evicted visitor who writes while Redis is down gets a 503 with
// Retry-After and keeps its cookie; once Redis is back the same cookie gets its cart back, under the
// same session id, with the new item and without the refused one.
//
// Before the fix: FAILS. During the outage each of the 8 evicted visitors' writes gets a 200 and a
// fresh session with a new cookie (no 503, no Retry-After); after Redis is back the browsers hold the
// new ids, whose carts hold only the items written since: the 16 items of the 8 old carts are lost
// (unreachable in Redis under the old ids), and all 10 visitors end under ids other than their own
// (a restore gives a new id).
import { expect } from 'chai';
import { Browser, issuedSid } from './helpers/browser.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';
import { readSnapshots } from './helpers/store-reads.js';
import { unavailableProblem } from './helpers/unavailable.js';
import { redisOutageFixture } from './helpers/redis-outage-fixture.js';
import { waitUntil } from './helpers/wait.js';

const CAP = 2;
const VISITORS = 10;
const PREFIX = 'reprise-it:outage-writes:';

/** A visitor: its browser, the session id its cart was created with, and the items acknowledged into it. */
interface Visitor {
  readonly index: number;
  readonly name: string;
  readonly browser: Browser;
  readonly sid: string;
  readonly acked: string[];
}

describe("writes during a Redis outage (a redis-server of the test's own, with an append-only file, killed and started again)", function () {
  this.timeout(30_000);
  const fixture = redisOutageFixture(PREFIX);

  it(`cap ${CAP}, ${VISITORS} visitors: each evicted one's write during the outage is a 503 that keeps the cookie; after it, the same id and the whole cart come back`, async function () {
    // This Redis keeps what was written before the crash (appendfsync always), as a real one would.
    // Reconnects within 200 ms once Redis is back; a call fails at once while it is down.
    const { redis, adapter } = await fixture.startRedis(2_000);
    const built = sessionApp({ adapter, maxSessions: CAP });
    const middleware = built.middleware;
    middleware.manager.on('error', () => {}); // the outage's failures are expected; counted through stats()
    const lostSnapshots: string[] = [];
    middleware.manager.on('persistFailed', (snapshot) => lostSnapshots.push(snapshot.sessionId));
    const server = await fixture.serve(built);
    const stats = () => middleware.manager.stats();

    // Each visitor writes a cart of two items; with a cap of 2, all but the last two are evicted.
    const visitors: Visitor[] = [];
    for (let index = 0; index < VISITORS; index++) {
      const browser = new Browser(server);
      const name = `v${index}`;
      await browser.post(`/visit?name=${name}&item=a${index}`, 200);
      await browser.post(`/visit?name=${name}&item=b${index}`, 200);
      visitors.push({ index, name, browser, sid: browser.sid!, acked: [`a${index}`, `b${index}`] });
    }
    const evicted = visitors.slice(0, VISITORS - CAP);
    await waitUntil(`the ${evicted.length} evicted carts are written`, () => stats().persisted === evicted.length, { state: stats });
    const stored = await readSnapshots<VisitorData>(
      adapter,
      evicted.map((visitor) => visitor.sid),
    );
    expect([...stored.values()].filter((snapshot) => snapshot?.reason === 'evicted').length, 'snapshots in Redis').to.equal(evicted.length);

    // Redis goes down. Each evicted visitor reads (no session, cookie kept), then writes (refused).
    await redis.kill();
    const duringOutage = { readProblems: [] as string[], writeProblems: [] as string[] };
    for (const visitor of evicted) {
      const read = await visitor.browser.get('/me');
      const view = read.body as VisitorView;
      if (read.status !== 200 || view.sessionId !== null || issuedSid(read) !== undefined) {
        duringOutage.readProblems.push(`${visitor.name}: ${read.status} ${read.text} cookie ${issuedSid(read)}`);
      }
      const write = await visitor.browser.post(`/visit?name=${visitor.name}&item=refused${visitor.index}`);
      const problem = unavailableProblem(write);
      if (problem !== undefined) duringOutage.writeProblems.push(`${visitor.name}: ${problem}`);
      if (write.status >= 200 && write.status < 300) visitor.acked.push(`refused${visitor.index}`); // acknowledged: it must not be lost either
    }

    // Redis is back, with what it had.
    await redis.start();
    await waitUntil(
      'the adapter is connected again',
      () =>
        adapter.load('probe').then(
          () => true,
          () => false,
        ),
      { timeoutMs: 10_000, everyMs: 50 },
    );

    // Each evicted visitor writes again: a 200, its cart restored under the same id, with the new item.
    const afterOutage = {
      notOk: [] as string[],
      idChanged: [] as string[],
      cookieChanged: [] as string[],
      lostItems: 0,
      refusedItemsPresent: 0,
    };
    for (const visitor of evicted) {
      const item = `c${visitor.index}`;
      const response = await visitor.browser.post(`/visit?name=${visitor.name}&item=${item}`);
      if (response.status !== 200) {
        afterOutage.notOk.push(`${visitor.name}: ${response.status} ${response.text}`);
        continue;
      }
      visitor.acked.push(item);
      const view = response.body as VisitorView;
      if (view.sessionId !== visitor.sid) afterOutage.idChanged.push(visitor.name);
      const issued = issuedSid(response);
      if (issued !== undefined && issued !== visitor.sid) afterOutage.cookieChanged.push(visitor.name);
      const cart = new Map(view.cart);
      afterOutage.lostItems += visitor.acked.filter((acked) => !cart.has(acked)).length;
      if (cart.has(`refused${visitor.index}`) && !visitor.acked.includes(`refused${visitor.index}`)) afterOutage.refusedItemsPresent += 1;
    }

    // Every visitor, evicted or not: its cookie leads to its whole cart, under the id it was created with.
    let cartsLost = 0;
    for (const visitor of visitors) {
      const response = await visitor.browser.get('/me', 200);
      const view = response.body as VisitorView;
      const cart = new Map(view.cart);
      const whole =
        view.sessionId === visitor.sid &&
        view.name === visitor.name &&
        visitor.acked.every((item) => cart.has(item) && cart.get(item) === 1);
      if (!whole) cartsLost += 1;
    }

    expect({ duringOutage, afterOutage, cartsLost, lostSnapshots }).to.deep.equal({
      duringOutage: { readProblems: [], writeProblems: [] },
      afterOutage: { notOk: [], idChanged: [], cookieChanged: [], lostItems: 0, refusedItemsPresent: 0 },
      cartsLost: 0,
      lostSnapshots: [],
    });
    expect(stats().restored, 'each evicted visitor restored once after the outage').to.be.at.least(evicted.length);
  });
});
