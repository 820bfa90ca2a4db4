import { expect } from 'chai';
import { encodeSnapshot } from '../src/codec.js';
import { AdapterError, CodecError, PersistError, SessionClosedError, SessionUnavailableError } from '../src/errors.js';
import { FIRST_RETRY_DELAY, MAX_RETRY_DELAY } from '../src/persist-queue.js';
import { redactId } from '../src/redact.js';
import type { CloseReason, Snapshot } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { ADAPTER_KINDS, resumeAndRelease } from './support/manager.js';
import type { TestAdapter } from './support/test-adapter.js';

type Data = { user?: string; n?: number; cart?: string[]; blob?: string; late?: number; [key: string]: unknown };

const INVOLUNTARY: CloseReason[] = ['evicted', 'expired', 'shutdown'];

function snapshotOf(adapter: TestAdapter, key: string): Snapshot {
  const record = adapter.record(key);
  if (record?.kind !== 'snapshot') throw new Error(`no snapshot under ${key}`);
  return record.snapshot;
}

/** Replaces Math.random while `run` runs (retry jitter is `delay × (0.5 + random / 2)`). */
async function withRandom<T>(random: () => number, run: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = random;
  try {
    return await run();
  } finally {
    Math.random = original;
  }
}

/** The times (ms after `t0`) of every save attempt from now on. */
function saveTimes(adapter: TestAdapter, t0: number): number[] {
  const times: number[] = [];
  const push = adapter.calls.push.bind(adapter.calls);
  adapter.calls.push = (...calls) => {
    for (const call of calls) if (call.method === 'save') times.push(Date.now() - t0);
    return push(...calls);
  };
  return times;
}

for (const kind of ADAPTER_KINDS) {
  const makeManager = kind.make;

  describe(`persistence and restore (${kind.name})`, () => {
    let clock: Clock;
    beforeEach(() => {
      clock = installClock();
    });
    afterEach(() => {
      clock.uninstall();
    });

    describe('snapshots', () => {
      it('an involuntary close writes one snapshot under persistKey with every field and the snapshotTtl', async () => {
        const { manager, adapter } = makeManager<Data>({ snapshotTtl: 60_000 });
        const t0 = Date.now();
        const s = manager.create({ user: 'ann', cart: ['a', 'b'] });
        await clock.tickAsync(5_000);
        expect(await manager.close(s.id, 'expired')).to.equal(true);
        expect(await manager.close(s.id, 'expired')).to.equal(false);
        const saves = adapter.callsOf('save').map(({ method, key, ttlMs }) => ({ method, key, ttlMs }));
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
        expect(manager.stats()).to.include({ persisted: 1, persistFailures: 0, pendingPersists: 0, retryingPersists: 0, superseded: 0 });
      });

      it('is restorable until snapshotTtl passes, then gone', async () => {
        const { manager } = makeManager<Data>({ snapshotTtl: 10_000 });
        const a = manager.create({ n: 1 });
        const b = manager.create({ n: 2 });
        await manager.close(a.id, 'expired');
        await manager.close(b.id, 'expired');
        await clock.tickAsync(9_999);
        const found = await resumeAndRelease(manager, a.id);
        expect(found.kind).to.equal('restored');
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ n: 1 });
        await clock.tickAsync(1);
        expect(await resumeAndRelease(manager, b.id)).to.deep.equal({ kind: 'none' });
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
        it(`with a custom persistKey, '${reason}' ${reason === 'closed' ? 'writes the snapshot and leaves no pointer' : 'leaves a pointer under the id'}`, async () => {
          const { manager, adapter } = makeManager<Data>();
          const s = manager.create({ user: 'ann' });
          s.persistKey = 'user:ann';
          await manager.close(s.id, reason);
          const expected = reason === 'closed' ? ['user:ann'] : ['user:ann', s.id];
          expect(adapter.keys()).to.have.members(expected);
          expect(adapter.keys()).to.have.length(expected.length);
          expect(snapshotOf(adapter, 'user:ann')).to.deep.include({ key: 'user:ann', sessionId: s.id, reason });
          expect(snapshotOf(adapter, 'user:ann').data).to.deep.equal({ user: 'ann' });
          if (reason !== 'closed') {
            const record = adapter.record(s.id);
            expect(record?.kind).to.equal('pointer');
            expect(record?.kind === 'pointer' && record.pointer).to.deep.include({ key: 'user:ann', sessionId: s.id, reason });
          }
          expect(manager.stats().persisted).to.equal(1);
        });
      }

      it('with the default persistKey no pointer is written, whatever the involuntary reason', async () => {
        const { manager, adapter } = makeManager<Data>();
        for (const reason of INVOLUNTARY) {
          const s = manager.create();
          await manager.close(s.id, reason);
          expect(adapter.record(s.id)?.kind).to.equal('snapshot');
        }
        expect(adapter.callsOf('save')).to.have.length(3);
      });
    });

    describe('explicit close', () => {
      it('with the default persistKey writes nothing (nothing could ever reach it), though the hooks run with the data', async () => {
        const seen: unknown[] = [];
        const { manager, adapter, events } = makeManager<Data>({ onClose: (s, reason) => void seen.push([reason, { ...s.data }]) });
        const a = manager.create({ user: 'ann', cart: ['x'] });
        const b = manager.create({ user: 'bob' });
        expect(await manager.close(a.id)).to.equal(true);
        expect(await b.close()).to.equal(true);
        expect(seen).to.deep.equal([
          ['closed', { user: 'ann', cart: ['x'] }],
          ['closed', { user: 'bob' }],
        ]);
        expect(adapter.calls.filter((call) => call.method !== 'load')).to.deep.equal([]);
        expect(adapter.keys()).to.deep.equal([]);
        expect(manager.stats()).to.include({ persisted: 0, pendingPersists: 0, persistGivenUp: 0 });
        expect(manager.stats().closed.closed).to.equal(2);
        expect(events.persistFailed).to.deep.equal([]);
        expect(events.errors).to.deep.equal([]);
        expect(await manager.restore(a.id)).to.equal(undefined);
      });

      it('with a persistKey of its own writes the snapshot, which restore(key) brings back', async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann', cart: ['x'] });
        s.persistKey = 'user:ann';
        await manager.close(s.id);
        expect(adapter.keys()).to.deep.equal(['user:ann']);
        expect(snapshotOf(adapter, 'user:ann')).to.deep.include({ reason: 'closed', sessionId: s.id });
        const current = manager.create({ n: 1 });
        expect(await current.restore('user:ann')).to.equal(true);
        expect(current.data).to.deep.equal({ n: 1, user: 'ann', cart: ['x'] });
      });

      it('a closing hook that sets a persistKey makes the explicit close write; one that clears persist does not', async () => {
        const { manager, adapter } = makeManager<Data>({
          onClose: (s) => {
            if (s.data.user === 'ann') s.persistKey = 'user:ann';
            else if (s.data.user === 'bob') {
              s.persistKey = 'user:bob';
              s.persist = false;
            }
          },
        });
        const ann = manager.create({ user: 'ann' });
        const bob = manager.create({ user: 'bob' });
        await manager.close(ann.id);
        await manager.close(bob.id);
        expect(adapter.keys()).to.deep.equal(['user:ann']);
      });
    });

    describe('restore(key)', () => {
      it('revives the snapshot under its own session id, keeping createdAt and persistKey, and consumes it', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        const t0 = Date.now();
        const s = manager.create({ user: 'ann', n: 3 });
        s.persistKey = 'user:ann';
        await clock.tickAsync(1_000);
        await manager.close(s.id, 'evicted');
        const restored = await manager.restore('user:ann');
        expect(restored).to.not.equal(undefined);
        expect(restored).to.not.equal(s);
        expect(restored!.id).to.equal(s.id);
        expect(restored!.state).to.equal('live');
        expect(restored!.busy, 'released: nobody holds it').to.equal(false);
        expect(restored!.data).to.deep.equal({ user: 'ann', n: 3 });
        expect(restored!.createdAt).to.equal(t0);
        expect(restored!.persistKey).to.equal('user:ann');
        expect(restored!.isNew).to.equal(false);
        expect(manager.get(s.id)).to.equal(restored);
        expect(adapter.record('user:ann')).to.equal(undefined);
        expect(await manager.restore('user:ann')).to.equal(undefined);
        expect(manager.stats()).to.include({ restored: 1, created: 1, live: 1 });
        expect(events.restores).to.have.length(1);
        // Its cookie leads to it: it is live under that id.
        const found = await resumeAndRelease(manager, s.id);
        expect(found.kind === 'live' && found.session).to.equal(restored);
      });

      it('a snapshot with the default key restores with persistKey = id (not a custom key)', async () => {
        const { manager } = makeManager<Data>();
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'expired');
        const restored = await manager.restore(s.id);
        expect(restored!.id).to.equal(s.id);
        expect(restored!.persistKey).to.equal(s.id);
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

      it("is undefined while a session with the snapshot's id is live, and leaves the snapshot in place", async () => {
        const { manager, adapter } = makeManager<Data>();
        const live = manager.create({ n: 1 });
        const now = Date.now();
        const { text } = encodeSnapshot(
          { version: 1, key: 'user:b', sessionId: live.id, data: { n: 2 }, createdAt: now, closedAt: now, reason: 'evicted' },
          Infinity,
        );
        adapter.put('user:b', text);
        expect(await manager.restore('user:b')).to.equal(undefined);
        expect(manager.get(live.id)).to.equal(live);
        expect(live.data).to.deep.equal({ n: 1 });
        expect(snapshotOf(adapter, 'user:b').data).to.deep.equal({ n: 2 });
      });

      it('at the cap evicts the least recently active idle session to make room', async () => {
        const { manager } = makeManager<Data>({ maxSessions: 2 });
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'expired');
        const a = manager.create();
        const b = manager.create();
        const restored = await manager.restore(s.id);
        expect(restored?.state).to.equal('live');
        expect(a.state).to.not.equal('live');
        expect(b.state).to.equal('live');
      });

      it('at the cap with every other session busy returns a live session (admitted over the cap, like create())', async () => {
        const { manager } = makeManager<Data>({ maxSessions: 1 });
        const s = manager.create({ n: 1 });
        s.persistKey = 'user:s';
        await manager.close(s.id, 'evicted');
        const busy = manager.acquire(manager.create({ n: 0 }).id)!;
        const restored = await manager.restore('user:s');
        expect(restored?.state, 'the session restore(key) returns').to.equal('live');
        expect(busy.state).to.equal('live');
        manager.release(busy);
      });

      it('a snapshot of an explicit close revived by restore(key) is not reachable from the logged-out id', async () => {
        // DESIGN: "a replayed old cookie never revives a session that the application closed".
        const { manager } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        const loggedOut = s.id;
        await manager.close(loggedOut);
        const restored = await manager.restore('user:ann');
        expect(restored?.data).to.deep.equal({ user: 'ann' });
        expect(restored?.id, 'a new id').to.not.equal(loggedOut);
        expect(restored?.persistKey).to.equal('user:ann');
        const replay = await resumeAndRelease(manager, loggedOut);
        expect(
          replay.kind === 'live' || replay.kind === 'restored' ? replay.session : undefined,
          'the logged-out cookie reaches nothing',
        ).to.equal(undefined);
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

      it("consumes an evicted session's snapshot and its pointer: that session's cookie then finds nothing", async () => {
        const { manager, adapter } = makeManager<Data>();
        const old = manager.create({ user: 'ann', cart: ['x'] });
        old.persistKey = 'user:ann';
        await manager.close(old.id, 'evicted');
        const current = manager.create({ n: 1 });
        expect(await current.restore('user:ann')).to.equal(true);
        await flushMicrotasks();
        expect(adapter.record('user:ann')).to.equal(undefined);
        expect(await resumeAndRelease(manager, old.id)).to.deep.equal({ kind: 'none' });
        expect(manager.stats().restored).to.equal(1);
      });
      it('merges at once: a session closed while the pointer it came through is removed still carries the merged data', async () => {
        // BUG (found by the exactly-once property): the pointer was removed before the merge; a close
        // meanwhile left the snapshot merged into a closed session (writes after close, context lost).
        const { manager, adapter, events } = makeManager<Data>();
        const old = manager.create({ user: 'ann', cart: ['x'] });
        old.persistKey = 'user:ann';
        await manager.close(old.id, 'evicted'); // the snapshot under user:ann, a pointer under old.id
        const current = manager.create({ n: 1 });
        const pointerRemoved = deferred();
        adapter.takeGates.push(Promise.resolve(), pointerRemoved.promise); // the snapshot's take, then the pointer's
        const merging = current.restore(old.id);
        await flushMicrotasks(50);
        const closing = current.close(); // a logout while the pointer is being removed
        pointerRemoved.resolve();
        expect(await merging).to.equal(true);
        await closing;
        await flushMicrotasks(50);
        expect(
          events.errors.filter((e) => e instanceof SessionClosedError),
          'no write after close',
        ).to.deep.equal([]);
        expect(snapshotOf(adapter, 'user:ann').data, 'the logout wrote the merged context under its key').to.deep.equal({
          n: 1,
          user: 'ann',
          cart: ['x'],
        });
      });
    });

    describe('shared persistKey (one user on several devices)', () => {
      /** Two sessions of one user, both with persistKey 'user:ann', both closed involuntarily (one after the other). */
      async function twoDevicesEvicted(reasons: [CloseReason, CloseReason] = ['evicted', 'evicted']) {
        const harness = makeManager<Data>();
        const { manager } = harness;
        const laptop = manager.create({ user: 'ann', cart: ['laptop'] });
        laptop.persistKey = 'user:ann';
        const phone = manager.create({ user: 'ann', cart: ['phone'] });
        phone.persistKey = 'user:ann';
        await manager.close(laptop.id, reasons[0]);
        await manager.close(phone.id, reasons[1]);
        return { ...harness, laptop, phone };
      }

      it('both closed involuntarily: each cookie restores its own data under its own id', async () => {
        const { manager, adapter, laptop, phone } = await twoDevicesEvicted();
        expect(snapshotOf(adapter, 'user:ann').sessionId, 'the key holds the newest').to.equal(phone.id);
        expect(snapshotOf(adapter, laptop.id).sessionId, "the older one moved under its session's id").to.equal(laptop.id);
        const l = await resumeAndRelease(manager, laptop.id);
        const p = await resumeAndRelease(manager, phone.id);
        expect(l.kind === 'restored' && [l.session.id, l.session.data, l.session.persistKey]).to.deep.equal([
          laptop.id,
          { user: 'ann', cart: ['laptop'] },
          'user:ann',
        ]);
        expect(p.kind === 'restored' && [p.session.id, p.session.data, p.session.persistKey]).to.deep.equal([
          phone.id,
          { user: 'ann', cart: ['phone'] },
          'user:ann',
        ]);
        expect(manager.stats()).to.include({ restored: 2, persistGivenUp: 0 });
      });

      it('restore(key) gets the newest, and the other cookie still restores its own', async () => {
        const { manager, laptop, phone } = await twoDevicesEvicted();
        const newest = await manager.restore('user:ann');
        expect(newest?.id).to.equal(phone.id);
        expect(newest?.data).to.deep.equal({ user: 'ann', cart: ['phone'] });
        const l = await resumeAndRelease(manager, laptop.id);
        expect(l.kind === 'restored' && l.session.data).to.deep.equal({ user: 'ann', cart: ['laptop'] });
      });

      it("an explicit close on the shared key (logout on one device) does not destroy the other device's context", async () => {
        const { manager, adapter, laptop, phone } = await twoDevicesEvicted(['evicted', 'closed']);
        expect(snapshotOf(adapter, 'user:ann')).to.deep.include({ sessionId: phone.id, reason: 'closed' });
        const l = await resumeAndRelease(manager, laptop.id);
        expect(l.kind === 'restored' && l.session.data).to.deep.equal({ user: 'ann', cart: ['laptop'] });
        expect(await resumeAndRelease(manager, phone.id)).to.deep.equal({ kind: 'none' });
        expect((await manager.restore('user:ann'))?.data).to.deep.equal({ user: 'ann', cart: ['phone'] });
      });

      it('a cookie returning while a close moves its snapshot home (shared key) still restores it', async () => {
        // BUG (reported): the displacement takes the snapshot from the shared key, then writes it under
        // the session's id; a returning cookie in between follows its pointer to an empty key and gets
        // 'none' (a write then gets a fresh session and a new cookie: the context is orphaned).
        const { manager, adapter } = makeManager<Data>();
        const laptop = manager.create({ user: 'ann', cart: ['laptop'] });
        laptop.persistKey = 'user:ann';
        await manager.close(laptop.id, 'evicted');
        const phone = manager.create({ user: 'ann', cart: ['phone'] });
        phone.persistKey = 'user:ann';
        const gate = deferred();
        adapter.takeGate = gate.promise;
        const closing = manager.close(phone.id, 'evicted');
        await flushMicrotasks(50);
        const returning = manager.resume(laptop.id);
        await flushMicrotasks(50);
        adapter.takeGate = undefined;
        gate.resolve();
        const found = await returning;
        await closing;
        if (found.kind === 'live' || found.kind === 'restored') manager.release(found.session);
        expect(found.kind).to.equal('restored');
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ user: 'ann', cart: ['laptop'] });
      });

      it("a store that cannot be read while a close writes the shared key does not destroy the other device's context", async () => {
        // BUG (reported): the displacement treats a failed read of the shared key as "nothing there"
        // (and a failed take as "nothing to move"), then overwrites the key: the other session's only
        // copy is gone, silently.
        const { manager, adapter, events } = makeManager<Data>();
        const laptop = manager.create({ user: 'ann', cart: ['laptop'] });
        laptop.persistKey = 'user:ann';
        await manager.close(laptop.id, 'evicted');
        const phone = manager.create({ user: 'ann', cart: ['phone'] });
        phone.persistKey = 'user:ann';
        adapter.failReads = true;
        await manager.close(phone.id, 'evicted');
        adapter.failReads = false;
        await clock.tickAsync(60_000);
        const l = await resumeAndRelease(manager, laptop.id);
        const lost = l.kind !== 'restored' && !events.persistFailed.some((f) => f.snapshot.sessionId === laptop.id);
        expect(lost, "the laptop's context is restorable, or at least handed to 'persistFailed'").to.equal(false);
        const p = await resumeAndRelease(manager, phone.id);
        expect(p.kind === 'restored' && p.session.data).to.deep.equal({ user: 'ann', cart: ['phone'] });
      });

      it('a snapshot moved home, taken by a restore that cannot use it, is put back where it was taken (its cookie still finds it)', async () => {
        // BUG (reported): the put-back goes to the snapshot's persistKey (the shared key), not to the
        // key it was taken from (its session id): there an ordered store refuses it (the key's floor
        // is newer) and it is lost; an unordered one files it where the cookie no longer looks.
        const { manager, adapter, laptop, phone } = await twoDevicesEvicted();
        const p = await resumeAndRelease(manager, phone.id); // consumes the shared key
        expect(p.kind).to.equal('restored');
        const current = manager.create({ n: 1 });
        const gate = deferred();
        adapter.takeGate = gate.promise;
        const restoring = current.restore(laptop.id);
        await flushMicrotasks();
        const closing = current.close();
        adapter.takeGate = undefined;
        gate.resolve();
        expect(await restoring).to.equal(false);
        await closing;
        await clock.tickAsync(1_000);
        const l = await resumeAndRelease(manager, laptop.id);
        expect(l.kind, "the laptop's cookie").to.equal('restored');
        expect(l.kind === 'restored' && l.session.data).to.deep.equal({ user: 'ann', cart: ['laptop'] });
      });

      it('closes running at the same time (cap lowered), then visitors returning one by one at cap 1: every context comes back', async () => {
        const { manager } = makeManager<Data>({ maxSessions: 4 });
        const devices = [1, 2, 3].map((n) => {
          const s = manager.create({ user: 'ann', n });
          s.persistKey = 'user:ann';
          return s;
        });
        const ids = devices.map((s) => s.id);
        manager.setOption('maxSessions', 1);
        manager.create({ user: 'other' });
        await clock.tickAsync(0);
        await flushMicrotasks(100);
        expect(manager.stats().closed.evicted).to.equal(3);
        expect(manager.stats().pendingPersists).to.equal(0);
        for (const [index, id] of ids.entries()) {
          const found = await resumeAndRelease(manager, id);
          expect(found.kind === 'restored' && found.session.data, `device ${index + 1}`).to.deep.equal({ user: 'ann', n: index + 1 });
        }
      });

      it("a restored device evicted again moves the other device's snapshot home first", async () => {
        const { manager, laptop, phone } = await twoDevicesEvicted();
        const l = await resumeAndRelease(manager, laptop.id);
        expect(l.kind).to.equal('restored');
        const back = manager.get(laptop.id)!;
        back.data.cart = ['laptop', 'more'];
        await manager.close(laptop.id, 'expired');
        const p = await resumeAndRelease(manager, phone.id);
        expect(p.kind === 'restored' && p.session.data).to.deep.equal({ user: 'ann', cart: ['phone'] });
        await manager.close(phone.id, 'expired');
        const again = await resumeAndRelease(manager, laptop.id);
        expect(again.kind === 'restored' && again.session.data).to.deep.equal({ user: 'ann', cart: ['laptop', 'more'] });
      });
    });

    describe('retry queue', () => {
      it('retries failed writes with exponential backoff and jitter until the adapter recovers', async () => {
        await withRandom(
          () => 0,
          async () => {
            const { manager, adapter, events } = makeManager<Data>();
            adapter.failSaves = true;
            const t0 = Date.now();
            const attempts = saveTimes(adapter, t0);
            const s = manager.create({ user: 'ann' });
            expect(await manager.close(s.id, 'expired')).to.equal(true);
            expect(manager.stats()).to.include({ pendingPersists: 1, retryingPersists: 1, persistFailures: 1, persisted: 0 });
            expect(events.errors.map((e) => e.constructor)).to.deep.equal([PersistError]);
            // random() = 0: each delay is half the backoff (100, 200, 400, 800 ms halved).
            await clock.tickAsync(750);
            expect(attempts).to.deep.equal([0, 50, 150, 350, 750]);
            expect(manager.stats()).to.include({ pendingPersists: 1, persistFailures: 5 });
            expect(events.errors, 'only the first failure of a write is reported').to.have.length(1);
            adapter.failSaves = false;
            await clock.tickAsync(800);
            expect(attempts).to.deep.equal([0, 50, 150, 350, 750, 1_550]);
            expect(manager.stats()).to.include({ pendingPersists: 0, retryingPersists: 0, persisted: 1 });
            expect(snapshotOf(adapter, s.id).data).to.deep.equal({ user: 'ann' });
            await clock.tickAsync(MAX_RETRY_DELAY * 2);
            expect(attempts).to.have.length(6);
          },
        );
      });

      it('random() = 0.5 gives three quarters of each backoff', async () => {
        await withRandom(
          () => 0.5,
          async () => {
            const { manager, adapter } = makeManager<Data>();
            adapter.failSaves = true;
            const t0 = Date.now();
            const attempts = saveTimes(adapter, t0);
            const s = manager.create();
            await manager.close(s.id, 'expired');
            await clock.tickAsync(1_124);
            expect(attempts).to.deep.equal([0, 75, 225, 525]);
            await clock.tickAsync(1);
            expect(attempts).to.deep.equal([0, 75, 225, 525, 1_125]);
          },
        );
      });

      it('the jitter keeps each delay within [0.5, 1) of the backoff, so failed writes do not retry in lockstep', async () => {
        const { manager, adapter } = makeManager<Data>();
        adapter.failSaves = true;
        const sessions = Array.from({ length: 40 }, (_, n) => manager.create({ n }));
        await Promise.all(sessions.map((s) => manager.close(s.id, 'expired')));
        const t0 = Date.now();
        const firstRetry = new Map<string, number>();
        const push = adapter.calls.push.bind(adapter.calls);
        adapter.calls.push = (...calls) => {
          for (const call of calls) if (call.method === 'save' && !firstRetry.has(call.key!)) firstRetry.set(call.key!, Date.now() - t0);
          return push(...calls);
        };
        await clock.tickAsync(FIRST_RETRY_DELAY);
        expect(firstRetry.size, 'every write retried within the first backoff').to.equal(sessions.length);
        const delays = [...firstRetry.values()];
        expect(Math.min(...delays)).to.be.at.least(FIRST_RETRY_DELAY / 2);
        expect(Math.max(...delays)).to.be.at.most(FIRST_RETRY_DELAY);
        expect(new Set(delays).size, `spread: ${delays.join(' ')}`).to.be.at.least(8);
      });

      it(`caps the delay between retries at ${MAX_RETRY_DELAY} ms (with jitter: between half of it and all of it)`, async () => {
        const { manager, adapter } = makeManager<Data>();
        adapter.failSaves = true;
        const s = manager.create();
        await manager.close(s.id, 'expired');
        await clock.tickAsync(20 * 60_000);
        const before = adapter.callsOf('save').length;
        await clock.tickAsync(10 * 60_000);
        // Ten minutes of retries between MAX/2 and MAX apart: between 20 and 40 of them.
        expect(adapter.callsOf('save').length - before).to.be.within(19, 41);
      });

      it('an adapter error that is not transient (AdapterError.transient false) gives the write up at once', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        adapter.saveError = new AdapterError('ERR_REPRISE_ADAPTER', 'authentication refused (test)', { transient: false });
        const s = manager.create({ user: 'ann' });
        expect(await manager.close(s.id, 'expired')).to.equal(true);
        await flushMicrotasks();
        expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([s.id]);
        expect(events.persistFailed[0]!.error.code).to.equal('ERR_REPRISE_PERSIST');
        expect(manager.stats()).to.include({ pendingPersists: 0, retryingPersists: 0, persistGivenUp: 1 });
        await clock.tickAsync(10 * 60_000);
        expect(adapter.callsOf('save'), 'never retried').to.have.length(1);
      });

      it('a snapshot still in the retry queue is restored from the queue under its id (and never written)', async () => {
        const { manager, adapter } = makeManager<Data>();
        adapter.failSaves = true;
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'expired');
        expect(manager.stats().pendingPersists).to.equal(1);
        const found = await resumeAndRelease(manager, s.id);
        expect(found.kind === 'restored' && [found.session.id, found.session.data]).to.deep.equal([s.id, { user: 'ann' }]);
        expect(manager.stats()).to.include({ pendingPersists: 0, retryingPersists: 0 });
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
        const found = await resumeAndRelease(manager, s.id);
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ user: 'ann' });
        await flushMicrotasks();
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

      it("without a 'persistFailed' listener a lost snapshot is reported as an error (the id redacted)", async () => {
        const { manager, events } = makeManager<Data>({ maxSnapshotBytes: 200 });
        manager.removeAllListeners('persistFailed');
        const s = manager.create({ blob: 'x'.repeat(500) });
        await manager.close(s.id, 'expired');
        expect(events.errors).to.have.length(1);
        expect(events.errors[0]).to.be.instanceOf(PersistError);
        expect(events.errors[0]!.message).to.match(/lost \(no 'persistFailed' listener\)/);
        expect(events.errors[0]!.message).to.include(redactId(s.id));
        expect(events.errors[0]!.message).to.not.include(s.id);
        expect((events.errors[0] as PersistError).key).to.not.include(s.id);
      });

      it("past maxPendingPersists writes waiting for a retry, the oldest is handed to 'persistFailed'", async () => {
        const { manager, adapter, events } = makeManager<Data>({ maxPendingPersists: 2 });
        adapter.failSaves = true;
        const sessions = [1, 2, 3].map((n) => manager.create({ n }));
        for (const s of sessions) await manager.close(s.id, 'expired');
        expect(manager.stats()).to.include({ pendingPersists: 2, retryingPersists: 2 });
        // The give-up first fences the store (the failed attempt may have landed): it settles a few ticks after the close.
        await clock.tickAsync(0);
        expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([sessions[0]!.id]);
        expect(events.persistFailed[0]!.snapshot.data).to.deep.equal({ n: 1 });
        expect(events.persistFailed[0]!.error.code).to.equal('ERR_REPRISE_PERSIST');
        adapter.failSaves = false;
        await clock.tickAsync(1_000);
        expect(adapter.keys()).to.have.members([sessions[1]!.id, sessions[2]!.id]);
        expect(manager.stats()).to.include({ pendingPersists: 0, persisted: 2, persistGivenUp: 1 });
      });

      it('writes in their first attempt do not count against maxPendingPersists (a healthy but slow store loses nothing)', async () => {
        const { manager, adapter, events } = makeManager<Data>({ maxPendingPersists: 2 });
        const gate = deferred();
        adapter.saveGate = gate.promise;
        const sessions = [1, 2, 3, 4, 5].map((n) => manager.create({ n }));
        const closing = sessions.map((s) => manager.close(s.id, 'expired'));
        await flushMicrotasks(50);
        expect(manager.stats()).to.include({ pendingPersists: 5, retryingPersists: 0 });
        expect(events.persistFailed).to.deep.equal([]);
        adapter.saveGate = undefined;
        gate.resolve();
        await Promise.all(closing);
        expect(events.persistFailed).to.deep.equal([]);
        expect(manager.stats()).to.include({ pendingPersists: 0, persisted: 5, persistGivenUp: 0 });
        expect(adapter.keys()).to.have.members(sessions.map((s) => s.id));
      });

      it('a snapshot waiting longer than snapshotTtl is given up, not written', async () => {
        const { manager, adapter, events } = makeManager<Data>({ snapshotTtl: 1_000 });
        adapter.failSaves = true;
        const s = manager.create({ n: 1 });
        // random() just under 1: full delays, so retries at about 100, 300 and 700 ms fail and the next comes at about 1 500 ms.
        await withRandom(
          () => 0.999,
          async () => {
            await manager.close(s.id, 'expired');
            await clock.tickAsync(950);
            adapter.failSaves = false;
            await clock.tickAsync(2_000);
          },
        );
        expect(adapter.keys()).to.deep.equal([]);
        expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([s.id]);
        expect(manager.stats().pendingPersists).to.equal(0);
      });

      it('an adapter call that never settles is abandoned after adapterTimeout and retried', async () => {
        const { manager, adapter, events } = makeManager<Data>({ adapterTimeout: 1_000 });
        adapter.saveGate = new Promise<void>(() => {});
        const s = manager.create({ n: 1 });
        let closed = false;
        const closing = manager.close(s.id, 'expired').then(() => (closed = true));
        await clock.tickAsync(999);
        expect(closed, 'the close waits for the first attempt').to.equal(false);
        await clock.tickAsync(1);
        await closing;
        expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_PERSIST']);
        expect((events.errors[0]!.cause as AdapterError).code).to.equal('ERR_REPRISE_ADAPTER_TIMEOUT');
        expect(manager.stats()).to.include({ pendingPersists: 1, retryingPersists: 1 });
        adapter.saveGate = undefined;
        await clock.tickAsync(FIRST_RETRY_DELAY);
        expect(manager.stats()).to.include({ pendingPersists: 0, persisted: 1 });
        expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
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

      it('once begun, create() throws a SessionUnavailableError (503, Retry-After) and resume() restores nothing', async () => {
        const { manager, adapter } = makeManager<Data>({ retryAfter: 7 });
        const evicted = manager.create({ n: 1 });
        await manager.close(evicted.id, 'evicted');
        const stopping = manager.shutdown();
        let caught: unknown;
        try {
          manager.create({ n: 2 });
        } catch (error) {
          caught = error;
        }
        expect(caught).to.be.instanceOf(SessionUnavailableError);
        expect(caught).to.include({ status: 503, statusCode: 503, expose: true, retryAfter: 7, code: 'ERR_REPRISE_SESSION_UNAVAILABLE' });
        expect((caught as SessionUnavailableError).headers).to.deep.equal({ 'Retry-After': '7' });
        const found = await manager.resume(evicted.id);
        expect(found.kind).to.equal('unavailable');
        expect(found.kind === 'unavailable' && found.error).to.be.instanceOf(SessionUnavailableError);
        expect(await manager.restore(evicted.id)).to.equal(undefined);
        await stopping;
        expect(snapshotOf(adapter, evicted.id).data, 'the snapshot stays for the next process').to.deep.equal({ n: 1 });
        expect(manager.stats()).to.include({ created: 1, restored: 0 });
      });

      it('a write to a session closed by the shutdown throws a SessionUnavailableError (nothing acknowledged is lost)', async () => {
        const { manager, adapter } = makeManager<Data>({ shutdownTimeout: 1_000 });
        const s = manager.acquire(manager.create({ n: 1 }).id)!;
        const data = s.data;
        const stopping = manager.shutdown();
        await clock.tickAsync(1_000);
        await stopping;
        expect(s.closeReason).to.equal('shutdown');
        expect(() => {
          data.n = 2;
        }).to.throw(SessionUnavailableError);
        expect(() => {
          s.data = { n: 3 };
        }).to.throw(SessionUnavailableError);
        expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
        manager.release(s);
      });

      it('waits for requests in flight, closing each session when its request ends', async () => {
        const { manager, adapter } = makeManager<Data>({ shutdownTimeout: 10_000 });
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
        expect(snapshotOf(adapter, busy.id).data).to.deep.equal({ n: 10 });
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

      it("is bounded when a save never settles: resolves within adapterTimeout + shutdownTimeout + adapterTimeout, the snapshot to 'persistFailed'", async () => {
        const { manager, adapter, events } = makeManager<Data>({ shutdownTimeout: 3_000, adapterTimeout: 1_000 });
        adapter.saveGate = new Promise<void>(() => {});
        const s = manager.create({ n: 1 });
        let done = false;
        const stopping = manager.shutdown().then(() => {
          done = true;
        });
        await clock.tickAsync(5_000);
        expect(done).to.equal(true);
        await stopping;
        expect(events.persistFailed.map((f) => f.snapshot.sessionId)).to.deep.equal([s.id]);
        expect(manager.stats()).to.include({ pendingPersists: 0, persisted: 0 });
      });
    });

    describe('writes after close', () => {
      it('are ignored and reported (SessionClosedError naming the session by a redacted id, stats().writesAfterClose)', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        const s = manager.create({ n: 1 });
        const data = s.data;
        await manager.close(s.id, 'expired');
        data.n = 2;
        s.data.late = 3;
        delete data.n;
        s.data = { n: 4 };
        expect(s.data).to.deep.equal({ n: 1 });
        expect(events.errors).to.have.length(4);
        expect(events.errors.every((e) => e instanceof SessionClosedError)).to.equal(true);
        expect((events.errors[0] as SessionClosedError).sessionId).to.equal(redactId(s.id));
        for (const error of events.errors) expect(error.message).to.not.include(s.id);
        expect(manager.stats().writesAfterClose).to.equal(4);
        expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
      });

      it('writes after the closing hooks (while the snapshot is being written) are reported too', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        const gate = deferred();
        adapter.saveGate = gate.promise;
        const s = manager.create({ n: 1 });
        const closing = manager.close(s.id, 'expired');
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
        const closing = manager.close(s.id, 'expired');
        await flushMicrotasks();
        s.data.late = 2;
        gate.resolve();
        await closing;
        expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1, late: 2 });
        expect(events.errors).to.deep.equal([]);
      });
    });
  });
}
