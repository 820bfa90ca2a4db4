// Checkpoints through a Redis outage: a redis-server of the test's own (with an append-only file, so
// its keys survive the kill) is killed while visitors keep writing. Live sessions keep serving every
// write; the checkpoints that fail meanwhile are reported, never handed to 'persistFailed' (the
// sessions are live); once Redis is back, every visitor's checkpoint catches up with every item
// acknowledged, outage included.
import { expect } from 'chai';
import type { RepriseError, Snapshot } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { Browser } from './helpers/browser.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';
import { redisOutageFixture } from './helpers/redis-outage-fixture.js';
import { waitUntil } from './helpers/wait.js';

const VISITORS = 10;
const INTERVAL = 200;
const PREFIX = 'reprise-it:checkpoint-outage:';

interface Visitor {
  readonly browser: Browser;
  readonly name: string;
  readonly acked: string[];
}

describe("checkpoints through a Redis outage (a redis-server of the test's own, killed and started again)", function () {
  this.timeout(30_000);
  const fixture = redisOutageFixture(PREFIX);

  /** The checkpoint under `sid` in Redis, if any. */
  async function checkpointOf(sid: string): Promise<Snapshot<VisitorData> | undefined> {
    const text = await fixture.rig.adapter!.load(sid).catch(() => undefined);
    if (text === undefined) return undefined;
    const record = decodeRecord(text);
    return record.kind === 'snapshot' && record.snapshot.reason === 'checkpoint' ? (record.snapshot as Snapshot<VisitorData>) : undefined;
  }

  /** Whether every visitor's checkpoint holds every item it got a 200 for. */
  async function caughtUp(visitors: Visitor[]): Promise<boolean> {
    for (const visitor of visitors) {
      const checkpoint = await checkpointOf(visitor.browser.sid!);
      const cart = new Map(checkpoint?.data.cart ?? []);
      if (!visitor.acked.every((item) => cart.has(item))) return false;
    }
    return true;
  }

  async function write(visitor: Visitor, item: string): Promise<void> {
    const response = await visitor.browser.post(`/visit?name=${visitor.name}&item=${item}`, 200);
    expect((response.body as VisitorView).sessionId, `${visitor.name} keeps its session`).to.equal(visitor.browser.sid);
    visitor.acked.push(item);
  }

  it(`${VISITORS} visitors write through the outage: every write is served, no checkpoint is handed to 'persistFailed', and every checkpoint catches up once Redis is back`, async function () {
    const { redis, adapter } = await fixture.startRedis(1_000);
    const errors: RepriseError[] = [];
    const givenUp: Snapshot<VisitorData>[] = [];
    const built = sessionApp({ adapter, maxSessions: VISITORS * 2, checkpointInterval: INTERVAL, adapterTimeout: 1_000 });
    const middleware = built.middleware;
    middleware.manager.on('error', (error) => errors.push(error));
    middleware.manager.on('persistFailed', (snapshot) => givenUp.push(snapshot));
    const server = await fixture.serve(built);
    const stats = () => middleware.manager.stats();

    const visitors: Visitor[] = [];
    for (let i = 0; i < VISITORS; i++) {
      const visitor: Visitor = { browser: new Browser(server), name: `v${i}`, acked: [] };
      await write(visitor, `before-${i}`);
      visitors.push(visitor);
    }
    await waitUntil('every visitor checkpointed before the outage', () => caughtUp(visitors), { timeoutMs: 5_000, everyMs: 50 });

    await redis.kill();
    // Writes during the outage, over several checkpoint intervals: each is served by its live session.
    for (let round = 0; round < 5; round++) {
      for (const [i, visitor] of visitors.entries()) await write(visitor, `outage-${round}-${i}`);
      await new Promise((resolve) => setTimeout(resolve, INTERVAL));
    }
    expect(errors.length, 'the failed checkpoints are reported').to.be.greaterThan(0);
    expect(await caughtUp(visitors).catch(() => false), 'nothing can reach Redis meanwhile').to.equal(false);

    await redis.start();
    await waitUntil('every checkpoint holds every acknowledged item', () => caughtUp(visitors), {
      timeoutMs: 20_000,
      everyMs: 100,
      state: stats,
    });
    expect(givenUp, "no checkpoint handed to 'persistFailed'").to.deep.equal([]);
    expect(stats()).to.deep.include({ live: VISITORS, persisted: 0, persistGivenUp: 0 });
    expect(stats().checkpoints).to.be.at.least(VISITORS * 2);
    const codes = new Set(errors.map((error) => error.code));
    for (const code of codes) expect(['ERR_REPRISE_PERSIST'], `an error of code ${code}`).to.include(code);
  });
});
