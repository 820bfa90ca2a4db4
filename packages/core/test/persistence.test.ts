import { expect } from 'chai';
import { encodePointer, encodeSnapshot } from '../src/codec.js';
import { CodecError, PersistError, RestoreError, SessionClosedError } from '../src/errors.js';
import { FIRST_RETRY_DELAY, MAX_RETRY_DELAY } from '../src/persist-queue.js';
import type { CloseReason, Snapshot } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { makeManager } from './support/manager.js';
import type { TestAdapter } from './support/test-adapter.js';

type Data = { user?: string; n?: number; cart?: string[]; blob?: string; late?: number; [key: string]: unknown };

const INVOLUNTARY: CloseReason[] = ['evicted', 'expired', 'shutdown'];
const OTHER_ID = 'ZZZZZZZZZZZZZZZZZZZZZZZZ';

function snapshotOf(adapter: TestAdapter, key: string): Snapshot {
  const record = adapter.record(key);
  if (record?.kind !== 'snapshot') throw new Error(`no snapshot under ${key}`);
  return record.snapshot;
}

describe('persistence and restore', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  describe('snapshots', () => {
    it('a close writes one snapshot under persistKey with every field and the snapshotTtl', async () => {
      const { manager, adapter } = makeManager<Data>({ snapshotTtl: 60_000 });
      const t0 = Date.now();
      const s = manager.create({ user: 'ann', cart: ['a', 'b'] });
      await clock.tickAsync(5_000);
      expect(await manager.close(s.id, 'expired')).to.equal(true);
      expect(await manager.close(s.id, 'expired')).to.equal(false);
      const saves = adapter.callsOf('save');
      expect(saves).to.deep.equal([{ method: 'save', key: s.id, ttlMs: 60_000 }]);
      expect(snapshotOf(adapter, s.id)).to.deep.equal({
        version: 1,
        key: s.id,
        sessionId: s.id,
        data: { user: 'ann', cart: ['a', 'b'] },
        createdAt: t0,
        closedAt: t0 + 5_000,
        reason: 'expired',
      });
      expect(manager.stats()).to.include({ persisted: 1, persistFailures: 0, pendingPersists: 0 });
    });

    it('is restorable until snapshotTtl passes, then gone', async () => {
      const { manager } = makeManager<Data>({ snapshotTtl: 10_000 });
      const a = manager.create({ n: 1 });
      const b = manager.create({ n: 2 });
      await manager.close(a.id, 'expired');
      await manager.close(b.id, 'expired');
      await clock.tickAsync(9_999);
      expect((await manager.resume(a.id))?.data).to.deep.equal({ n: 1 });
      await clock.tickAsync(1);
      expect(await manager.resume(b.id)).to.equal(undefined);
    });

    it('a value the codec cannot write is dropped with a report naming its path; the rest is written', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const s = manager.create({ user: 'ann', fn: () => 1 });
      await manager.close(s.id, 'expired');
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ user: 'ann' });
      expect(events.errors).to.have.length(1);
      expect(events.errors[0]).to.be.instanceOf(CodecError);
      expect((events.errors[0] as CodecError).path).to.equal('data.fn');
    });

    for (const reason of ['evicted', 'expired', 'closed', 'shutdown'] as CloseReason[]) {
      it(`with a custom persistKey, '${reason}' ${reason === 'closed' ? 'leaves no pointer' : 'leaves a pointer under the id'}`, async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, reason);
        const expected = reason === 'closed' ? ['user:ann'] : ['user:ann', s.id];
        expect(adapter.keys()).to.have.members(expected);
        expect(adapter.keys()).to.have.length(expected.length);
        expect(snapshotOf(adapter, 'user:ann').reason).to.equal(reason);
        if (reason !== 'closed') {
          const record = adapter.record(s.id);
          expect(record?.kind).to.equal('pointer');
          expect(record?.kind === 'pointer' && record.pointer).to.deep.include({ key: 'user:ann', sessionId: s.id, reason });
        }
        expect(manager.stats().persisted).to.equal(1);
      });
    }

    it('with the default persistKey no pointer is written, whatever the reason', async () => {
      const { manager, adapter } = makeManager<Data>();
      for (const reason of INVOLUNTARY) {
        const s = manager.create();
        await manager.close(s.id, reason);
        expect(adapter.record(s.id)?.kind).to.equal('snapshot');
      }
      expect(adapter.callsOf('save')).to.have.length(3);
    });
  });

  describe('restore(key)', () => {
    it('restores into a new session with a new id, keeping createdAt and persistKey, and consumes the snapshot', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const t0 = Date.now();
      const s = manager.create({ user: 'ann', n: 3 });
      s.persistKey = 'user:ann';
      await clock.tickAsync(1_000);
      await manager.close(s.id, 'closed');
      const restored = await manager.restore('user:ann');
      expect(restored).to.not.equal(undefined);
      expect(restored!.id).to.not.equal(s.id);
      expect(restored!.state).to.equal('live');
      expect(restored!.data).to.deep.equal({ user: 'ann', n: 3 });
      expect(restored!.createdAt).to.equal(t0);
      expect(restored!.persistKey).to.equal('user:ann');
      expect(restored!.isNew).to.equal(false);
      expect(manager.get(restored!.id)).to.equal(restored);
      expect(adapter.keys()).to.deep.equal([]);
      expect(await manager.restore('user:ann')).to.equal(undefined);
      expect(manager.stats()).to.include({ restored: 1, created: 1, live: 1 });
      expect(events.restores).to.have.length(1);
    });

    it('a restored session with the default key gets the new id as persistKey', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ n: 1 });
      await manager.close(s.id, 'closed');
      const restored = await manager.restore(s.id);
      expect(restored!.persistKey).to.equal(restored!.id);
      expect(restored!.hasCustomPersistKey).to.equal(false);
    });

    it('is undefined for a missing key and refuses an empty key', async () => {
      const { manager } = makeManager();
      expect(await manager.restore('nothing')).to.equal(undefined);
      let caught: unknown;
      try {
        await manager.restore('');
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(TypeError);
    });

    it('at the cap evicts the least recently active idle session to make room', async () => {
      const { manager } = makeManager<Data>({ maxSessions: 2 });
      const s = manager.create({ n: 1 });
      await manager.close(s.id, 'closed');
      const a = manager.create();
      const b = manager.create();
      const restored = await manager.restore(s.id);
      expect(restored?.state).to.equal('live');
      expect(a.state).to.not.equal('live');
      expect(b.state).to.equal('live');
    });
  });

  describe('liveSession.restore(key)', () => {
    it('merges the snapshot into the current data (snapshot keys win), adopts its persistKey and runs the restore hooks', async () => {
      const hooked: string[] = [];
      const { manager } = makeManager<Data>({ onRestore: (session) => void hooked.push(session.id) });
      const old = manager.create({ user: 'ann', cart: ['x'] });
      old.persistKey = 'user:ann';
      await manager.close(old.id, 'closed');
      const current = manager.create({ n: 1, user: 'anonymous' });
      expect(await current.restore('user:ann')).to.equal(true);
      expect(current.data).to.deep.equal({ n: 1, user: 'ann', cart: ['x'] });
      expect(current.persistKey).to.equal('user:ann');
      expect(hooked).to.deep.equal([current.id]);
      expect(await current.restore('user:ann')).to.equal(false);
      expect(manager.stats().restored).to.equal(1);
    });
  });

  describe('resume(id): returning cookies', () => {
    for (const reason of INVOLUNTARY) {
      it(`restores a session closed with '${reason}' into a new id`, async () => {
        const { manager } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, reason);
        const restored = await manager.resume(s.id);
        expect(restored?.state).to.equal('live');
        expect(restored!.id).to.not.equal(s.id);
        expect(restored!.data).to.deep.equal({ user: 'ann' });
        expect(restored!.createdAt).to.equal(s.createdAt);
      });
    }

    it('returns the live session itself when the id is live, without restoring', async () => {
      const { manager } = makeManager();
      const s = manager.create();
      expect(await manager.resume(s.id)).to.equal(s);
      expect(manager.stats().restored).to.equal(0);
    });

    it('is undefined for a malformed id without asking the adapter', async () => {
      const { manager, adapter } = makeManager();
      expect(await manager.resume('user:42')).to.equal(undefined);
      expect(await manager.resume('')).to.equal(undefined);
      expect(adapter.calls).to.deep.equal([]);
    });

    it("never restores an explicit close ('closed'); that snapshot stays available to restore(key)", async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'closed');
      expect(await manager.resume(s.id)).to.equal(undefined);
      expect(await manager.resume(s.id)).to.equal(undefined);
      expect(adapter.record(s.id)?.kind).to.equal('snapshot');
      const restored = await manager.restore(s.id);
      expect(restored?.data).to.deep.equal({ user: 'ann' });
    });

    it("never restores an explicit close with a custom key; restore(key) still can", async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'closed');
      expect(await manager.resume(s.id)).to.equal(undefined);
      expect((await manager.restore('user:ann'))?.data).to.deep.equal({ user: 'ann' });
    });

    it('follows the pointer of an involuntary close with a custom key, consuming both', async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'evicted');
      const restored = await manager.resume(s.id);
      expect(restored?.data).to.deep.equal({ user: 'ann' });
      expect(restored!.persistKey).to.equal('user:ann');
      expect(adapter.keys()).to.deep.equal([]);
    });

    it('a snapshot taken through a pointer is not lost when the pointer cannot be deleted', async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'evicted');
      adapter.failDeletes = true;
      const restored = await manager.resume(s.id);
      expect(restored?.state).to.equal('live');
      expect(restored!.data).to.deep.equal({ user: 'ann' });
      // The pointer left behind leads nowhere: its snapshot is taken.
      manager.confirmResume(s.id);
      expect(await manager.resume(s.id)).to.equal(undefined);
    });

    it('after restore(key) consumed the snapshot, the pointer leads nowhere', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'expired');
      expect(await manager.restore('user:ann')).to.not.equal(undefined);
      expect(await manager.resume(s.id)).to.equal(undefined);
    });

    it('a pointer is not followed when the snapshot now names another session', async () => {
      const { manager, adapter } = makeManager<Data>();
      const first = manager.create({ user: 'ann', n: 1 });
      first.persistKey = 'user:ann';
      await manager.close(first.id, 'expired');
      const second = manager.create({ user: 'ann', n: 2 });
      second.persistKey = 'user:ann';
      await manager.close(second.id, 'expired');
      expect(await manager.resume(first.id)).to.equal(undefined);
      expect(snapshotOf(adapter, 'user:ann').sessionId).to.equal(second.id);
      expect((await manager.resume(second.id))?.data).to.deep.equal({ user: 'ann', n: 2 });
    });

    it("a pointer is not followed when the snapshot it leads to was written by an explicit close", async () => {
      const { manager, adapter } = makeManager<Data>();
      const first = manager.create({ user: 'ann', n: 1 });
      first.persistKey = 'user:ann';
      await manager.close(first.id, 'expired');
      const second = manager.create({ user: 'ann', n: 2 });
      second.persistKey = 'user:ann';
      await manager.close(second.id, 'closed');
      expect(await manager.resume(first.id)).to.equal(undefined);
      expect(snapshotOf(adapter, 'user:ann').reason).to.equal('closed');
      expect((await manager.restore('user:ann'))?.data).to.deep.equal({ user: 'ann', n: 2 });
    });

    it('a pointer that does not name the id it is stored under is not followed', async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'expired');
      // A pointer planted under OTHER_ID, leading to s's snapshot.
      adapter.put(OTHER_ID, encodePointer({ version: 1, key: 'user:ann', sessionId: s.id, reason: 'expired', closedAt: Date.now() }));
      expect(await manager.resume(OTHER_ID)).to.equal(undefined);
      expect(snapshotOf(adapter, 'user:ann').sessionId).to.equal(s.id);
    });

    it("a pointer whose own reason is 'closed' is not followed", async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'expired');
      adapter.put(s.id, encodePointer({ version: 1, key: 'user:ann', sessionId: s.id, reason: 'closed', closedAt: Date.now() }));
      expect(await manager.resume(s.id)).to.equal(undefined);
    });

    it('a snapshot stored under an id that names another session is not restored from that cookie', async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const text = adapter.entries.get(s.id)!.value;
      adapter.put(OTHER_ID, text);
      expect(await manager.resume(OTHER_ID)).to.equal(undefined);
      expect(adapter.record(OTHER_ID)?.kind).to.equal('snapshot');
    });

    it('waits for a close in progress, then restores an involuntary close', async () => {
      const gate = deferred();
      const { manager } = makeManager<Data>({ onClose: () => gate.promise });
      const s = manager.create({ user: 'ann' });
      const closing = manager.close(s.id, 'evicted');
      let resumed: unknown = 'pending';
      const resuming = manager.resume(s.id).then((session) => {
        resumed = session;
        return session;
      });
      await flushMicrotasks();
      expect(resumed).to.equal('pending');
      gate.resolve();
      await closing;
      const restored = await resuming;
      expect(restored?.state).to.equal('live');
      expect(restored!.data).to.deep.equal({ user: 'ann' });
    });

    it('waits for an explicit close in progress, then gets nothing', async () => {
      const gate = deferred();
      const { manager, adapter } = makeManager<Data>({ onClose: () => gate.promise });
      const s = manager.create({ user: 'ann' });
      void manager.close(s.id, 'closed');
      const resuming = manager.resume(s.id);
      await flushMicrotasks();
      gate.resolve();
      expect(await resuming).to.equal(undefined);
      expect(adapter.record(s.id)?.kind).to.equal('snapshot');
    });

    it('concurrent calls share one restore and all get the same new id', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const results = await Promise.all([manager.resume(s.id), manager.resume(s.id), manager.resume(s.id)]);
      expect(results[0]).to.not.equal(undefined);
      expect(results[1]).to.equal(results[0]);
      expect(results[2]).to.equal(results[0]);
      expect(adapter.callsOf('take')).to.have.length(1);
      expect(events.restores).to.have.length(1);
      expect(manager.size).to.equal(1);
    });

    it('concurrent calls during a close in progress share one restore', async () => {
      const gate = deferred();
      const { manager } = makeManager<Data>({ onClose: () => gate.promise });
      const s = manager.create({ user: 'ann' });
      void manager.close(s.id, 'expired');
      const pending = [manager.resume(s.id), manager.resume(s.id)];
      gate.resolve();
      const [a, b] = await Promise.all(pending);
      expect(a).to.not.equal(undefined);
      expect(b).to.equal(a);
      expect(manager.stats().restored).to.equal(1);
    });

    it('the restored session is not evicted before its caller takes it, even over the cap', async () => {
      const { manager, events } = makeManager<Data>({ maxSessions: 1, idleTimeout: 10_000 });
      const busy = manager.acquire(manager.create({ n: 0 }).id)!;
      const s = manager.create({ n: 1 }); // admitted over the cap: busy is busy
      await manager.close(s.id, 'expired');
      const restored = await manager.resume(s.id);
      expect(restored?.state, 'restored session').to.equal('live');
      const other = manager.create({ n: 2 }); // no idle victim: the restored one is not yet taken
      expect(restored!.state).to.equal('live');
      expect(manager.stats().overCap).to.equal(2);
      // Its request takes it and ends: from then on it is an ordinary idle session.
      manager.acquire(restored!.id);
      manager.release(restored!);
      expect(other.state).to.equal('closing');
      expect(restored!.state).to.equal('closing');
      expect(busy.state).to.equal('live');
      await flushMicrotasks();
      expect(events.closes.map((c) => c.reason)).to.deep.equal(['expired', 'evicted', 'evicted']);
    });

    it('a restored session nobody takes still expires', async () => {
      const { manager } = makeManager<Data>({ maxSessions: 1, idleTimeout: 1_000 });
      const s = manager.create({ n: 1 });
      await manager.close(s.id, 'evicted');
      const restored = await manager.resume(s.id);
      await clock.tickAsync(1_000);
      expect(restored!.state).to.equal('closed');
      expect(restored!.closeReason).to.equal('expired');
    });

    it('keeps leading the old id to the restored session until confirmResume()', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const restored = await manager.resume(s.id);
      expect(await manager.resume(s.id)).to.equal(restored);
      manager.confirmResume(s.id);
      expect(await manager.resume(s.id)).to.equal(undefined);
      expect(manager.get(restored!.id)).to.equal(restored);
    });

    it('regenerate() of the restored session cuts the old cookie off at once', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const restored = await manager.resume(s.id);
      restored!.regenerate();
      expect(await manager.resume(s.id)).to.equal(undefined);
      expect(manager.get(restored!.id)).to.equal(restored);
    });

    it('the restored session closing also ends the route from the old id', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const restored = await manager.resume(s.id);
      await restored!.close();
      expect(await manager.resume(s.id)).to.equal(undefined);
    });

    it('does not restore once the absolute timeout (counted from the first creation) has passed', async () => {
      const { manager } = makeManager<Data>({ idleTimeout: 1_000, absoluteTimeout: 10_000 });
      const t0 = Date.now();
      const a = manager.create({ n: 1 });
      const b = manager.create({ n: 2 });
      await clock.tickAsync(1_000);
      expect([a.state, b.state]).to.deep.equal(['closed', 'closed']);
      await clock.tickAsync(4_000);
      const restored = await manager.resume(a.id);
      expect(restored?.data).to.deep.equal({ n: 1 });
      expect(restored!.createdAt).to.equal(t0);
      expect(manager.getExpiration(restored!.id)).to.equal(t0 + 6_000);
      await clock.tickAsync(t0 + 10_000 - Date.now());
      expect(await manager.resume(b.id)).to.equal(undefined);
    });

    it('a restored session still expires at its first creation + absoluteTimeout', async () => {
      const { manager } = makeManager<Data>({ idleTimeout: 3_000, absoluteTimeout: 5_000 });
      const t0 = Date.now();
      const s = manager.create({ n: 1 });
      await manager.close(s.id, 'evicted');
      await clock.tickAsync(4_000);
      const restored = await manager.resume(s.id);
      expect(manager.getExpiration(restored!.id)).to.equal(t0 + 5_000);
      await clock.tickAsync(1_000);
      expect(restored!.state).to.equal('closed');
      expect(restored!.closeReason).to.equal('expired');
    });

    it('a corrupt snapshot is reported (RestoreError) and skipped', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      adapter.put(OTHER_ID, 'garbage');
      expect(await manager.resume(OTHER_ID)).to.equal(undefined);
      expect(events.errors).to.have.length(1);
      expect(events.errors[0]).to.be.instanceOf(RestoreError);
      expect(events.errors[0]!.code).to.equal('ERR_REPRISE_RESTORE');
      expect((events.errors[0] as RestoreError).key).to.equal(OTHER_ID);
      expect((events.errors[0]!.cause as CodecError).code).to.equal('ERR_REPRISE_SNAPSHOT_CORRUPT');
      expect(manager.stats().restoreFailures).to.equal(1);
      expect(manager.size).to.equal(0);
    });

    it('a snapshot carrying a __proto__ key is refused whole and reported', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const now = Date.now();
      const { text } = encodeSnapshot(
        { version: 1, key: OTHER_ID, sessionId: OTHER_ID, data: { a: { zzzzzzzzz: 1 } }, createdAt: now, closedAt: now, reason: 'expired' },
        Infinity,
      );
      adapter.put(OTHER_ID, text.replace('"zzzzzzzzz"', '"__proto__"'));
      expect(await manager.resume(OTHER_ID)).to.equal(undefined);
      expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_RESTORE']);
      expect(({} as Record<string, unknown>)['a']).to.equal(undefined);
      expect(manager.stats().restored).to.equal(0);
    });

    it('an adapter that fails to read is reported (RestoreError) and resume rejects, the snapshot kept', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const s = manager.create({ n: 1 });
      await manager.close(s.id, 'expired');
      adapter.failReads = true;
      const failure = await manager.resume(s.id).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).to.be.instanceOf(RestoreError).and.to.have.property('code', 'ERR_REPRISE_RESTORE');
      expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_RESTORE']);
      expect(manager.stats().restoreFailures).to.equal(1);
      adapter.failReads = false;
      expect((await manager.resume(s.id))?.data).to.deep.equal({ n: 1 });
    });
  });

  describe('retry queue', () => {
    it('retries failed writes with exponential backoff until the adapter recovers', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      adapter.failSaves = true;
      const attempts: number[] = [];
      const save = adapter.save.bind(adapter);
      adapter.save = (key, value, ttl) => {
        attempts.push(Date.now());
        return save(key, value, ttl);
      };
      const t0 = Date.now();
      const s = manager.create({ user: 'ann' });
      expect(await manager.close(s.id, 'expired')).to.equal(true);
      expect(manager.stats()).to.include({ pendingPersists: 1, persistFailures: 1, persisted: 0 });
      expect(events.errors.map((e) => e.constructor)).to.deep.equal([PersistError]);
      await clock.tickAsync(FIRST_RETRY_DELAY * (1 + 2 + 4 + 8));
      expect(attempts.map((t) => t - t0)).to.deep.equal([0, 100, 300, 700, 1_500]);
      expect(manager.stats()).to.include({ pendingPersists: 1, persistFailures: 5 });
      expect(events.errors, 'only the first failure of a write is reported').to.have.length(1);
      adapter.failSaves = false;
      await clock.tickAsync(1_600);
      expect(attempts.map((t) => t - t0)).to.deep.equal([0, 100, 300, 700, 1_500, 3_100]);
      expect(manager.stats()).to.include({ pendingPersists: 0, persisted: 1 });
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ user: 'ann' });
      await clock.tickAsync(MAX_RETRY_DELAY * 2);
      expect(attempts).to.have.length(6);
    });

    it(`caps the delay between retries at ${MAX_RETRY_DELAY} ms`, async () => {
      const { manager, adapter } = makeManager<Data>();
      adapter.failSaves = true;
      const s = manager.create();
      await manager.close(s.id, 'expired');
      await clock.tickAsync(10 * 60_000);
      const saves = adapter.callsOf('save').length;
      await clock.tickAsync(MAX_RETRY_DELAY);
      expect(adapter.callsOf('save').length).to.equal(saves + 1);
    });

    it('a snapshot still in the retry queue is restored from the queue (and never written)', async () => {
      const { manager, adapter } = makeManager<Data>();
      adapter.failSaves = true;
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      expect(manager.stats().pendingPersists).to.equal(1);
      const restored = await manager.resume(s.id);
      expect(restored?.data).to.deep.equal({ user: 'ann' });
      expect(manager.stats().pendingPersists).to.equal(0);
      adapter.failSaves = false;
      const saves = adapter.callsOf('save').length;
      await clock.tickAsync(60_000);
      expect(adapter.callsOf('save').length).to.equal(saves);
      expect(adapter.keys()).to.deep.equal([]);
    });

    it('a queued snapshot and its queued pointer are both taken by a returning cookie', async () => {
      const { manager, adapter } = makeManager<Data>();
      adapter.failSaves = true;
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'shutdown');
      expect(manager.stats().pendingPersists).to.equal(2);
      const restored = await manager.resume(s.id);
      expect(restored?.data).to.deep.equal({ user: 'ann' });
      expect(manager.stats().pendingPersists).to.equal(0);
      adapter.failSaves = false;
      await clock.tickAsync(60_000);
      expect(adapter.keys()).to.deep.equal([]);
    });

    it('restore(key) takes a queued snapshot too', async () => {
      const { manager, adapter } = makeManager<Data>();
      adapter.failSaves = true;
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'closed');
      expect((await manager.restore('user:ann'))?.data).to.deep.equal({ user: 'ann' });
      expect(manager.stats().pendingPersists).to.equal(0);
    });

    it("a snapshot over maxSnapshotBytes is not written: 'persistFailed' carries it", async () => {
      let hookRan = false;
      const { manager, adapter, events } = makeManager<Data>({ maxSnapshotBytes: 200, onClose: () => void (hookRan = true) });
      const s = manager.create({ blob: 'x'.repeat(500) });
      expect(await manager.close(s.id, 'expired')).to.equal(true);
      expect(hookRan).to.equal(true);
      expect(adapter.callsOf('save')).to.deep.equal([]);
      expect(events.persistFailed).to.have.length(1);
      const { snapshot, error } = events.persistFailed[0]!;
      expect(snapshot).to.deep.include({ key: s.id, sessionId: s.id, reason: 'expired' });
      expect(snapshot.data).to.deep.equal({ blob: 'x'.repeat(500) });
      expect(error.code).to.equal('ERR_REPRISE_SNAPSHOT_TOO_LARGE');
      expect(manager.stats()).to.include({ persistGivenUp: 1, persistFailures: 1, pendingPersists: 0 });
      expect(s.state).to.equal('closed');
    });

    it("without a 'persistFailed' listener a lost snapshot is reported as an error", async () => {
      const { manager, events } = makeManager<Data>({ maxSnapshotBytes: 200 });
      manager.removeAllListeners('persistFailed');
      const s = manager.create({ blob: 'x'.repeat(500) });
      await manager.close(s.id, 'expired');
      expect(events.errors).to.have.length(1);
      expect(events.errors[0]).to.be.instanceOf(PersistError);
      expect(events.errors[0]!.message).to.match(/lost \(no 'persistFailed' listener\)/);
    });

    it("past maxPendingPersists the oldest waiting snapshot is handed to 'persistFailed'", async () => {
      const { manager, adapter, events } = makeManager<Data>({ maxPendingPersists: 2 });
      adapter.failSaves = true;
      const sessions = [1, 2, 3].map((n) => manager.create({ n }));
      for (const s of sessions) await manager.close(s.id, 'expired');
      expect(manager.stats().pendingPersists).to.equal(2);
      expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([sessions[0]!.id]);
      expect(events.persistFailed[0]!.snapshot.data).to.deep.equal({ n: 1 });
      expect(events.persistFailed[0]!.error.code).to.equal('ERR_REPRISE_PERSIST');
      adapter.failSaves = false;
      await clock.tickAsync(1_000);
      expect(adapter.keys()).to.have.members([sessions[1]!.id, sessions[2]!.id]);
      expect(manager.stats()).to.include({ pendingPersists: 0, persisted: 2, persistGivenUp: 1 });
    });

    it('a snapshot waiting longer than snapshotTtl is given up, not written', async () => {
      const { manager, adapter, events } = makeManager<Data>({ snapshotTtl: 1_000 });
      adapter.failSaves = true;
      const s = manager.create({ n: 1 });
      await manager.close(s.id, 'expired');
      await clock.tickAsync(700);
      adapter.failSaves = false;
      await clock.tickAsync(2_000);
      expect(adapter.keys()).to.deep.equal([]);
      expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([s.id]);
      expect(manager.stats().pendingPersists).to.equal(0);
    });
  });

  describe('shutdown', () => {
    it("closes every live session with 'shutdown' through the hooks, writes the snapshots, and does not close the adapter", async () => {
      const reasons: string[] = [];
      const { manager, adapter } = makeManager<Data>({ onClose: (s, reason) => void reasons.push(`${s.data.n}:${reason}`) });
      const sessions = [1, 2, 3].map((n) => manager.create({ n }));
      await manager.shutdown();
      expect(reasons).to.have.members(['1:shutdown', '2:shutdown', '3:shutdown']);
      expect(sessions.map((s) => s.state)).to.deep.equal(['closed', 'closed', 'closed']);
      expect(adapter.keys()).to.have.members(sessions.map((s) => s.id));
      expect(manager.stats().closed.shutdown).to.equal(3);
      expect(manager.size).to.equal(0);
      expect(adapter.closed).to.equal(0);
      expect(adapter.callsOf('close')).to.deep.equal([]);
    });

    it('is idempotent (one shutdown, the same promise)', async () => {
      const { manager } = makeManager<Data>();
      manager.create();
      const first = manager.shutdown();
      expect(manager.shutdown()).to.equal(first);
      await first;
      expect(manager.stats().closed.shutdown).to.equal(1);
    });

    it('waits for requests in flight, closing each session when its request ends', async () => {
      const { manager } = makeManager<Data>({ shutdownTimeout: 10_000 });
      const busy = manager.acquire(manager.create({ n: 1 }).id)!;
      const idle = manager.create({ n: 2 });
      let done = false;
      const stopping = manager.shutdown().then(() => {
        done = true;
      });
      await clock.tickAsync(3_000);
      expect(done).to.equal(false);
      expect(busy.state).to.equal('live');
      busy.data.n = 10; // the request still writes
      manager.release(busy);
      await clock.tickAsync(0);
      await stopping;
      expect(busy.state).to.equal('closed');
      expect(idle.state).to.equal('closed');
      expect(busy.closeReason).to.equal('shutdown');
    });

    it('closes busy sessions anyway once shutdownTimeout passes', async () => {
      const { manager, adapter } = makeManager<Data>({ shutdownTimeout: 5_000 });
      const busy = manager.acquire(manager.create({ n: 1 }).id)!;
      let done = false;
      const stopping = manager.shutdown().then(() => {
        done = true;
      });
      await clock.tickAsync(4_999);
      expect(busy.state).to.equal('live');
      await clock.tickAsync(1);
      await stopping;
      expect(done).to.equal(true);
      expect(busy.state).to.equal('closed');
      expect(snapshotOf(adapter, busy.id).reason).to.equal('shutdown');
      manager.release(busy); // the late request ends: nothing breaks
      expect(manager.stats().busy).to.equal(0);
    });

    it('waits for a restore in flight, then closes the restored session and writes its snapshot', async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      await manager.close(s.id, 'closed');
      const gate = deferred();
      adapter.takeGate = gate.promise;
      const restoring = manager.restore('user:ann');
      await flushMicrotasks();
      let done = false;
      const stopping = manager.shutdown().then(() => {
        done = true;
      });
      await flushMicrotasks();
      expect(done).to.equal(false);
      adapter.takeGate = undefined;
      gate.resolve();
      await stopping;
      const restored = await restoring;
      expect(restored).to.not.equal(undefined);
      expect(restored!.state).to.equal('closed');
      expect(restored!.closeReason).to.equal('shutdown');
      const snapshot = snapshotOf(adapter, 'user:ann');
      expect(snapshot).to.deep.include({ sessionId: restored!.id, reason: 'shutdown' });
      expect(snapshot.data).to.deep.equal({ user: 'ann' });
      expect(manager.stats()).to.include({ live: 0, closing: 0, pendingPersists: 0 });
    });

    it('flushes the retry queue: waits for the adapter to recover within shutdownTimeout', async () => {
      const { manager, adapter, events } = makeManager<Data>({ shutdownTimeout: 10_000 });
      adapter.failSaves = true;
      const s = manager.create({ n: 1 });
      let done = false;
      const stopping = manager.shutdown().then(() => {
        done = true;
      });
      await clock.tickAsync(2_000);
      expect(done).to.equal(false);
      expect(manager.stats().pendingPersists).to.equal(1);
      adapter.failSaves = false;
      await clock.tickAsync(1_000);
      await stopping;
      expect(done).to.equal(true);
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
      expect(events.persistFailed).to.deep.equal([]);
    });

    it("hands what is still not written at the deadline to 'persistFailed'", async () => {
      const { manager, adapter, events } = makeManager<Data>({ shutdownTimeout: 3_000 });
      adapter.failSaves = true;
      const s = manager.create({ n: 1 });
      const stopping = manager.shutdown();
      await clock.tickAsync(3_000);
      await stopping;
      expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([s.id]);
      expect(manager.stats().pendingPersists).to.equal(0);
      expect(clock.countTimers()).to.equal(0);
    });
  });

  describe('writes after close', () => {
    it('are ignored and reported (SessionClosedError, stats().writesAfterClose)', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const s = manager.create({ n: 1 });
      const data = s.data;
      await s.close();
      data.n = 2;
      s.data.late = 3;
      delete data.n;
      s.data = { n: 4 };
      expect(s.data).to.deep.equal({ n: 1 });
      expect(events.errors).to.have.length(4);
      expect(events.errors.every((e) => e instanceof SessionClosedError)).to.equal(true);
      expect((events.errors[0] as SessionClosedError).sessionId).to.equal(s.id);
      expect(manager.stats().writesAfterClose).to.equal(4);
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
    });

    it('writes after the closing hooks (while the snapshot is being written) are reported too', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const gate = deferred();
      adapter.saveGate = gate.promise;
      const s = manager.create({ n: 1 });
      const closing = s.close();
      await flushMicrotasks();
      expect(s.state).to.equal('closing');
      expect(adapter.callsOf('save')).to.have.length(1);
      s.data.late = 2;
      gate.resolve();
      await closing;
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
      expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_SESSION_CLOSED']);
      expect(manager.stats().writesAfterClose).to.equal(1);
    });

    it('writes during the closing hooks are kept (hooks may change data)', async () => {
      const gate = deferred();
      const { manager, adapter, events } = makeManager<Data>({ onClose: () => gate.promise });
      const s = manager.create({ n: 1 });
      const closing = s.close();
      await flushMicrotasks();
      s.data.late = 2;
      gate.resolve();
      await closing;
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1, late: 2 });
      expect(events.errors).to.deep.equal([]);
    });
  });
});

