// 25,000 live sessions closed at once, by shutdown() and by setOption('maxSessions', 1) (in paced
// slices: the cap holds again once they are done), with
// maxPendingPersists 100. Contract ("Shutdown is bounded and complete", core's PersistQueue: the bound
// counts only writes waiting for a retry, stats().retryingPersists):
// - on a healthy Redis every snapshot is written (one key per session under the run's own prefix),
//   none reaches 'persistFailed', stats().persistGivenUp stays 0;
// - on a store that refuses every write for good (a non-transient AdapterError, as an authentication
//   failure is), every snapshot reaches 'persistFailed' exactly once, promptly, after exactly one
//   attempt (no retries).
//
// Before the fix (issue 6): with a healthy store 15,000 of 25,000 were reported lost (in-flight first
// attempts counted against maxPendingPersists), and were written all the same.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  AdapterError,
  SessionManager,
  type Fence,
  type RepriseError,
  type SessionAdapter,
  type Snapshot,
  type VersionedValue,
} from '@reprise/core';
import { RedisAdapter } from '@reprise/redis';
import { REDIS_URL, deleteRedisKeys, requireRedis } from './helpers/services.js';
import { countRedisKeys, readSnapshots, redisKeys } from './helpers/store-reads.js';
import { waitUntil, within } from './helpers/wait.js';

const SESSIONS = 25_000;
const MAX_PENDING_PERSISTS = 100;
/** shutdownTimeout of the managers: far above PROMPT_MS, so a shutdown that retries until its deadline is caught. */
const SHUTDOWN_TIMEOUT = 60_000;
/** How long 25,000 writes refused for good may take to reach 'persistFailed' (about 1 s here). */
const PROMPT_MS = 15_000;

type Data = { n: number };

/**
 * Wraps an adapter and refuses every write (save, saveIfNewer) with a non-transient AdapterError, as a
 * store refusing authentication does; reads go through. Counts the write attempts per key.
 */
class RefusingAdapter implements SessionAdapter {
  readonly name = 'refusing';
  readonly writes = new Map<string, number>();
  readonly #inner: SessionAdapter;

  constructor(inner: SessionAdapter) {
    this.#inner = inner;
  }

  get writeCalls(): number {
    let total = 0;
    for (const count of this.writes.values()) total += count;
    return total;
  }

  #refuse(key: string): Promise<never> {
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    return Promise.reject(new AdapterError('ERR_REPRISE_ADAPTER', 'auth', { transient: false }));
  }

  save(key: string): Promise<void> {
    return this.#refuse(key);
  }

  saveIfNewer(key: string): Promise<boolean> {
    return this.#refuse(key);
  }

  load(key: string): Promise<string | undefined> {
    return this.#inner.load(key);
  }

  take(key: string): Promise<string | undefined> {
    return this.#inner.take(key);
  }

  takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    return this.#inner.takeVersioned!(key, fence);
  }

  delete(key: string): Promise<boolean> {
    return this.#inner.delete(key);
  }

  async close(): Promise<void> {
    await this.#inner.close?.();
  }
}

describe(`${SESSIONS} sessions closed at once (maxPendingPersists ${MAX_PENDING_PERSISTS})`, function () {
  this.timeout(60_000);
  let redis: RedisAdapter | undefined;
  let manager: SessionManager<Data> | undefined;
  let prefix: string | undefined;

  before(async function () {
    await requireRedis(this);
  });

  afterEach(async function () {
    if (manager !== undefined) await within('shutdown() in cleanup', 30_000, manager.shutdown()).catch(() => undefined);
    await redis?.close();
    if (prefix !== undefined) await deleteRedisKeys(prefix);
    redis = manager = prefix = undefined;
  });

  /** A manager over `wrap(a RedisAdapter on a prefix of this test's own)` with SESSIONS live sessions. */
  function setUp(wrap: (adapter: RedisAdapter) => SessionAdapter = (adapter) => adapter) {
    prefix = `reprise-it:close-burst:${randomUUID()}:`;
    redis = new RedisAdapter({ url: REDIS_URL, prefix });
    const adapter = wrap(redis);
    manager = new SessionManager<Data>({
      adapter,
      maxSessions: SESSIONS + 1_000,
      maxPendingPersists: MAX_PENDING_PERSISTS,
      shutdownTimeout: SHUTDOWN_TIMEOUT,
    });
    const errors: RepriseError[] = [];
    manager.on('error', (error) => errors.push(error));
    const failed: Snapshot<Data>[] = [];
    manager.on('persistFailed', (snapshot) => failed.push(snapshot));
    const ids: string[] = [];
    for (let n = 0; n < SESSIONS; n++) ids.push(manager.create({ n }).id);
    expect(new Set(ids).size).to.equal(SESSIONS);
    expect(manager.size).to.equal(SESSIONS);
    return { manager, ids, failed, errors, stats: () => manager!.stats() };
  }

  /** A histogram of counts: `{ count: how many keys have it }`. */
  function histogram(counts: Iterable<number>): Record<number, number> {
    const result: Record<number, number> = {};
    for (const count of counts) result[count] = (result[count] ?? 0) + 1;
    return result;
  }

  /** How many times each value of `values` occurs, as a histogram. */
  function multiplicity(values: readonly string[]): Record<number, number> {
    const counts = new Map<string, number>();
    for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
    return histogram(counts.values());
  }

  describe('on a healthy Redis: every snapshot written, none reported lost', function () {
    /** What Redis holds for the closed sessions, and what the manager reported. */
    async function outcome(
      closedIds: readonly string[],
      failed: readonly Snapshot<Data>[],
      stats: ReturnType<SessionManager<Data>['stats']>,
    ) {
      const keys = await redisKeys(prefix!);
      const closed = new Set(closedIds);
      return {
        keysUnderPrefix: await countRedisKeys(prefix!),
        closedSessionsInRedis: closedIds.filter((id) => keys.has(id)).length,
        otherKeys: [...keys].filter((key) => !closed.has(key)).length,
        persistFailedEvents: failed.length,
        persistGivenUp: stats.persistGivenUp,
        persisted: stats.persisted,
        pendingPersists: stats.pendingPersists,
        retryingPersists: stats.retryingPersists,
      };
    }

    function expected(closed: number) {
      return {
        keysUnderPrefix: closed,
        closedSessionsInRedis: closed,
        otherKeys: 0,
        persistFailedEvents: 0,
        persistGivenUp: 0,
        persisted: closed,
        pendingPersists: 0,
        retryingPersists: 0,
      };
    }

    it('shutdown()', async function () {
      const { manager, ids, failed, stats } = setUp();
      await within('shutdown() to resolve', 45_000, manager.shutdown());
      expect(stats().closed.shutdown).to.equal(SESSIONS);
      expect(await outcome(ids, failed, stats())).to.deep.equal(expected(SESSIONS));
      // Spot check: what Redis holds is each session's own snapshot.
      const sample = [ids[0]!, ids[Math.floor(SESSIONS / 2)]!, ids[SESSIONS - 1]!];
      const snapshots = await readSnapshots<Data>(redis!, sample);
      expect(sample.map((id) => snapshots.get(id)?.data.n)).to.deep.equal([0, Math.floor(SESSIONS / 2), SESSIONS - 1]);
    });

    it("setOption('maxSessions', 1)", async function () {
      const { manager, ids, failed, stats } = setUp();
      manager.setOption('maxSessions', 1);
      // The evictions go in slices (the cap holds again once they are done), not all in one turn.
      expect(manager.size, 'not all evicted in the turn of setOption').to.be.greaterThan(1);
      await waitUntil('the cap holds again', () => manager.size === 1, { timeoutMs: 45_000, everyMs: 20, state: stats });
      const evicted = ids.filter((id) => manager.get(id) === undefined);
      expect(evicted.length).to.equal(SESSIONS - 1);
      await waitUntil(
        'every eviction has closed and its snapshot is no longer pending',
        () => stats().closed.evicted === SESSIONS - 1 && stats().closing === 0 && stats().pendingPersists === 0,
        { timeoutMs: 45_000, everyMs: 50, state: stats },
      );
      expect(await outcome(evicted, failed, stats())).to.deep.equal(expected(SESSIONS - 1));
      expect(manager.size).to.equal(1);
    });
  });

  describe('on a store that refuses every write for good (non-transient AdapterError): each snapshot in persistFailed exactly once, promptly, one attempt each', function () {
    function refusing() {
      let wrapper: RefusingAdapter | undefined;
      const setup = setUp((adapter) => (wrapper = new RefusingAdapter(adapter)));
      return { ...setup, adapter: wrapper! };
    }

    /** Attempts, reports and counters, over the sessions closed so far. */
    async function outcome(
      closedIds: readonly string[],
      adapter: RefusingAdapter,
      failed: readonly Snapshot<Data>[],
      stats: ReturnType<SessionManager<Data>['stats']>,
    ) {
      const reported = new Set(failed.map((snapshot) => snapshot.sessionId));
      return {
        writeAttempts: adapter.writeCalls,
        attemptsPerKey: histogram(adapter.writes.values()),
        attemptedKeysAreTheClosedSessions: closedIds.every((id) => adapter.writes.has(id)) && adapter.writes.size === closedIds.length,
        persistFailedEvents: failed.length,
        persistFailedPerSession: multiplicity(failed.map((snapshot) => snapshot.sessionId)),
        closedSessionsReported: closedIds.filter((id) => reported.has(id)).length,
        persistGivenUp: stats.persistGivenUp,
        persisted: stats.persisted,
        pendingPersists: stats.pendingPersists,
        retryingPersists: stats.retryingPersists,
        keysInRedis: await countRedisKeys(prefix!),
      };
    }

    function expected(closed: number) {
      return {
        writeAttempts: closed,
        attemptsPerKey: { 1: closed },
        attemptedKeysAreTheClosedSessions: true,
        persistFailedEvents: closed,
        persistFailedPerSession: { 1: closed },
        closedSessionsReported: closed,
        persistGivenUp: closed,
        persisted: 0,
        pendingPersists: 0,
        retryingPersists: 0,
        keysInRedis: 0,
      };
    }

    it('shutdown()', async function () {
      const { manager, ids, failed, stats, adapter } = refusing();
      const started = Date.now();
      await within(`shutdown() to resolve within ${PROMPT_MS} ms (shutdownTimeout is ${SHUTDOWN_TIMEOUT})`, PROMPT_MS, manager.shutdown());
      const elapsed = Date.now() - started;
      expect(stats().closed.shutdown).to.equal(SESSIONS);
      expect(await outcome(ids, adapter, failed, stats()), `after ${elapsed} ms`).to.deep.equal(expected(SESSIONS));
    });

    it("setOption('maxSessions', 1), then shutdown() for the last one", async function () {
      const { manager, ids, failed, stats, adapter } = refusing();
      manager.setOption('maxSessions', 1);
      expect(manager.size, 'not all evicted in the turn of setOption').to.be.greaterThan(1);
      await waitUntil('the cap holds again', () => manager.size === 1, { timeoutMs: PROMPT_MS, everyMs: 20, state: stats });
      const evicted = ids.filter((id) => manager.get(id) === undefined);
      expect(evicted.length).to.equal(SESSIONS - 1);
      await waitUntil(
        `every evicted snapshot is in persistFailed, within ${PROMPT_MS} ms`,
        () => failed.length >= SESSIONS - 1 && stats().closing === 0 && stats().pendingPersists === 0,
        { timeoutMs: PROMPT_MS, everyMs: 20, state: () => ({ failed: failed.length, attempts: adapter.writeCalls, ...stats() }) },
      );
      // Nothing is left in the queue, so nothing can be retried later: the counts are final.
      expect(await outcome(evicted, adapter, failed, stats())).to.deep.equal(expected(SESSIONS - 1));

      await within(`shutdown() to resolve within ${PROMPT_MS} ms`, PROMPT_MS, manager.shutdown());
      expect(await outcome(ids, adapter, failed, stats())).to.deep.equal(expected(SESSIONS));
    });
  });
});
