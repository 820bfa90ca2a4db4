// A flood of cookie-less writing requests (each one a new session) against a server at the default
// cap of 100: the probation segment evicts only sessions whose visitor never came back, so every
// visitor who returned keeps a live session and its whole cart.
//
// Before the probation segment: FAILS. The cap is one LRU list, so the flood evicts every one of the
// 50 returning visitors; on the default MemoryAdapter (maxEntries 10,000) their snapshots are then
// pushed out by the flood's own 10,000 snapshots, and 50 of 50 carts are gone.
import type { Agent } from 'node:http';
import { expect } from 'chai';
import { MemoryAdapter } from '@reprise/memory';
import { storeCases, type StoreCase } from './helpers/adapter-stores.js';
import { mapLimit } from './helpers/concurrency.js';
import { KeepAliveBrowser } from './helpers/keep-alive-browser.js';
import { servedStore } from './helpers/served-store.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';

/** Requests of the flood: more than MemoryAdapter's default bound of 10,000 snapshots. */
const FLOOD = 10_100;
const RETURNING = 50;
const ONE_TIME = 20;
/** Concurrent connections of the flood. */
const CONNECTIONS = 16;

/** The memory store with MemoryAdapter's defaults (maxEntries 10,000), every drop recorded instead of warned. */
const defaultMemory: StoreCase = {
  name: 'memory',
  open() {
    const dropped: string[] = [];
    return { adapter: new MemoryAdapter({ onDrop: (key) => dropped.push(key) }), dropped, cleanup: async () => {} };
  },
};

interface Visitor {
  readonly browser: KeepAliveBrowser;
  readonly sid: string;
  readonly cart: [string, number][];
}

for (const store of [defaultMemory, ...storeCases('flood', ['Redis'])]) {
  describe(`a flood of ${FLOOD.toLocaleString('en')} cookie-less writing requests at the default cap: ${store.name}`, function () {
    this.timeout(120_000);
    const served = servedStore<VisitorData>(store);

    it(`evicts none of ${RETURNING} visitors who came back; their carts and ids are intact`, async function () {
      const { middleware, server, dropped } = await served.start((adapter) => sessionApp({ adapter }));
      const { manager } = middleware;
      const closedIds = new Set<string>();
      manager.on('close', (session) => closedIds.add(session.id));
      const address = server.address() as { port: number };
      const base = `http://127.0.0.1:${address.port}/`;
      const agent: Agent = KeepAliveBrowser.agent(CONNECTIONS);

      const returning = await mapLimit(RETURNING, 8, (i) => arrive(base, agent, `r${i}`, ['apple', 'pear']));
      const oneTime = await mapLimit(ONE_TIME, 8, (i) => arrive(base, agent, `o${i}`, ['plum']));
      expect(manager.stats()).to.include({ live: RETURNING + ONE_TIME, probation: ONE_TIME });

      const statuses = await mapLimit(
        FLOOD,
        CONNECTIONS,
        async (i) => (await new KeepAliveBrowser(base, agent).post(`/visit?name=flood&item=f${i}`)).status,
      );
      const notOk = statuses.filter((status) => status !== 200).length;
      expect(notOk, 'flood requests answered other than 200').to.equal(0);
      expect(manager.stats().created).to.equal(RETURNING + ONE_TIME + FLOOD);

      const returningEvicted = returning.filter((visitor) => closedIds.has(visitor.sid)).length;
      const lost: string[] = [];
      for (const visitor of returning) {
        const answer = await visitor.browser.get('/me');
        const view = answer.body as VisitorView;
        const intact =
          answer.status === 200 && view.sessionId === visitor.sid && JSON.stringify(view.cart) === JSON.stringify(visitor.cart);
        if (!intact || visitor.browser.sid !== visitor.sid) lost.push(`${visitor.sid.slice(0, 6)}: ${answer.status} ${answer.text}`);
      }
      expect({ returningEvicted, lost }).to.deep.equal({ returningEvicted: 0, lost: [] });

      // The one-time visitors were evicted by the flood (they are its kind). Their cookies restore
      // them unless the store dropped their snapshots: MemoryAdapter keeps the newest maxEntries.
      const oneTimeBack = await Promise.all(
        oneTime.map(async (visitor) => {
          const answer = await visitor.browser.get('/me');
          return (
            (answer.body as VisitorView).sessionId === visitor.sid &&
            JSON.stringify((answer.body as VisitorView).cart) === JSON.stringify(visitor.cart)
          );
        }),
      );
      const notBack = oneTime.filter((_, i) => !oneTimeBack[i]).map((visitor) => visitor.sid);
      const droppedByBound = new Set(dropped);
      expect(
        notBack.filter((sid) => !droppedByBound.has(sid)),
        'one-time visitors lost other than by the memory bound',
      ).to.deep.equal([]);
      if (store.name === 'memory')
        expect(notBack.length, "past maxEntries the oldest snapshots (the one-time visitors') are dropped").to.equal(ONE_TIME);
      else expect(notBack.length, 'every one-time visitor restored').to.equal(0);
      agent.destroy();
    });
  });
}

/** A visitor who writes each of `items` in its own request (two or more requests make it a returning visitor). */
async function arrive(base: string, agent: Agent, name: string, items: readonly string[]): Promise<Visitor> {
  const browser = new KeepAliveBrowser(base, agent);
  let view: VisitorView | undefined;
  for (const item of items) {
    const answer = await browser.post(`/visit?name=${name}&item=${item}`);
    expect(answer.status, answer.text).to.equal(200);
    view = answer.body as VisitorView;
  }
  return { browser, sid: browser.sid!, cart: view!.cart };
}
