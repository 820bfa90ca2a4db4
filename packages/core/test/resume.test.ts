import { expect } from 'chai';
import { encodePointer, encodeSnapshot } from '../src/codec.js';
import { type CodecError, RestoreError, SessionUnavailableError } from '../src/errors.js';
import type { LiveSession } from '../src/live-session.js';
import { redactId } from '../src/redact.js';
import type { SessionManager } from '../src/session-manager.js';
import type { CloseReason, Snapshot } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { ADAPTER_KINDS, resumeAndRelease } from './support/manager.js';
import type { TestAdapter } from './support/test-adapter.js';

type Data = { user?: string; n?: number; cart?: string[]; [key: string]: unknown };

const INVOLUNTARY: CloseReason[] = ['evicted', 'expired', 'shutdown'];
const OTHER_ID = 'ZZZZZZZZZZZZZZZZZZZZZZZZ';

function snapshotOf(adapter: TestAdapter, key: string): Snapshot {
  const record = adapter.record(key);
  if (record?.kind !== 'snapshot') throw new Error(`no snapshot under ${key}`);
  return record.snapshot;
}

/** The session a resumption hands over (held for the caller), or a failure naming what came instead. */
function sessionOf<TData extends Data>(
  found: Awaited<ReturnType<SessionManager<TData>['resume']>>,
  kind: 'live' | 'restored' = 'restored',
): LiveSession<TData> {
  if (found.kind !== kind) throw new Error(`expected a '${kind}' resumption, got '${found.kind}'`);
  return (found as { session: LiveSession<TData> }).session;
}

for (const adapterKind of ADAPTER_KINDS) {
  const makeManager = adapterKind.make;

  describe(`resume(id): returning cookies (${adapterKind.name})`, () => {
    let clock: Clock;
    beforeEach(() => {
      clock = installClock();
    });
    afterEach(() => {
      clock.uninstall();
    });

    describe('what an id leads to', () => {
      it("'live': the live session itself, held for the caller (busy until released), without restoring", async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ n: 1 });
        const found = await manager.resume(s.id);
        expect(sessionOf(found, 'live')).to.equal(s);
        expect(s.busy).to.equal(true);
        expect(manager.stats()).to.include({ busy: 1, restored: 0 });
        manager.release(s);
        expect(s.busy).to.equal(false);
        expect(adapter.calls).to.deep.equal([]);
      });

      for (const reason of INVOLUNTARY) {
        it(`'restored' after '${reason}': the snapshot revived under the same id, data and createdAt kept, held for the caller`, async () => {
          const { manager, adapter, events } = makeManager<Data>();
          const s = manager.create({ user: 'ann', cart: ['a'] });
          await clock.tickAsync(1_000);
          await manager.close(s.id, reason);
          const restored = sessionOf(await manager.resume(s.id));
          expect(restored).to.not.equal(s);
          expect(restored.id).to.equal(s.id);
          expect(restored.state).to.equal('live');
          expect(restored.data).to.deep.equal({ user: 'ann', cart: ['a'] });
          expect(restored.createdAt).to.equal(s.createdAt);
          expect(restored.persistKey).to.equal(s.id);
          expect(restored.isNew).to.equal(false);
          expect(restored.busy, 'held for the caller').to.equal(true);
          expect(manager.get(s.id)).to.equal(restored);
          expect(adapter.keys(), 'the snapshot is consumed').to.deep.equal([]);
          expect(events.restores.map((r) => r.session)).to.deep.equal([restored]);
          expect(manager.stats()).to.include({ restored: 1, created: 1, busy: 1 });
          manager.release(restored);
          expect(restored.busy).to.equal(false);
          expect(manager.stats().busy).to.equal(0);
        });
      }

      it("'none' for an id nothing is known of (not a logout), and for a malformed id without asking the adapter", async () => {
        const { manager, adapter } = makeManager();
        expect(await manager.resume('user:42')).to.deep.equal({ kind: 'none' });
        expect(await manager.resume('')).to.deep.equal({ kind: 'none' });
        expect(await manager.resume('A'.repeat(25))).to.deep.equal({ kind: 'none' });
        expect(adapter.calls).to.deep.equal([]);
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(manager.stats()).to.include({ live: 0, busy: 0, created: 0, restored: 0 });
      });

      it("'closed' for a request that waited on an explicit close; afterwards the id is simply unknown ('none')", async () => {
        const gate = deferred();
        const { manager, adapter } = makeManager<Data>({ onClose: () => gate.promise });
        const s = manager.create({ user: 'ann' });
        void manager.close(s.id, 'closed');
        const during = manager.resume(s.id);
        await flushMicrotasks();
        gate.resolve();
        expect(await during).to.deep.equal({ kind: 'closed' });
        expect(adapter.keys(), 'an explicit close with the default key writes nothing').to.deep.equal([]);
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
      });

      it("'unavailable' when the store cannot be read: a SessionUnavailableError (503, Retry-After), the snapshot kept for later", async () => {
        const { manager, adapter, events } = makeManager<Data>({ retryAfter: 3 });
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'expired');
        adapter.failReads = true;
        const found = await manager.resume(s.id);
        expect(found.kind).to.equal('unavailable');
        const error = found.kind === 'unavailable' ? found.error : undefined;
        expect(error).to.be.instanceOf(SessionUnavailableError);
        expect(error).to.include({ status: 503, retryAfter: 3, code: 'ERR_REPRISE_SESSION_UNAVAILABLE' });
        expect(error!.headers).to.deep.equal({ 'Retry-After': '3' });
        expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_RESTORE']);
        expect((events.errors[0] as RestoreError).key).to.equal(redactId(s.id));
        expect(events.errors[0]!.message).to.not.include(s.id);
        expect(manager.stats()).to.include({ restoreFailures: 1, live: 0, busy: 0 });
        adapter.failReads = false;
        const back = sessionOf(await manager.resume(s.id));
        expect(back.data).to.deep.equal({ n: 1 });
        manager.release(back);
      });

      it("'unavailable' for every request that joined the failed restore", async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'expired');
        adapter.failReads = true;
        const found = await Promise.all([manager.resume(s.id), manager.resume(s.id), manager.resume(s.id)]);
        expect(found.map((f) => f.kind)).to.deep.equal(['unavailable', 'unavailable', 'unavailable']);
        expect(manager.stats()).to.include({ restoreFailures: 1, busy: 0 });
      });

      it("'unavailable' once shutdown() has begun: nothing is restored, the snapshot stays for the next process", async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'evicted');
        const stopping = manager.shutdown();
        const found = await manager.resume(s.id);
        expect(found.kind).to.equal('unavailable');
        expect(found.kind === 'unavailable' && found.error.message).to.match(/restarting/);
        await stopping;
        expect(snapshotOf(adapter, s.id).data).to.deep.equal({ n: 1 });
      });
    });

    describe('explicit closes', () => {
      it("never restores an explicit close ('closed'): nothing was written, the id is unknown", async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'closed');
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
        expect(adapter.keys()).to.deep.equal([]);
        expect(await manager.restore(s.id)).to.equal(undefined);
      });

      it('never restores an explicit close with a custom key from the cookie; restore(key) can, under a new id', async () => {
        const { manager } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, 'closed');
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
        const back = await manager.restore('user:ann');
        expect(back?.data).to.deep.equal({ user: 'ann' });
        expect(back?.id).to.not.equal(s.id);
        expect(await resumeAndRelease(manager, s.id)).to.deep.equal({ kind: 'none' });
      });

      it('a restored session closed explicitly is gone for its cookie', async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'expired');
        const restored = sessionOf(await manager.resume(s.id));
        manager.release(restored);
        await restored.close();
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
        expect(adapter.keys()).to.deep.equal([]);
      });
    });

    describe('pointers (involuntary close with a custom persistKey)', () => {
      it('follows the pointer under the id, consuming both; the session keeps its id and persistKey', async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, 'evicted');
        const restored = sessionOf(await manager.resume(s.id));
        expect(restored.id).to.equal(s.id);
        expect(restored.data).to.deep.equal({ user: 'ann' });
        expect(restored.persistKey).to.equal('user:ann');
        manager.release(restored);
        await flushMicrotasks();
        expect(adapter.keys()).to.deep.equal([]);
      });

      it('the pointer is taken first: when its take fails nothing is lost (unavailable, the cookie kept), and once the store answers the cookie restores everything', async () => {
        // (The pointer used to be removed after the snapshot was taken: a failed removal left a stale pointer.)
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, 'evicted');
        const take = adapter.take.bind(adapter);
        const takeVersioned = (adapter as { takeVersioned?: (key: string, fence?: unknown) => Promise<unknown> }).takeVersioned?.bind(
          adapter,
        );
        let failing = true;
        const failOnId = (key: string): void => {
          if (failing && key === s.id) throw new Error('the take of the id fails (test)');
        };
        adapter.take = async (key) => {
          failOnId(key);
          return take(key);
        };
        if (takeVersioned !== undefined) {
          (adapter as unknown as { takeVersioned: unknown }).takeVersioned = async (key: string, fence?: unknown) => {
            failOnId(key);
            return takeVersioned(key, fence);
          };
        }
        expect((await manager.resume(s.id)).kind).to.equal('unavailable');
        expect(adapter.record(s.id)?.kind, 'the pointer stays').to.equal('pointer');
        expect(snapshotOf(adapter, 'user:ann').data, 'the snapshot stays').to.deep.equal({ user: 'ann' });
        failing = false;
        const restored = sessionOf(await manager.resume(s.id));
        expect(restored.data).to.deep.equal({ user: 'ann' });
        expect(adapter.record(s.id), 'the pointer went with the restore').to.equal(undefined);
        restored.data.cart = ['more'];
        manager.release(restored);
        await flushMicrotasks();
        // Evicted again: a new snapshot and pointer, and the cookie restores everything.
        await manager.close(s.id, 'evicted');
        const again = sessionOf(await manager.resume(s.id));
        expect(again.data).to.deep.equal({ user: 'ann', cart: ['more'] });
        manager.release(again);
      });

      it('a pointer whose snapshot was consumed (by restore(key)) leads nowhere: none, and the pointer is put back as it was (harmless)', async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, 'evicted');
        const pointer = adapter.entries.get(s.id)?.value;
        expect((await manager.restore('user:ann'))?.data).to.deep.equal({ user: 'ann' });
        await manager.close(s.id, 'closed'); // a logout: the key keeps this explicit close's snapshot
        await flushMicrotasks();
        expect(snapshotOf(adapter, 'user:ann').reason).to.equal('closed');
        adapter.put(s.id, pointer!); // the cookie still finds the old pointer under its id
        const mark = adapter.calls.length;
        expect((await manager.resume(s.id)).kind).to.equal('none');
        await flushMicrotasks();
        expect(adapter.entries.get(s.id)?.value, 'put back').to.equal(pointer);
        expect(snapshotOf(adapter, 'user:ann').reason, "the key's snapshot was read, never taken").to.equal('closed');
        expect(adapter.calls.slice(mark).filter((c) => c.method === 'take' && c.key === 'user:ann')).to.deep.equal([]);
      });

      it('a pointer is not followed when the snapshot it leads to names another session', async () => {
        const { manager, adapter } = makeManager<Data>();
        const now = Date.now();
        adapter.put(OTHER_ID, encodePointer({ version: 1, key: 'user:ann', sessionId: OTHER_ID, reason: 'expired', closedAt: now }));
        const { text } = encodeSnapshot(
          {
            version: 1,
            key: 'user:ann',
            sessionId: 'YYYYYYYYYYYYYYYYYYYYYYYY',
            data: { n: 2 },
            createdAt: now,
            closedAt: now,
            reason: 'expired',
          },
          Infinity,
        );
        adapter.put('user:ann', text);
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(snapshotOf(adapter, 'user:ann').data).to.deep.equal({ n: 2 });
      });

      it('a pointer is not followed when the snapshot it leads to was written by an explicit close', async () => {
        const { manager, adapter } = makeManager<Data>();
        const now = Date.now();
        adapter.put(OTHER_ID, encodePointer({ version: 1, key: 'user:ann', sessionId: OTHER_ID, reason: 'expired', closedAt: now }));
        const { text } = encodeSnapshot(
          { version: 1, key: 'user:ann', sessionId: OTHER_ID, data: { n: 2 }, createdAt: now, closedAt: now, reason: 'closed' },
          Infinity,
        );
        adapter.put('user:ann', text);
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(snapshotOf(adapter, 'user:ann').reason).to.equal('closed');
      });

      it('a pointer that does not name the id it is stored under is not followed', async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, 'expired');
        adapter.put(OTHER_ID, encodePointer({ version: 1, key: 'user:ann', sessionId: s.id, reason: 'expired', closedAt: Date.now() }));
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(snapshotOf(adapter, 'user:ann').sessionId).to.equal(s.id);
      });

      it("a pointer whose own reason is 'closed' is not followed", async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        s.persistKey = 'user:ann';
        await manager.close(s.id, 'expired');
        adapter.put(s.id, encodePointer({ version: 1, key: 'user:ann', sessionId: s.id, reason: 'closed', closedAt: Date.now() }));
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
      });

      it('a snapshot stored under an id that names another session is not restored from that cookie', async () => {
        const { manager, adapter } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'expired');
        const text = adapter.entries.get(s.id)!.value;
        adapter.put(OTHER_ID, text);
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(adapter.record(OTHER_ID)?.kind).to.equal('snapshot');
      });
    });

    describe('during a close', () => {
      it('waits for a close in progress, then restores an involuntary close with what the hooks left', async () => {
        const gate = deferred();
        const { manager } = makeManager<Data>({
          onClose: async (session) => {
            await gate.promise;
            session.data.cart = ['saved by hook'];
          },
        });
        const s = manager.create({ user: 'ann' });
        const closing = manager.close(s.id, 'evicted');
        let settled = false;
        const resuming = manager.resume(s.id).then((found) => {
          settled = true;
          return found;
        });
        await flushMicrotasks();
        expect(settled).to.equal(false);
        gate.resolve();
        await closing;
        const restored = sessionOf(await resuming);
        expect(restored.id).to.equal(s.id);
        expect(restored.data).to.deep.equal({ user: 'ann', cart: ['saved by hook'] });
        manager.release(restored);
      });

      if (!adapterKind.ordered) {
        it('a returning cookie waits while a restore by key that cannot use the snapshot puts it back (not none)', async () => {
          // BUG (found by the exactly-once property): restore(key) released its claim on the session
          // id once it had taken the snapshot, before putting it back (its session still closing);
          // the cookie then looked while the snapshot was in nobody's hands and got 'none'.
          const { manager, adapter } = makeManager<Data>();
          const s = manager.create({ cart: ['apple'] });
          const disposed = deferred();
          s.live.set('socket', { dispose: () => disposed.promise });
          const closing = manager.close(s.id, 'evicted');
          await flushMicrotasks();
          expect(adapter.record(s.id)?.kind, 'written before the disposal').to.equal('snapshot');
          const putBackRead = deferred();
          adapter.loadGates.push(Promise.resolve(), putBackRead.promise); // the restore's read, then the put-back's
          const restoring = manager.restore(s.id);
          await flushMicrotasks(50);
          expect(adapter.record(s.id), 'taken by the restore by key').to.equal(undefined);
          const resuming = manager.resume(s.id);
          disposed.resolve();
          await closing;
          await flushMicrotasks(50);
          putBackRead.resolve();
          expect(await restoring, 'its session was still closing: put back').to.equal(undefined);
          const restored = sessionOf(await resuming);
          expect(restored.data).to.deep.equal({ cart: ['apple'] });
          manager.release(restored);
        });
      }

      it('concurrent calls during a close in progress share one restore', async () => {
        const gate = deferred();
        const { manager } = makeManager<Data>({ onClose: () => gate.promise });
        const s = manager.create({ user: 'ann' });
        void manager.close(s.id, 'expired');
        const pending = [manager.resume(s.id), manager.resume(s.id)] as const;
        gate.resolve();
        const [a, b] = await Promise.all(pending);
        expect(sessionOf(a)).to.equal(sessionOf(b));
        expect(manager.stats().restored).to.equal(1);
        manager.release(sessionOf(a));
        manager.release(sessionOf(b));
      });
    });

    describe('concurrent returns (the parallel requests of one page load)', () => {
      it('share one restore and all get the same session, under the same id, each holding it', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'expired');
        const found = await Promise.all([manager.resume(s.id), manager.resume(s.id), manager.resume(s.id)]);
        const sessions = found.map((f) => sessionOf(f));
        expect(sessions[1]).to.equal(sessions[0]);
        expect(sessions[2]).to.equal(sessions[0]);
        expect(sessions[0]!.id).to.equal(s.id);
        expect(adapter.callsOf('take')).to.have.length(1);
        expect(events.restores).to.have.length(1);
        expect(manager.size).to.equal(1);
        manager.release(sessions[0]!);
        manager.release(sessions[0]!);
        expect(sessions[0]!.busy, 'still held by the third request').to.equal(true);
        manager.release(sessions[0]!);
        expect(sessions[0]!.busy).to.equal(false);
        expect(manager.stats().busy).to.equal(0);
      });

      it('at cap 1 with other visitors arriving at every step, no eviction slips between the restore and the requests', async () => {
        for (let offset = 0; offset < 40; offset += 1) {
          const restoreGate = deferred();
          const { manager, events } = makeManager<Data>({ maxSessions: 1, onRestore: () => restoreGate.promise });
          const alice = manager.create({ user: 'alice' });
          manager.create({ user: 'bob' }); // evicts alice
          await flushMicrotasks();
          expect(alice.state, `offset ${offset}`).to.equal('closed');
          const pending = [manager.resume(alice.id), manager.resume(alice.id), manager.resume(alice.id)];
          // Visitors keep arriving: one now, and one `offset` microtasks after the restore hook settles.
          manager.create({ user: 'carol' });
          await flushMicrotasks(10);
          restoreGate.resolve();
          await flushMicrotasks(offset);
          manager.create({ user: 'dave' });
          const found = await Promise.all(pending);
          manager.create({ user: 'erin' });
          const sessions = found.map((f) => sessionOf(f));
          expect(new Set(sessions).size, `offset ${offset}: one session`).to.equal(1);
          const restored = sessions[0]!;
          expect(restored.id).to.equal(alice.id);
          expect(restored.state, `offset ${offset}: live while held`).to.equal('live');
          expect(restored.data).to.deep.equal({ user: 'alice' });
          for (const _ of sessions) manager.release(restored);
          expect(restored.state, `offset ${offset}: the most recent idle session is kept`).to.equal('live');
          await flushMicrotasks(50);
          expect(manager.size).to.equal(1);
          expect(events.restores).to.have.length(1);
        }
      });

      it('the restored session is busy while the restore hooks run, and held by its callers after', async () => {
        const gate = deferred();
        const { manager } = makeManager<Data>({ maxSessions: 1, idleTimeout: 10_000, onRestore: () => gate.promise });
        const busy = manager.acquire(manager.create({ n: 0 }).id)!;
        const s = manager.create({ n: 1 }); // admitted over the cap: busy is busy
        await manager.close(s.id, 'expired');
        const resuming = manager.resume(s.id);
        await flushMicrotasks();
        const other = manager.create({ n: 2 }); // no idle victim: admitted over the cap
        gate.resolve();
        const restored = sessionOf(await resuming);
        expect(restored.state).to.equal('live');
        expect(other.state).to.equal('live');
        expect(manager.stats().overCap).to.equal(2);
        // The request ends: from then on it is an ordinary idle session, and the cap is restored.
        manager.release(restored);
        expect(other.state).to.equal('closing');
        expect(restored.state).to.equal('closing');
        expect(busy.state).to.equal('live');
        manager.release(busy);
      });
    });

    describe('restore, then close before the next request', () => {
      for (const reason of ['evicted', 'expired'] as const) {
        it(`restored then ${reason} before the visitor comes back: the same id restores again with everything`, async () => {
          const closes: string[] = [];
          const { manager } = makeManager<Data>({
            maxSessions: 1,
            idleTimeout: 60_000,
            onClose: (s, why) => void closes.push(`${s.data.cart?.join('+')}:${why}`),
          });
          const s = manager.create({ cart: ['apple'] });
          manager.create({ cart: ['other'] }); // evicts s
          await flushMicrotasks();
          const restored = sessionOf(await manager.resume(s.id));
          restored.data.cart = ['apple', 'pear']; // acknowledged by this request
          manager.release(restored);
          if (reason === 'evicted') manager.create({ cart: ['third'] });
          else await clock.tickAsync(60_000);
          await flushMicrotasks();
          expect(restored.state).to.equal('closed');
          expect(restored.closeReason).to.equal(reason);
          const again = sessionOf(await manager.resume(s.id));
          expect(again.id).to.equal(s.id);
          expect(again.data).to.deep.equal({ cart: ['apple', 'pear'] });
          manager.release(again);
          expect(
            closes.filter((c) => c.startsWith('apple')),
            'each live context closed once',
          ).to.deep.equal(['apple:evicted', `apple+pear:${reason}`]);
        });
      }

      it('a restored session with a custom persistKey evicted again restores again through its new pointer', async () => {
        const { manager, adapter } = makeManager<Data>({ maxSessions: 1 });
        const s = manager.create({ cart: ['apple'] });
        s.persistKey = 'user:ann';
        manager.create(); // evicts s
        await flushMicrotasks();
        const restored = sessionOf(await manager.resume(s.id));
        restored.data.cart!.push('pear');
        manager.release(restored);
        manager.create(); // evicts the restored session
        await flushMicrotasks();
        expect(adapter.record(s.id)?.kind).to.equal('pointer');
        const again = sessionOf(await manager.resume(s.id));
        expect([again.id, again.persistKey, again.data]).to.deep.equal([s.id, 'user:ann', { cart: ['apple', 'pear'] }]);
        manager.release(again);
      });

      it('regenerate() while the restore hooks still run: a request presenting the old id afterwards gets nothing', async () => {
        // BUG (reported, minor): a resume of the old id that arrives after regenerate() joins the restore
        // still in flight for that id and is handed the session under its new id.
        const gate = deferred();
        let revived: LiveSession<Data> | undefined;
        const { manager } = makeManager<Data>({
          onRestore: async (session) => {
            revived = session as LiveSession<Data>;
            await gate.promise;
          },
        });
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'expired');
        const inFlight = manager.resume(s.id);
        await flushMicrotasks();
        const fresh = revived!.regenerate();
        const afterRegenerate = manager.resume(s.id);
        gate.resolve();
        const first = await inFlight;
        expect(first.kind === 'restored' && first.session.id, 'the request in flight finishes with the regenerated session').to.equal(
          fresh,
        );
        manager.release(sessionOf(first));
        const second = await afterRegenerate;
        if (second.kind === 'live' || second.kind === 'restored') manager.release(second.session);
        expect(second.kind, 'the old id stops working at once').to.equal('none');
      });

      it('regenerate() of the restored session cuts the old id off at once', async () => {
        const { manager } = makeManager<Data>();
        const s = manager.create({ user: 'ann' });
        await manager.close(s.id, 'expired');
        const restored = sessionOf(await manager.resume(s.id));
        const fresh = restored.regenerate();
        expect(await manager.resume(s.id)).to.deep.equal({ kind: 'none' });
        expect(manager.get(fresh)).to.equal(restored);
        manager.release(restored);
      });
    });

    describe('absolute timeout', () => {
      it('does not restore once the absolute timeout (counted from the first creation) has passed', async () => {
        const { manager } = makeManager<Data>({ idleTimeout: 1_000, absoluteTimeout: 10_000 });
        const t0 = Date.now();
        const a = manager.create({ n: 1 });
        const b = manager.create({ n: 2 });
        await clock.tickAsync(1_000);
        expect([a.state, b.state]).to.deep.equal(['closed', 'closed']);
        await clock.tickAsync(4_000);
        const restored = sessionOf(await manager.resume(a.id));
        expect(restored.data).to.deep.equal({ n: 1 });
        expect(restored.createdAt).to.equal(t0);
        manager.release(restored);
        expect(manager.getExpiration(a.id)).to.equal(t0 + 6_000);
        await clock.tickAsync(t0 + 10_000 - Date.now());
        expect(await manager.resume(b.id)).to.deep.equal({ kind: 'none' });
      });

      it('a restored session still expires at its first creation + absoluteTimeout', async () => {
        const { manager } = makeManager<Data>({ idleTimeout: 3_000, absoluteTimeout: 5_000 });
        const t0 = Date.now();
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'evicted');
        await clock.tickAsync(4_000);
        const restored = sessionOf(await manager.resume(s.id));
        manager.release(restored);
        expect(manager.getExpiration(s.id)).to.equal(t0 + 5_000);
        await clock.tickAsync(1_000);
        expect(restored.state).to.equal('closed');
        expect(restored.closeReason).to.equal('expired');
      });

      it('a restored session released by its caller still expires when idle', async () => {
        const { manager } = makeManager<Data>({ idleTimeout: 1_000 });
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'evicted');
        const restored = sessionOf(await manager.resume(s.id));
        await clock.tickAsync(5_000);
        expect(restored.state, 'held: never expires').to.equal('live');
        manager.release(restored);
        await clock.tickAsync(1_000);
        expect(restored.state).to.equal('closed');
        expect(restored.closeReason).to.equal('expired');
      });
    });

    describe('one round trip', () => {
      it('a returning cookie costs one take and nothing else on the request path (no read before it)', async () => {
        const { manager, adapter } = makeManager<Data>({ checkpointInterval: 0 });
        const s = manager.create({ cart: ['apple'] });
        await manager.close(s.id, 'evicted');
        const mark = adapter.calls.length;
        const restored = sessionOf(await manager.resume(s.id));
        expect(restored.data).to.deep.equal({ cart: ['apple'] });
        expect(adapter.calls.slice(mark)).to.deep.equal([{ method: 'take', key: s.id }]);
        manager.release(restored);
      });

      it("a record under the id that the cookie may not restore is taken, then put back as it was (an explicit close's erasure, another session's snapshot)", async () => {
        const { manager, adapter } = makeManager<Data>();
        const now = Date.now();
        const foreign = encodeSnapshot(
          {
            version: 1,
            key: OTHER_ID,
            sessionId: 'YYYYYYYYYYYYYYYYYYYYYYYY',
            data: { n: 1 },
            createdAt: now,
            closedAt: now,
            reason: 'evicted',
          },
          Infinity,
        ).text;
        const erased = encodePointer({ version: 1, key: OTHER_ID, sessionId: OTHER_ID, reason: 'closed', closedAt: now });
        for (const text of [foreign, erased]) {
          adapter.put(OTHER_ID, text);
          const mark = adapter.calls.length;
          expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
          await flushMicrotasks();
          expect(adapter.entries.get(OTHER_ID)?.value, 'put back').to.equal(text);
          expect(adapter.calls.slice(mark).map((c) => c.method)).to.include('take');
        }
        expect(manager.size).to.equal(0);
      });
    });

    describe('refused snapshots', () => {
      it('a corrupt snapshot is reported (RestoreError, the id redacted) and skipped', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        adapter.put(OTHER_ID, 'garbage');
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(events.errors).to.have.length(1);
        expect(events.errors[0]).to.be.instanceOf(RestoreError);
        expect(events.errors[0]!.code).to.equal('ERR_REPRISE_RESTORE');
        expect((events.errors[0] as RestoreError).key).to.equal(redactId(OTHER_ID));
        expect(events.errors[0]!.message).to.not.include(OTHER_ID);
        expect((events.errors[0]!.cause as CodecError).code).to.equal('ERR_REPRISE_SNAPSHOT_CORRUPT');
        expect(manager.stats().restoreFailures).to.equal(1);
        expect(manager.size).to.equal(0);
        await flushMicrotasks();
        expect(adapter.entries.get(OTHER_ID)?.value, 'taken, then put back as it was, for inspection').to.equal('garbage');
      });

      it('a snapshot carrying a __proto__ key is refused whole and reported', async () => {
        const { manager, adapter, events } = makeManager<Data>();
        const now = Date.now();
        const { text } = encodeSnapshot(
          {
            version: 1,
            key: OTHER_ID,
            sessionId: OTHER_ID,
            data: { a: { zzzzzzzzz: 1 } },
            createdAt: now,
            closedAt: now,
            reason: 'expired',
          },
          Infinity,
        );
        adapter.put(OTHER_ID, text.replace('"zzzzzzzzz"', '"__proto__"'));
        expect(await manager.resume(OTHER_ID)).to.deep.equal({ kind: 'none' });
        expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_RESTORE']);
        expect(({} as Record<string, unknown>)['a']).to.equal(undefined);
        expect(manager.stats().restored).to.equal(0);
        await flushMicrotasks();
        expect(adapter.entries.get(OTHER_ID)?.value, 'put back as it was').to.equal(text.replace('"zzzzzzzzz"', '"__proto__"'));
      });
    });
  });
}
