// SIGTERM under load: nothing acknowledged is lost across a restart, and a cart keeps its session id.
//
// Before the fix: FAILS. After the SIGTERM, shutdown() closes each session as its request ends, and
// the next write on its cookie gets a fresh session and a new cookie (a 200 with a Set-Cookie of
// another id) instead of a 503 with Retry-After; as those fresh sessions keep coming, the shutdown does
// not end while the load goes on. Seen (300 carts, 32 writers): 0 answers were 503; 7,719 items were
// acknowledged into fresh sessions and are missing from the carts the original cookies lead to, in all
// 300 carts; 29 of 32 writers still got answers 10 s after the SIGTERM; and the restarted process
// restores all 300 carts under new ids.
import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { expect } from 'chai';
import type { ManagerStats } from '@reprise/core';
import { assertBuilt } from './helpers/build.js';
import { mapLimit, networkCode } from './helpers/concurrency.js';
import { KeepAliveBrowser, answerSid, type Answer } from './helpers/keep-alive-browser.js';
import type { Child } from './helpers/process.js';
import { startSessionServer } from './helpers/session-server.js';
import { REDIS_URL, deleteRedisKeys, requireRedis } from './helpers/services.js';
import type { VisitorView } from './helpers/session-app.js';
import { unavailableProblem } from './helpers/unavailable.js';
import { waitUntil, within } from './helpers/wait.js';

const CARTS = 300;
const WRITERS = 32;
/** Items acknowledged (beyond each cart's first) before the SIGTERM. */
const ACKED_BEFORE_SIGTERM = 3 * CARTS;
/** The server's shutdownTimeout (ms): for the requests in flight, then for the writes. */
const SHUTDOWN_TIMEOUT = 3_000;
/**
 * Each closing hook takes a random time up to this long (ms): an application saving something at
 * each close. So the sessions' closes end at different times while shutdown() runs, and writes keep
 * arriving for sessions already closed: those must be refused (503), as the server is stopping.
 */
const HOOK_DELAY = 500;
/**
 * Each request takes this long (ms) inside session(): a request doing I/O. So at the SIGTERM most
 * writers' connections are busy, and server.close() leaves them open (it closes idle ones only):
 * their requests keep arriving while shutdown() runs, as real traffic does.
 */
const REQUEST_DELAY = 20;
/**
 * The writers stop at the latest this long (ms) after the SIGTERM: by then the server must have
 * stopped (both shutdown deadlines, the hooks, and room to spare); one still answering is a failure.
 */
const WRITE_DEADLINE = 2 * SHUTDOWN_TIMEOUT + 4_000;

/** One visitor's cart: its cookie jar, the id it was created with, and every item acknowledged with a 2xx. */
interface Cart {
  readonly index: number;
  readonly browser: KeepAliveBrowser;
  /** The jar as it was right after the cart was created (the original cookie). */
  readonly original: KeepAliveBrowser;
  readonly sid: string;
  readonly acked: string[];
  sent: number;
}

/** What the writers saw. */
interface Tally {
  acked: number;
  ackedAfterSigterm: number;
  /** 503 answers that were right (Retry-After, no Set-Cookie). */
  unavailable: number;
  /** 503 answers with something wrong (no Retry-After, a Set-Cookie). */
  badUnavailable: string[];
  /** 2xx answers whose Set-Cookie named another session id (or cleared the cookie). */
  idChanges: number;
  serverErrors: number;
  otherStatuses: string[];
  /** Requests that got no answer (connection reset while in flight). */
  noAnswer: number;
  /** How each writer ended. */
  endings: string[];
}

describe("SIGTERM under load: a server process on Redis with the shop's stop sequence, then a new process", function () {
  this.timeout(40_000);
  const started: Child[] = [];
  const agents: Agent[] = [];
  let prefix: string | undefined;

  before(async function () {
    await requireRedis(this);
    assertBuilt('packages/core', 'packages/koa', 'packages/redis', 'packages/postgres');
  });

  afterEach(async function () {
    for (const child of started.splice(0)) await child.kill();
    for (const agent of agents.splice(0)) agent.destroy();
    if (prefix !== undefined) await deleteRedisKeys(prefix);
    prefix = undefined;
  });

  it(`${CARTS} carts, ${WRITERS} writers, SIGTERM mid-load: every acknowledged item is in its cart after the restart, under the same session id`, async function () {
    prefix = `reprise-it:load:${randomUUID()}:`;
    const env: NodeJS.ProcessEnv = {
      ADAPTER: 'redis',
      REDIS_URL,
      PREFIX: prefix,
      MAX_SESSIONS: String(CARTS * 4), // no eviction: every cart is live until the SIGTERM
      SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT),
      HOOK: 'delay',
      HOOK_DELAY: String(HOOK_DELAY),
      REQUEST_DELAY: String(REQUEST_DELAY),
      EXIT_AFTER_SHUTDOWN: '1',
    };
    const first = await startSessionServer(env, started);
    // Browsers keep their connections open (keep-alive), so their requests go on reaching the server
    // after the SIGTERM's server.close(), while shutdown() runs, as real browsers' requests do.
    const agent = KeepAliveBrowser.agent();
    agents.push(agent);

    // The carts, each created by its first item.
    const carts = await mapLimit(CARTS, WRITERS, async (index): Promise<Cart> => {
      const browser = new KeepAliveBrowser(first.base, agent);
      const item = `c${index}-0`;
      const response = await browser.post(`/visit?name=cart-${index}&item=${item}`);
      expect(response.status, response.text).to.equal(200);
      const view = response.body as VisitorView;
      expect(view.sessionId).to.be.a('string').and.equal(browser.sid);
      return { index, browser, original: browser.clone(), sid: browser.sid!, acked: [item], sent: 1 };
    });
    expect(new Set(carts.map((cart) => cart.sid)).size, 'one session per cart').to.equal(CARTS);
    const live = (await new KeepAliveBrowser(first.base, agent).get('/stats')).body as ManagerStats;
    expect(live).to.deep.include({ live: CARTS, created: CARTS, persisted: 0 });

    // The writers: each adds an item to the next cart, until the server refuses connections.
    const tally: Tally = {
      acked: 0,
      ackedAfterSigterm: 0,
      unavailable: 0,
      badUnavailable: [],
      idChanges: 0,
      serverErrors: 0,
      otherStatuses: [],
      noAnswer: 0,
      endings: [],
    };
    let sigtermSent = false;
    let stopAt = Infinity;
    let turn = 0;
    const classify = (cart: Cart, item: string, response: Answer): void => {
      if (response.status >= 200 && response.status < 300) {
        cart.acked.push(item);
        tally.acked += 1;
        if (sigtermSent) tally.ackedAfterSigterm += 1;
        const issued = answerSid(response);
        if (issued !== undefined && issued !== cart.sid) tally.idChanges += 1;
      } else if (response.status === 503) {
        const problem = unavailableProblem(response);
        if (problem === undefined) tally.unavailable += 1;
        else tally.badUnavailable.push(problem);
      } else if (response.status >= 500) {
        tally.serverErrors += 1;
      } else {
        tally.otherStatuses.push(`${response.status} ${response.text}`);
      }
    };
    // Each writer on a connection of its own (kept alive), as each browser has.
    const writer = async (): Promise<void> => {
      const own = KeepAliveBrowser.agent(1);
      agents.push(own);
      for (;;) {
        if (Date.now() >= stopAt) {
          tally.endings.push('still answered at the deadline');
          return;
        }
        const cart = carts[turn++ % CARTS]!;
        const item = `c${cart.index}-${cart.sent++}`;
        let response: Answer;
        try {
          response = await cart.browser.post(`/visit?name=cart-${cart.index}&item=${item}`, own);
        } catch (error) {
          const code = networkCode(error);
          if (code === 'ECONNREFUSED') {
            tally.endings.push(code);
            return;
          }
          if (code === undefined) throw error;
          tally.noAnswer += 1; // reset while in flight: not acknowledged
          if (!sigtermSent) throw error;
          continue;
        }
        classify(cart, item, response);
      }
    };
    const writers = Promise.all(Array.from({ length: WRITERS }, writer));
    const writersFailed = writers.then(
      () => new Promise<never>(() => {}),
      (error: unknown) => Promise.reject(error),
    );

    // SIGTERM mid-load.
    await Promise.race([
      waitUntil(`${ACKED_BEFORE_SIGTERM} items were acknowledged`, () => tally.acked >= ACKED_BEFORE_SIGTERM, {
        timeoutMs: 15_000,
        state: () => tally,
      }),
      writersFailed,
    ]);
    first.child.process.kill('SIGTERM');
    sigtermSent = true;
    stopAt = Date.now() + WRITE_DEADLINE;
    await within(() => `the writers to stop; ${JSON.stringify(tally)}`, WRITE_DEADLINE + 5_000, writers);
    // Bounded too: a process still running now is killed, and the store is read as it left it.
    const exit = await within('the first process to exit', 5_000, first.child.exited).catch(async () => {
      await first.child.kill();
      return { code: null, signal: 'SIGKILL (still running after the writers stopped)' };
    });
    const completed = first.child.stdout.matching(/^shutdown complete /).length === 1;

    // A new process on the same store: every cart, read with its original cookie.
    const second = await startSessionServer(env, started);
    const reads = await mapLimit(CARTS, WRITERS, (index) => carts[index]!.original.at(second.base).get('/me'));
    for (const [index, response] of reads.entries()) expect(response.status, `cart ${index}: ${response.text}`).to.be.oneOf([200]);
    let cartsLost = 0;
    let idsChanged = 0;
    let cookiesReplaced = 0;
    let lostItems = 0;
    let cartsWithLostItems = 0;
    let duplicated = 0;
    for (const [index, response] of reads.entries()) {
      const cart = carts[index]!;
      const view = response.body as VisitorView;
      if (view.name !== `cart-${index}`) {
        cartsLost += 1;
        lostItems += cart.acked.length;
        cartsWithLostItems += 1;
        continue;
      }
      if (view.sessionId !== cart.sid) idsChanged += 1;
      const issued = answerSid(response);
      if (issued !== undefined && issued !== cart.sid) cookiesReplaced += 1;
      const inCart = new Map(view.cart);
      const missing = cart.acked.filter((item) => !inCart.has(item)).length;
      lostItems += missing;
      if (missing > 0) cartsWithLostItems += 1;
      duplicated += view.cart.filter(([, count]) => count !== 1).length;
    }
    const jarsChanged = carts.filter((cart) => cart.browser.sid !== cart.sid).length;
    const restarted = (await new KeepAliveBrowser(second.base, agent).get('/stats')).body as ManagerStats;

    const summary = {
      firstExit: exit,
      shutdownComplete: completed,
      writersRefused: tally.endings.filter((ending) => ending === 'ECONNREFUSED').length,
      someWritesRefusedWith503: tally.unavailable > 0,
      serverErrors: tally.serverErrors,
      badUnavailable: tally.badUnavailable.length,
      otherStatuses: tally.otherStatuses.length,
      idChanges: tally.idChanges,
      jarsChanged,
      cartsLost,
      idsChanged,
      cookiesReplaced,
      lostItems,
      cartsWithLostItems,
      duplicated,
    };
    const context = `${JSON.stringify({ ...summary, acked: tally.acked, ackedAfterSigterm: tally.ackedAfterSigterm, unavailable: tally.unavailable, noAnswer: tally.noAnswer, restored: restarted.restored, badUnavailableSamples: tally.badUnavailable.slice(0, 3), otherStatusSamples: tally.otherStatuses.slice(0, 3) })}\nfirst process stderr (first lines):\n${first.child.stderr.lines.slice(0, 10).join('\n')}`;
    // Sanity: the load really ran, and the shutdown came in the middle of it.
    expect(tally.acked, context).to.be.at.least(ACKED_BEFORE_SIGTERM);
    expect(summary, context).to.deep.equal({
      firstExit: { code: 0, signal: null },
      shutdownComplete: true,
      writersRefused: WRITERS,
      someWritesRefusedWith503: true, // the shutdown was mid-load: writes came for sessions it had closed
      serverErrors: 0,
      badUnavailable: 0,
      otherStatuses: 0,
      idChanges: 0,
      jarsChanged: 0,
      cartsLost: 0,
      idsChanged: 0,
      cookiesReplaced: 0,
      lostItems: 0,
      cartsWithLostItems: 0,
      duplicated: 0,
    });
    expect(restarted, 'every cart restored in the new process, none created').to.deep.include({ restored: CARTS, created: 0, live: CARTS });

    const final = await second.child.terminate();
    expect(final, `second process exit; stderr:\n${second.child.stderr.text}`).to.deep.equal({ code: 0, signal: null });
  });
});
