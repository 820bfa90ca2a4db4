// kill -9 under load: checkpoints lose at most one interval of acknowledged writes.
//
// A server process on Redis or Postgres takes writes into 200 carts from 16 writers; it is killed
// with SIGKILL mid-load (no shutdown, no closing hook, nothing flushed), and a new process on the same
// store reads every cart with its original cookie. Every item acknowledged more than one checkpoint
// interval (plus the margin below) before the kill must be in its cart, under the same session id.
//
// Before checkpoints: FAILS. Nothing is written before a close, so the new process finds no cart at
// all: 200 of 200 carts lost, every acknowledged item with them.
import type { Agent } from 'node:http';
import { expect } from 'chai';
import type { ManagerStats } from '@reprise/core';
import { assertBuilt } from './helpers/build.js';
import { mapLimit, networkCode } from './helpers/concurrency.js';
import { KeepAliveBrowser } from './helpers/keep-alive-browser.js';
import type { Child } from './helpers/process.js';
import { PROCESS_STORES, type OpenedStore } from './helpers/process-stores.js';
import { startSessionServer } from './helpers/session-server.js';
import type { VisitorView } from './helpers/session-app.js';
import { waitUntil } from './helpers/wait.js';

const CARTS = 200;
const WRITERS = 16;
/** The server's checkpointInterval, ms. */
const INTERVAL = 500;
/**
 * Room for the checkpoint's own write after its pass starts (a batch's round trip, the pass's slices
 * under load), ms: an item acknowledged earlier than `INTERVAL + MARGIN` before the kill must survive.
 */
const MARGIN = 250;
/** Items acknowledged before the kill. */
const ACKED_BEFORE_KILL = 4_000;

interface Cart {
  readonly index: number;
  readonly browser: KeepAliveBrowser;
  readonly sid: string;
  /** Each acknowledged item and when its 2xx arrived (ms since the epoch). */
  readonly acked: { item: string; at: number }[];
  sent: number;
}

for (const store of PROCESS_STORES) {
  describe(`kill -9 under load on ${store.name}: checkpoints`, function () {
    this.timeout(60_000);
    const started: Child[] = [];
    const agents: Agent[] = [];
    let opened: OpenedStore | undefined;

    before(async function () {
      await store.require(this);
      assertBuilt('packages/core', 'packages/koa', 'packages/redis', 'packages/postgres');
    });

    afterEach(async function () {
      for (const child of started.splice(0)) await child.kill();
      for (const agent of agents.splice(0)) agent.destroy();
      await opened?.cleanup();
      opened = undefined;
    });

    it(`${CARTS} carts, ${WRITERS} writers, SIGKILL mid-load: after a restart every item acknowledged more than one interval (${INTERVAL} ms + ${MARGIN} ms) before the kill is in its cart, under the same id`, async function () {
      opened = store.open('crash');
      const env: NodeJS.ProcessEnv = { ...opened.env, MAX_SESSIONS: String(CARTS * 4), CHECKPOINT_INTERVAL: String(INTERVAL) };
      const first = await startSessionServer(env, started);
      const agent = KeepAliveBrowser.agent();
      agents.push(agent);
      const carts = await mapLimit(CARTS, WRITERS, async (index): Promise<Cart> => {
        const browser = new KeepAliveBrowser(first.base, agent);
        const item = `c${index}-0`;
        const response = await browser.post(`/visit?name=cart-${index}&item=${item}`);
        expect(response.status, response.text).to.equal(200);
        return { index, browser, sid: browser.sid!, acked: [{ item, at: Date.now() }], sent: 1 };
      });

      let acked = 0;
      let serverErrors = 0;
      let killed = false;
      let turn = 0;
      const writer = async (): Promise<void> => {
        const own = KeepAliveBrowser.agent(1);
        agents.push(own);
        for (;;) {
          const cart = carts[turn++ % CARTS]!;
          const item = `c${cart.index}-${cart.sent++}`;
          try {
            const response = await cart.browser.post(`/visit?name=cart-${cart.index}&item=${item}`, own);
            if (response.status === 200) {
              cart.acked.push({ item, at: Date.now() });
              acked += 1;
            } else if (response.status >= 500) serverErrors += 1;
          } catch (error) {
            if (networkCode(error) === undefined) throw error;
            if (killed) return; // the process is gone: reset or refused, nothing acknowledged
            throw error;
          }
        }
      };
      const writers = Promise.all(Array.from({ length: WRITERS }, writer));
      await waitUntil(`${ACKED_BEFORE_KILL} items acknowledged`, () => acked >= ACKED_BEFORE_KILL, {
        timeoutMs: 30_000,
        state: () => ({ acked, serverErrors }),
      });
      killed = true;
      const killedAt = Date.now();
      first.child.process.kill('SIGKILL');
      await first.child.exited;
      await writers;

      const second = await startSessionServer(env, started);
      const reads = await mapLimit(CARTS, WRITERS, (index) => carts[index]!.browser.at(second.base).get('/me'));
      let cartsLost = 0;
      let idsChanged = 0;
      let lostBeforeWindow = 0;
      let lostInWindow = 0;
      let ackedInWindow = 0;
      const samples: string[] = [];
      for (const [index, response] of reads.entries()) {
        const cart = carts[index]!;
        expect(response.status, `cart ${index}: ${response.text}`).to.equal(200);
        const view = response.body as VisitorView;
        if (view.name !== `cart-${index}`) cartsLost += 1;
        else if (view.sessionId !== cart.sid) idsChanged += 1;
        const inCart = new Set((view.cart ?? []).map(([item]) => item));
        for (const { item, at } of cart.acked) {
          const old = at < killedAt - INTERVAL - MARGIN;
          if (!old) ackedInWindow += 1;
          if (inCart.has(item)) continue;
          if (old) {
            lostBeforeWindow += 1;
            if (samples.length < 5) samples.push(`${item} acked ${killedAt - at} ms before the kill`);
          } else lostInWindow += 1;
        }
      }
      const stats = (await new KeepAliveBrowser(second.base, agent).get('/stats')).body as ManagerStats;
      const summary = { cartsLost, idsChanged, lostBeforeWindow, serverErrors };
      const context = JSON.stringify({ ...summary, acked, ackedInWindow, lostInWindow, restored: stats.restored, samples });
      expect(acked, context).to.be.at.least(ACKED_BEFORE_KILL);
      expect(summary, context).to.deep.equal({ cartsLost: 0, idsChanged: 0, lostBeforeWindow: 0, serverErrors: 0 });
      expect(stats.restored, context).to.equal(CARTS);
      expect(lostInWindow, `at most the window's own acknowledgements are lost; ${context}`).to.be.at.most(ackedInWindow);
    });
  });
}
