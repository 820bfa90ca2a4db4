import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RepriseError, Snapshot } from '@reprise/core';
import { decodeRecord, redactId } from '@reprise/core/adapter-kit';
import type { SessionMiddleware } from '@reprise/koa';
import { RedisAdapter } from '@reprise/redis';
import { Browser, expectSameCookie, expectUnavailable, issuedSid } from './helpers/browser.js';
import { closeServer, listen } from './helpers/http.js';
import { OwnRedis } from './helpers/own-redis.js';
import { requireRedisServer } from './helpers/services.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';
import { waitUntil } from './helpers/wait.js';

const CAP = 3;
const PREFIX = 'reprise-it:outage:';
/** Seconds a refused write is told to wait (`retryAfter`; not the default, so the header is seen to come from it). */
const RETRY_AFTER = 3;

/** A visitor: its browser and what the server answered to its last write. */
interface Visitor {
  readonly browser: Browser;
  readonly name: string;
  readonly view: VisitorView;
}

describe("Redis outage (a redis-server of the test's own, killed and started again)", function () {
  this.timeout(20_000);
  let redis: OwnRedis | undefined;
  let adapter: RedisAdapter | undefined;
  let middleware: SessionMiddleware<VisitorData> | undefined;
  let server: Server | undefined;
  let aofDir: string | undefined;
  let errors: RepriseError[] = [];
  let givenUp: Snapshot<VisitorData>[] = [];

  before(async function () {
    await requireRedisServer(this);
  });

  /** Starts the test's redis-server (with an append-only file when `persistent`) and the app on it. */
  async function setUp({ persistent = false } = {}): Promise<void> {
    errors = [];
    givenUp = [];
    if (persistent) aofDir = mkdtempSync(join(tmpdir(), 'reprise-it-redis-'));
    redis = await OwnRedis.start({ aofDir });
    // Reconnects within 200 ms once Redis is back; a call fails at once while it is down.
    adapter = new RedisAdapter({ url: redis.url, prefix: PREFIX, maxReconnectDelay: 200, commandTimeout: 2_000 });
    // Checkpoints off: this suite counts the closes' own writes and restores in the store (crash-checkpoints.test.ts covers checkpoints).
    const built = sessionApp({ adapter, maxSessions: CAP, shutdownTimeout: 2_000, retryAfter: RETRY_AFTER, checkpointInterval: 0 });
    middleware = built.middleware;
    middleware.manager.on('error', (error) => errors.push(error));
    middleware.manager.on('persistFailed', (snapshot) => givenUp.push(snapshot));
    server = await listen(built.app);
  }

  afterEach(async function () {
    if (server !== undefined) await closeServer(server);
    if (redis !== undefined && !redis.running) await redis.start(); // so that shutdown() can write, not wait
    await middleware?.manager.shutdown();
    await adapter?.close();
    await redis?.kill(); // the whole server goes, keys included
    if (aofDir !== undefined) rmSync(aofDir, { recursive: true, force: true });
    server = middleware = adapter = redis = aofDir = undefined;
  });

  /** A new visitor writes its session; it is live: its read gives the same id and data. */
  async function arrive(name: string, item: string): Promise<Visitor> {
    const browser = new Browser(server!);
    const view = (await browser.post(`/visit?name=${name}&item=${item}`, 200)).body as VisitorView;
    expect(view).to.deep.include({ sessionId: browser.sid, name, cart: [[item, 1]] });
    await expectLive({ browser, name, view });
    return { browser, name, view };
  }

  /** The visitor's session is live: 200, same id (no new cookie), same data. */
  async function expectLive(visitor: Visitor): Promise<void> {
    const response = await visitor.browser.get('/me', 200);
    expect(response.body, `${visitor.name} is live`).to.deep.equal(visitor.view);
    expect(issuedSid(response), `${visitor.name} keeps its cookie`).to.equal(undefined);
  }

  /** The visitor's cookie restores its data under the same id (the cookie does not change), and the session is live again. */
  async function expectRestored(visitor: Visitor): Promise<void> {
    const sid = visitor.view.sessionId!;
    expect(middleware!.manager.get(sid), `${visitor.name} is not live before its restore`).to.equal(undefined);
    const response = await visitor.browser.get('/me', 200);
    expectSameCookie(response, sid, `${visitor.name}'s restore`);
    expect(response.body, `${visitor.name} is restored under its id`).to.deep.equal(visitor.view);
    expect(visitor.browser.sid).to.equal(sid);
    await expectLive(visitor);
  }

  /** Reads a snapshot straight from Redis, through the adapter. */
  async function storedSnapshot(sid: string): Promise<Snapshot<VisitorData> | undefined> {
    const text = await adapter!.load(sid);
    if (text === undefined) return undefined;
    const record = decodeRecord(text);
    expect(record.kind).to.equal('snapshot');
    return (record as { snapshot: Snapshot<VisitorData> }).snapshot;
  }

  const stats = () => middleware!.manager.stats();

  /**
   * Visitors arriving one after another in the background until stopped: each writes a new session
   * (evicting the least recently active one: the cap is full) and re-reads the previous visitor,
   * which must still be live. An assertion that fails stops it; `check()` rethrows it.
   */
  function startTraffic(first: Visitor[]) {
    const visitors = [...first];
    let running = true;
    let failure: unknown;
    const done = (async () => {
      for (let i = 1; running; i++) {
        const previous = visitors.at(-1)!;
        visitors.push(await arrive(`t${i}`, `item-${i}`));
        await expectLive(previous);
      }
    })().catch((error: unknown) => void (failure = error));
    const check = (): void => {
      if (failure !== undefined) throw failure;
    };
    return {
      visitors,
      check,
      /** Waits until `count` visitors arrived in all. */
      until: (count: number) => waitUntil(`${count} visitors arrived`, () => (check(), visitors.length >= count), { timeoutMs: 10_000 }),
      stop: async () => {
        running = false;
        await done;
        check();
      },
    };
  }

  it('killed while visitors keep arriving and evicting: live sessions keep serving, snapshots wait in the retry queue, and all reach Redis once it is back', async function () {
    await setUp();
    const first = [await arrive('l1', 'apple'), await arrive('l2', 'pear'), await arrive('l3', 'plum')];
    expect(stats()).to.deep.include({ live: CAP, persisted: 0, closed: { evicted: 0, expired: 0, closed: 0, shutdown: 0, handover: 0 } });

    // The crash and the traffic start together: the first evictions' writes meet a dying server.
    const killed = redis!.kill();
    const traffic = startTraffic(first);
    await killed;
    await waitUntil('6 snapshots wait in the retry queue', () => (traffic.check(), stats().retryingPersists >= 6), {
      timeoutMs: 10_000,
      state: stats,
    });
    expect(stats().pendingPersists, 'every write waiting for a retry is pending').to.be.at.least(stats().retryingPersists);
    expect(stats().persisted, 'nothing was written during the outage').to.equal(0);
    const persistErrors = errors.filter((error) => error.code === 'ERR_REPRISE_PERSIST');
    expect(persistErrors.length, 'error events for the failed writes').to.be.at.least(6);

    // Redis comes back (empty: no persistence) while the visitors keep arriving.
    await redis!.start();
    await waitUntil('writes reach Redis again', () => (traffic.check(), stats().persisted > 0), { timeoutMs: 10_000, state: stats });
    await traffic.until(traffic.visitors.length + 3); // and a few more visitors with Redis up
    await traffic.stop();

    const { visitors } = traffic;
    const evicted = visitors.slice(0, -CAP);
    const evictedSids = new Set(evicted.map((visitor) => visitor.view.sessionId!));
    // Reports name a session by its redacted id only (an id is a credential).
    const redactedEvicted = new Set(evicted.map((visitor) => redactId(visitor.view.sessionId!)));
    for (const error of persistErrors) {
      const { key } = error as RepriseError & { key: string };
      expect(redactedEvicted, 'each failed write is an evicted snapshot').to.include(key);
      expect(evictedSids, 'named by a redacted id, never a whole one').to.not.include(key);
      for (const sid of evictedSids) expect(error.message, 'the message names no whole id').to.not.include(sid);
    }
    await waitUntil('the retry queue is empty', () => stats().pendingPersists === 0, { timeoutMs: 10_000, state: stats });
    expect(stats().closed.evicted).to.equal(evicted.length);
    expect(stats()).to.deep.include({ persisted: evicted.length, persistGivenUp: 0, retryingPersists: 0, superseded: 0 });
    expect(givenUp, 'no snapshot given up').to.deep.equal([]);
    expect(
      errors.filter((error) => error.code !== 'ERR_REPRISE_PERSIST'),
      'no other error',
    ).to.deep.equal([]);

    // Every snapshot is in Redis now...
    for (const visitor of evicted) {
      const snapshot = await storedSnapshot(visitor.view.sessionId!);
      expect(snapshot, `${visitor.name}'s snapshot in Redis`).to.not.equal(undefined);
      expect(snapshot).to.deep.include({ sessionId: visitor.view.sessionId, reason: 'evicted' });
      expect(snapshot!.data.name).to.equal(visitor.name);
    }
    // ...and every evicted visitor's cookie restores its data under its id. Each restore (the cap is
    // full) evicts the least recently active session, so visitors restored earlier go out again.
    const evictedBefore = stats().closed.evicted;
    for (const visitor of evicted) await expectRestored(visitor);
    expect(stats()).to.deep.include({ restored: evicted.length, restoreFailures: 0, created: visitors.length, live: CAP });
    expect(stats().closed.evicted - evictedBefore, 'one eviction per restore').to.equal(evicted.length);
    await waitUntil('the retry queue is empty', () => stats().pendingPersists === 0, { timeoutMs: 10_000, state: stats });
    // Every visitor is now either live or evicted again with its snapshot in Redis under the same id.
    for (const visitor of visitors) {
      const sid = visitor.view.sessionId!;
      const snapshot = await storedSnapshot(sid);
      if (middleware!.manager.get(sid) !== undefined) {
        expect(snapshot, `${visitor.name} is live: no snapshot`).to.equal(undefined);
        continue;
      }
      expect(snapshot, `${visitor.name} is evicted again: its snapshot is in Redis`).to.not.equal(undefined);
      expect(snapshot).to.deep.include({ key: sid, sessionId: sid, reason: 'evicted' });
      expect(snapshot!.data.name).to.equal(visitor.name);
    }
    const live = visitors.filter((visitor) => middleware!.manager.get(visitor.view.sessionId!) !== undefined);
    expect(
      live.map((visitor) => visitor.name),
      'the last restored are live',
    ).to.deep.equal(evicted.slice(-CAP).map((visitor) => visitor.name));
  });

  it('a returning cookie while Redis is down: a read gets a 200 and no session, a write a 503 with Retry-After; the cookie is kept, and the same id is restored once Redis is back', async function () {
    await setUp({ persistent: true }); // this Redis keeps what was written before the crash
    const first = await arrive('r1', 'apple');
    for (let i = 2; i <= CAP + 1; i++) await arrive(`r${i}`, 'pear'); // the last one evicts r1
    await waitUntil("r1's snapshot is written", () => stats().persisted === 1, { state: stats });
    expect(await storedSnapshot(first.view.sessionId!)).to.deep.include({ sessionId: first.view.sessionId, reason: 'evicted' });

    await redis!.kill();
    const sid = first.view.sessionId!;
    const during = await first.browser.get('/me', 200);
    expect(during.body, 'no session: the snapshot cannot be read').to.deep.equal({ sessionId: null, name: null, cart: [], since: null });
    expect(issuedSid(during), 'the cookie is neither cleared nor replaced').to.equal(undefined);
    // A write cannot go into a session that cannot be had: refused, and the cookie kept.
    const write = await first.browser.post('/visit?name=r1&item=refused');
    expectUnavailable(write, RETRY_AFTER, 'a write while the snapshot cannot be read');
    expect(first.browser.sid).to.equal(sid);
    const restoreErrors = errors.filter((error) => error.code === 'ERR_REPRISE_RESTORE');
    expect(
      restoreErrors.map((error) => (error as RepriseError & { key: string }).key),
      'one error event per request, with the id redacted',
    ).to.deep.equal([redactId(sid), redactId(sid)]);
    expect(stats()).to.deep.include({ restoreFailures: 2, restored: 0, created: CAP + 1, live: CAP });
    expect(middleware!.manager.get(sid)).to.equal(undefined);

    await redis!.start();
    await waitUntil(
      'the adapter is connected again',
      () =>
        adapter!.load('probe').then(
          () => true,
          () => false,
        ),
      { timeoutMs: 10_000 },
    );
    await expectRestored(first); // the refused write is not in it
    expect(stats()).to.deep.include({ restoreFailures: 2, restored: 1, created: CAP + 1 });
    // The next write goes into the restored session, under the same id.
    const after = await first.browser.post('/visit?name=r1&item=pear', 200);
    expectSameCookie(after, sid, 'the write after the outage');
    expect(after.body).to.deep.equal({
      ...first.view,
      cart: [
        ['apple', 1],
        ['pear', 1],
      ],
    });
  });

  it('a visitor evicted during the outage who comes back during it is restored from the retry queue', async function () {
    await setUp();
    const visitors = [await arrive('q1', 'apple'), await arrive('q2', 'pear'), await arrive('q3', 'plum')];
    await redis!.kill();
    visitors.push(await arrive('q4', 'fig')); // evicts q1: its snapshot waits in the queue
    await waitUntil("q1's snapshot waits for a retry", () => stats().retryingPersists === 1, { state: stats });
    expect(stats()).to.deep.include({ pendingPersists: 1, persisted: 0 });

    await expectRestored(visitors[0]!); // from the queue: Redis is still down
    expect(stats()).to.deep.include({ restored: 1, restoreFailures: 0, persisted: 0 });
    // Making room for q1 evicted q2, whose snapshot now waits in the queue in its turn.
    expect(stats().closed.evicted).to.equal(2);
    expect(stats().pendingPersists).to.equal(1);

    await redis!.start();
    await waitUntil('the retry queue is empty', () => stats().pendingPersists === 0, { timeoutMs: 10_000, state: stats });
    expect(stats(), "q2's snapshot written once, q1's never").to.deep.include({
      persisted: 1,
      superseded: 0,
      persistGivenUp: 0,
      retryingPersists: 0,
    });
    expect(await storedSnapshot(visitors[1]!.view.sessionId!)).to.deep.include({
      sessionId: visitors[1]!.view.sessionId,
      reason: 'evicted',
    });
    expect(await storedSnapshot(visitors[0]!.view.sessionId!), "q1's snapshot, taken from the queue, is never written").to.equal(undefined);
    await expectRestored(visitors[1]!);
  });
});
