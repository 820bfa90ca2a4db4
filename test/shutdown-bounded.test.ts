// Shutdown is bounded and complete: the process stays alive while shutdown() waits (a closing hook
// that never settles, a store not used yet or idle), and shutdown() and requests end within their
// deadlines whatever the store does (a save that never settles, a server that stops answering).
//
// Before the fix: FAILS, each part for its own reason.
// - Process on Postgres (hook never settles, hookTimeout 1000): exits 0 within ~0.1 s of the SIGTERM
//   without printing `shutdown complete`, with the 40 snapshots written before the SIGTERM and none of
//   the 60 of the shutdown (40 rows of 100): the hook timeout's timer is unref'd and the pool's idle
//   connections let the process exit.
// - Process on a Redis never used before the SIGTERM: the same, with 0 of 100 snapshots in Redis.
// - In-process, save() never settles: shutdown() never resolves (the first write attempt is awaited
//   without a bound); a POST during the shutdown gets a 200 and a fresh session's cookie instead of a
//   503; the returning visitor of an evicted session waits forever for its close.
// - In-process on Postgres through a proxy that stops answering: shutdown() never resolves.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { expect } from 'chai';
import type { ManagerStats, RepriseError, SessionAdapter, Snapshot, VersionedValue } from '@reprise/core';
import type { SessionMiddleware } from '@reprise/koa';
import { PostgresAdapter } from '@reprise/postgres';
import { RedisAdapter } from '@reprise/redis';
import { Browser, issuedSid } from './helpers/browser.js';
import { assertBuilt } from './helpers/build.js';
import { mapLimit } from './helpers/concurrency.js';
import { closeServer, listen } from './helpers/http.js';
import type { Child } from './helpers/process.js';
import { startSessionServer } from './helpers/session-server.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './helpers/services.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';
import { countRedisKeys, countRows, readSnapshots } from './helpers/store-reads.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { unavailableProblem } from './helpers/unavailable.js';
import { waitUntil, within } from './helpers/wait.js';

const SESSIONS = 100;
const HOOK_TIMEOUT = 1_000;

/** In-process deadlines: small, so that a bound that holds is quick to see. */
const SHUTDOWN_TIMEOUT = 1_000;
const ADAPTER_TIMEOUT = 500;
/**
 * What shutdown() (and a request meanwhile) may take at most: the shutdownTimeout for the writes,
 * an adapter call bounded by adapterTimeout on each side of it (the first attempt, and a fence of a
 * write given up), and 1 s of slack for the machine.
 */
const BOUND = SHUTDOWN_TIMEOUT + 2 * ADAPTER_TIMEOUT + 1_000;

/** `count` visitors, each writing a session (in parallel, 20 at a time); resolves with their session ids. */
async function createSessions(base: string | Server, count: number, prefix = 'v'): Promise<{ browsers: Browser[]; sids: string[] }> {
  const browsers = await mapLimit(count, 20, async (index) => {
    const browser = new Browser(base);
    await browser.post(`/visit?name=${prefix}${index}&item=sku-${index}`, 200);
    return browser;
  });
  const sids = browsers.map((browser) => browser.sid!);
  expect(new Set(sids).size, 'one session per visitor').to.equal(count);
  return { browsers, sids };
}

/** SIGTERM, then how the process ended: bounded by `timeoutMs`; a process still running then is killed. */
async function sigterm(child: Child, timeoutMs: number): Promise<{ exit: unknown; shutdownComplete: boolean; ms: number }> {
  const start = Date.now();
  child.process.kill('SIGTERM');
  const exit = await within('the process to exit', timeoutMs, child.exited).catch(async () => {
    await child.kill();
    return { code: null, signal: `SIGKILL (still running ${timeoutMs} ms after the SIGTERM)` };
  });
  return { exit, shutdownComplete: child.stdout.matching(/^shutdown complete /).length === 1, ms: Date.now() - start };
}

describe('shutdown is bounded and complete', function () {
  describe('a server process whose closing hook never settles (hookTimeout 1000): it exits 0 only once every snapshot is written', function () {
    this.timeout(30_000);
    const started: Child[] = [];
    const cleanups: (() => Promise<unknown>)[] = [];

    before(function () {
      assertBuilt('packages/core', 'packages/koa', 'packages/redis', 'packages/postgres');
    });

    afterEach(async function () {
      for (const child of started.splice(0)) await child.kill();
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it(`on Postgres, its pool idle: ${SESSIONS} sessions (40 evicted before the SIGTERM), all ${SESSIONS} rows in the table after exit 0`, async function () {
      await requirePostgres(this);
      const table = uniqueName('reprise_it_bounded');
      const adapter = new PostgresAdapter({ connectionString: DATABASE_URL }, { table });
      cleanups.push(
        () => adapter.close(),
        () => dropTable(table),
      );
      const cap = SESSIONS - 40;
      const { child, base } = await startSessionServer(
        {
          ADAPTER: 'postgres',
          DATABASE_URL,
          TABLE: table,
          MAX_SESSIONS: String(cap),
          HOOK: 'never',
          HOOK_TIMEOUT: String(HOOK_TIMEOUT),
          EXIT_AFTER_SHUTDOWN: '1',
        },
        started,
      );
      const { sids } = await createSessions(base, SESSIONS);
      // The pool has been used (40 evictions written), and has no query running at the SIGTERM.
      const stats = async () => (await new Browser(base).get('/stats', 200)).body as ManagerStats;
      let last: ManagerStats | undefined;
      await waitUntil('the 40 evicted sessions are written', async () => (last = await stats()).persisted === SESSIONS - cap, {
        timeoutMs: 10_000,
        everyMs: 50,
        state: () => last,
      });
      expect(await countRows(table), 'rows before the SIGTERM').to.equal(SESSIONS - cap);

      const stopped = await sigterm(child, 15_000);
      const stored = await readSnapshots(adapter, sids);
      const outcome = {
        exit: stopped.exit,
        shutdownComplete: stopped.shutdownComplete,
        rows: await countRows(table),
        snapshotsOfTheSessions: [...stored.values()].filter((snapshot) => snapshot !== undefined).length,
      };
      expect(
        outcome,
        `after ${stopped.ms} ms; stdout:\n${child.stdout.text}\nstderr (first lines):\n${child.stderr.lines.slice(0, 5).join('\n')}`,
      ).to.deep.equal({
        exit: { code: 0, signal: null },
        shutdownComplete: true,
        rows: SESSIONS,
        snapshotsOfTheSessions: SESSIONS,
      });
      const reasons = [...stored.values()].map((snapshot) => snapshot!.reason);
      expect(reasons.filter((reason) => reason === 'evicted').length).to.equal(SESSIONS - cap);
      expect(reasons.filter((reason) => reason === 'shutdown').length).to.equal(cap);
      // Bounded: the hooks are given up after hookTimeout, all at once.
      expect(stopped.ms, 'time from SIGTERM to exit').to.be.below(HOOK_TIMEOUT + 5_000);
    });

    it(`on a Redis never used before the SIGTERM: ${SESSIONS} sessions, all ${SESSIONS} snapshots in Redis after exit 0`, async function () {
      await requireRedis(this);
      const prefix = `reprise-it:bounded:${randomUUID()}:`;
      const adapter = new RedisAdapter({ url: REDIS_URL, prefix });
      cleanups.push(
        () => adapter.close(),
        () => deleteRedisKeys(prefix),
      );
      const { child, base } = await startSessionServer(
        {
          ADAPTER: 'redis',
          REDIS_URL,
          PREFIX: prefix,
          MAX_SESSIONS: String(SESSIONS * 10),
          HOOK: 'never',
          HOOK_TIMEOUT: String(HOOK_TIMEOUT),
          EXIT_AFTER_SHUTDOWN: '1',
        },
        started,
      );
      const { sids } = await createSessions(base, SESSIONS);
      const live = (await new Browser(base).get('/stats', 200)).body as ManagerStats;
      expect(live, 'nothing written before the SIGTERM: the adapter has no connection yet').to.deep.include({
        live: SESSIONS,
        persisted: 0,
      });
      expect(await countRedisKeys(prefix)).to.equal(0);

      const stopped = await sigterm(child, 15_000);
      const stored = await readSnapshots(adapter, sids);
      const outcome = {
        exit: stopped.exit,
        shutdownComplete: stopped.shutdownComplete,
        snapshotsOfTheSessions: [...stored.values()].filter((snapshot) => snapshot?.reason === 'shutdown').length,
      };
      expect(
        outcome,
        `after ${stopped.ms} ms; stdout:\n${child.stdout.text}\nstderr (first lines):\n${child.stderr.lines.slice(0, 5).join('\n')}`,
      ).to.deep.equal({
        exit: { code: 0, signal: null },
        shutdownComplete: true,
        snapshotsOfTheSessions: SESSIONS,
      });
      expect(stopped.ms, 'time from SIGTERM to exit').to.be.below(HOOK_TIMEOUT + 5_000);
    });
  });

  describe(`in-process, a store that never answers: shutdown() and requests end within shutdownTimeout + 2 adapterTimeouts + 1 s (${BOUND} ms)`, function () {
    this.timeout(20_000);
    let server: Server | undefined;
    let middleware: SessionMiddleware<VisitorData> | undefined;
    let cleanup: (() => Promise<unknown>) | undefined;
    let errors: RepriseError[] = [];
    let failed: Snapshot<VisitorData>[] = [];

    /** The test app on `adapter`, with the in-process deadlines and `maxSessions`. */
    async function setUp(adapter: SessionAdapter, maxSessions: number): Promise<void> {
      errors = [];
      failed = [];
      const built = sessionApp({
        adapter,
        maxSessions,
        shutdownTimeout: SHUTDOWN_TIMEOUT,
        adapterTimeout: ADAPTER_TIMEOUT,
        hookTimeout: HOOK_TIMEOUT,
      });
      middleware = built.middleware;
      middleware.manager.on('error', (error) => errors.push(error));
      middleware.manager.on('persistFailed', (snapshot) => failed.push(snapshot));
      server = await listen(built.app);
    }

    afterEach(async function () {
      if (server !== undefined) await closeServer(server);
      // Bounded here too: before the fix this never resolves (nothing holds the process for it).
      if (middleware !== undefined) await within('shutdown() in cleanup', BOUND, middleware.manager.shutdown()).catch(() => undefined);
      await cleanup?.();
      server = middleware = cleanup = undefined;
    });

    const stats = () => middleware!.manager.stats();

    /** How many times each session id arrived in 'persistFailed'. */
    function failedCounts(): Map<string, number> {
      const counts = new Map<string, number>();
      for (const snapshot of failed) counts.set(snapshot.sessionId, (counts.get(snapshot.sessionId) ?? 0) + 1);
      return counts;
    }

    it('save() never settles: shutdown() resolves in time, every snapshot arrives once in persistFailed, and requests meanwhile are answered (503 for a write)', async function () {
      const adapter = new HangingAdapter();
      await setUp(adapter, 100);
      const { browsers, sids } = await createSessions(server!, 20);
      expect(adapter.saves, 'nothing written before the shutdown').to.equal(0);

      const start = Date.now();
      const shutdown = middleware!.manager.shutdown().then(() => Date.now() - start);
      // Requests on sessions that are closing: a write is refused (the context is in the snapshot
      // being written), a read gets no session; neither waits for the store.
      const write = within('the write during the shutdown to be answered', BOUND, browsers[0]!.post('/visit?name=v0&item=late'));
      const read = within('the read during the shutdown to be answered', BOUND, browsers[1]!.get('/me'));
      const [written, readBack] = await Promise.all([write, read]);
      const ms = await within('shutdown() to resolve', BOUND, shutdown).catch((error: Error) => error.message);
      const readView = readBack.body as VisitorView;
      expect({
        shutdownMs: typeof ms === 'number' && ms < BOUND ? 'in time' : ms,
        writeProblem: unavailableProblem(written) ?? 'none',
        read: { status: readBack.status, sessionId: readView.sessionId, name: readView.name, cookie: issuedSid(readBack) ?? 'kept' },
      }).to.deep.equal({
        shutdownMs: 'in time',
        writeProblem: 'none', // a 503 with Retry-After and no Set-Cookie
        read: { status: 200, sessionId: null, name: null, cookie: 'kept' }, // no session, no new cookie
      });

      // Complete: each of the 20 snapshots handed to 'persistFailed' exactly once, none written.
      const counts = failedCounts();
      expect([...counts.keys()].sort(), 'the sessions in persistFailed').to.deep.equal([...sids].sort());
      expect(
        [...counts.values()].filter((count) => count !== 1),
        'each exactly once',
      ).to.deep.equal([]);
      expect(stats()).to.deep.include({ persisted: 0, persistGivenUp: sids.length, live: 0 });
      expect(stats().closed.shutdown).to.equal(sids.length);
      expect(adapter.saves, 'the writes were attempted').to.be.at.least(sids.length);
    });

    it('save() never settles: the returning visitor of a session evicted meanwhile is answered in time (not left waiting for the close)', async function () {
      const adapter = new HangingAdapter();
      await setUp(adapter, 2);
      const { browsers, sids } = await createSessions(server!, 3); // the third evicts the first
      await waitUntil('the first session was evicted and its write attempted', () => stats().closed.evicted === 1 && adapter.saves >= 1, {
        state: stats,
      });

      const start = Date.now();
      const response = await within("the evicted visitor's write to be answered", BOUND, browsers[0]!.post('/visit?name=v0&item=again'));
      const ms = Date.now() - start;
      expect(ms).to.be.below(BOUND);
      // Its snapshot waits in the retry queue (the store never took it): restored from there, under the same id.
      expect(response.status, response.text).to.equal(200);
      expect(response.body as VisitorView).to.deep.include({
        sessionId: sids[0],
        name: 'v0',
        cart: [
          ['sku-0', 1],
          ['again', 1],
        ],
      });
      expect(issuedSid(response) ?? sids[0], 'same id: no cookie of another id').to.equal(sids[0]);
    });

    it('Postgres stops answering on an open connection: shutdown() resolves in time, and every snapshot not written arrives once in persistFailed', async function () {
      await requirePostgres(this);
      const target = new URL(DATABASE_URL);
      const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
      const viaProxy = new URL(DATABASE_URL);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const table = uniqueName('reprise_it_bounded');
      const adapter = new PostgresAdapter({ connectionString: viaProxy.href }, { table });
      cleanup = async () => {
        await proxy.close(); // the held queries are dropped: nothing lands later
        await within('the adapter to close', 20_000, adapter.close()).catch(() => undefined);
        await dropTable(table);
      };
      await setUp(adapter, 100);
      // The adapter works through the proxy (the table is created, a connection is open and idle).
      expect(await adapter.load('probe')).to.equal(undefined);
      const { sids } = await createSessions(server!, 10);

      // The server stops answering: connections stay open, nothing comes back.
      proxy.set('up', { stalled: true });
      proxy.set('down', { stalled: true });
      const start = Date.now();
      const ms = await within(
        'shutdown() to resolve',
        BOUND,
        middleware!.manager.shutdown().then(() => Date.now() - start),
      );
      expect(ms).to.be.below(BOUND);
      const counts = failedCounts();
      expect([...counts.keys()].sort(), 'the sessions in persistFailed').to.deep.equal([...sids].sort());
      expect(
        [...counts.values()].filter((count) => count !== 1),
        'each exactly once',
      ).to.deep.equal([]);
      expect(stats()).to.deep.include({ persisted: 0, persistGivenUp: sids.length });
    });
  });
});

/**
 * A custom adapter whose writes never settle (`save` and `saveIfNewer`: a store that took the
 * command and never answers); reads find nothing. Counts the writes attempted.
 */
class HangingAdapter implements SessionAdapter {
  readonly name = 'hanging';
  saves = 0;

  save(): Promise<void> {
    this.saves += 1;
    return new Promise(() => {});
  }

  saveIfNewer(): Promise<boolean> {
    this.saves += 1;
    return new Promise(() => {});
  }

  async load(): Promise<string | undefined> {
    return undefined;
  }

  async take(): Promise<string | undefined> {
    return undefined;
  }

  async takeVersioned(): Promise<VersionedValue | undefined> {
    return undefined;
  }

  async delete(): Promise<boolean> {
    return false;
  }
}
