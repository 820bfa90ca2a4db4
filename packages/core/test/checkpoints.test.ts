import { expect } from 'chai';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { OptionError } from '../src/errors.js';
import { SessionManager } from '../src/session-manager.js';
import { installClock, type Clock } from './support/clock.js';
import { flushMicrotasks } from './support/deferred.js';
import { ADAPTER_KINDS, makeOrderedManager, resumeAndRelease } from './support/manager.js';
import { OrderedTestAdapter, TestAdapter } from './support/test-adapter.js';

type Data = { cart?: string[]; n?: number };

const INTERVAL = 1_000;

/** Lets the checkpoint timer fire and the pass's writes land. */
async function pass(clock: Clock, ms = INTERVAL): Promise<void> {
  await clock.tickAsync(ms);
  await flushMicrotasks(50);
}

describe('checkpoints', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => clock.uninstall());

  for (const kind of ADAPTER_KINDS) {
    describe(kind.name, () => {
      const make = () => kind.make<Data>({ checkpointInterval: INTERVAL });

      it('writes a changed live session under its id, reason checkpoint, within one interval; no hook runs', async () => {
        const { manager, adapter, events } = make();
        const hooks: string[] = [];
        manager.onClose((_, reason) => void hooks.push(reason));
        const s = manager.create({ cart: ['apple'] });
        await pass(clock, INTERVAL - 1);
        expect(adapter.record(s.id), 'not before the interval').to.equal(undefined);
        await pass(clock, 1);
        const record = adapter.record(s.id);
        expect(record?.kind).to.equal('snapshot');
        if (record?.kind !== 'snapshot') return;
        expect(record.snapshot).to.include({ reason: 'checkpoint', sessionId: s.id, key: s.id });
        expect(record.snapshot.data).to.deep.equal({ cart: ['apple'] });
        expect(hooks).to.deep.equal([]);
        expect(manager.stats()).to.include({ checkpoints: 1, persisted: 0 });
        expect(events.closes).to.deep.equal([]);
      });

      it('rewrites an unchanged session once per refresh period (a quarter of snapshotTtl), so its checkpoint stays restorable', async () => {
        const { manager, adapter } = kind.make<Data>({ checkpointInterval: INTERVAL, snapshotTtl: 40_000 });
        const s = manager.create({ n: 1 });
        const closedAts: number[] = [];
        for (let t = 0; t < 29; t++) {
          manager.touch(s.id);
          await pass(clock);
          const record = adapter.record(s.id);
          if (record?.kind === 'snapshot' && closedAts.at(-1) !== record.snapshot.closedAt) closedAts.push(record.snapshot.closedAt);
        }
        expect(
          closedAts.map((at) => at % 10_000),
          'written at the start of each 10 s period',
        ).to.deep.equal([0, 0, 0]);
        expect(closedAts[2]! - closedAts[0]!).to.equal(20_000);
      });

      it('writes an unchanged session once, and again only after it changes', async () => {
        const { manager, adapter } = make();
        const s = manager.create({ n: 1 });
        await pass(clock);
        const saves = () => adapter.calls.filter((c) => c.method === 'save').length;
        const first = saves();
        expect(first).to.equal(1);
        manager.touch(s.id);
        await pass(clock);
        expect(saves(), 'touched but unchanged: no write').to.equal(first);
        s.data.n = 2;
        manager.touch(s.id);
        await pass(clock);
        expect(saves()).to.equal(first + 1);
        const record = adapter.record(s.id);
        expect(record?.kind === 'snapshot' && record.snapshot.data).to.deep.equal({ n: 2 });
      });

      it('leaves a busy session to the end of its request, then writes it within one interval', async () => {
        const { manager, adapter } = make();
        const s = manager.create({ n: 1 });
        manager.acquire(s.id);
        s.data.n = 2;
        await pass(clock, 3 * INTERVAL);
        expect(adapter.record(s.id), 'busy: not written mid-request').to.equal(undefined);
        manager.release(s);
        await pass(clock);
        const record = adapter.record(s.id);
        expect(record?.kind === 'snapshot' && record.snapshot.data).to.deep.equal({ n: 2 });
      });

      it('writes nothing for a new session with no data', async () => {
        const { manager, adapter } = make();
        manager.create();
        await pass(clock, 3 * INTERVAL);
        expect(adapter.keys()).to.deep.equal([]);
        expect(manager.stats().checkpoints).to.equal(0);
      });

      it('after a crash, the cookie restores the checkpoint under the same id with its data and persistKey, and it is written again at once', async () => {
        const { manager, adapter } = make();
        const s = manager.create({ cart: ['apple', 'pear'] });
        s.persistKey = 'user:7';
        await pass(clock);
        // The process dies: nothing closes. A new one starts on the same store.
        const next = new SessionManager<Data>({ adapter, checkpointInterval: INTERVAL });
        const found = await next.resume(s.id);
        expect(found.kind).to.equal('restored');
        if (found.kind !== 'restored') return;
        expect(found.session.id).to.equal(s.id);
        expect(found.session.data).to.deep.equal({ cart: ['apple', 'pear'] });
        expect(found.session.persistKey).to.equal('user:7');
        next.release(found.session);
        await flushMicrotasks(50);
        const record = adapter.record(s.id);
        expect(record?.kind === 'snapshot' && record.snapshot.reason, 'written again before any interval').to.equal('checkpoint');
      });

      it('after a restore of an evicted session, a crash loses nothing: the cookie restores it again in the next process', async () => {
        const { manager, adapter } = make();
        const s = manager.create({ cart: ['apple'] });
        await manager.close(s.id, 'evicted');
        const restored = await resumeAndRelease(manager, s.id);
        expect(restored.kind).to.equal('restored');
        await flushMicrotasks(50);
        // The process dies before any interval: nothing closes. A new one starts on the same store.
        const next = new SessionManager<Data>({ adapter, checkpointInterval: INTERVAL });
        const found = await next.resume(s.id);
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ cart: ['apple'] });
        if (found.kind === 'restored') next.release(found.session);
      });

      it('the checkpoint written after a restore is never taken by restore(key) or restoreInto while its session is live here, and an explicit close erases it', async () => {
        const { manager, adapter } = make();
        const s = manager.create({ n: 1 });
        await manager.close(s.id, 'evicted');
        const found = await manager.resume(s.id);
        expect(found.kind).to.equal('restored');
        await flushMicrotasks(50);
        expect(await manager.restore(s.id)).to.equal(undefined);
        const other = manager.create({ n: 9 });
        expect(await other.restore(s.id)).to.equal(false);
        expect(other.data).to.deep.equal({ n: 9 });
        if (found.kind === 'restored') manager.release(found.session);
        await manager.close(s.id);
        await flushMicrotasks(50);
        const record = adapter.record(s.id);
        expect(record?.kind === 'pointer' && record.pointer.reason, 'a pointer that restores nothing').to.equal('closed');
      });

      it('an involuntary close replaces the checkpoint with its snapshot', async () => {
        const { manager, adapter } = make();
        const s = manager.create({ n: 1 });
        await pass(clock);
        s.data.n = 2;
        await manager.close(s.id, 'evicted');
        await flushMicrotasks(50);
        const record = adapter.record(s.id);
        expect(record?.kind === 'snapshot' && record.snapshot).to.deep.include({ reason: 'evicted', data: { n: 2 } });
        expect(adapter.keys()).to.deep.equal([s.id]);
      });

      for (const how of ['an explicit close', 'persist = false', 'a regenerate'] as const) {
        it(`${how} erases the checkpoint: the old id restores nothing after a crash`, async () => {
          const { manager, adapter } = make();
          const s = manager.create({ n: 1 });
          const oldId = s.id;
          await pass(clock);
          if (how === 'an explicit close') await manager.close(s.id);
          if (how === 'persist = false') {
            manager.onClose((session) => {
              session.persist = false;
            });
            await manager.close(s.id, 'expired');
          }
          if (how === 'a regenerate') s.regenerate();
          await flushMicrotasks(50);
          const record = adapter.record(oldId);
          expect(record?.kind === 'pointer' && record.pointer.reason, 'a pointer that restores nothing').to.equal('closed');
          const next = new SessionManager<Data>({ adapter, checkpointInterval: INTERVAL });
          expect((await resumeAndRelease(next, oldId)).kind).to.equal('none');
          if (how !== 'a regenerate') return;
          await pass(clock);
          const moved = adapter.record(s.id);
          expect(moved?.kind === 'snapshot' && moved.snapshot).to.deep.include({ reason: 'checkpoint', sessionId: s.id, data: { n: 1 } });
        });
      }

      it('restore(key) and restoreInto never take a checkpoint of a session live here', async () => {
        const { manager } = make();
        const s = manager.create({ n: 1 });
        await pass(clock);
        expect(await manager.restore(s.id)).to.equal(undefined);
        const other = manager.create({ n: 9 });
        expect(await other.restore(s.id)).to.equal(false);
        expect(other.data).to.deep.equal({ n: 9 });
        expect(s.state).to.equal('live');
      });

      it('a checkpoint the queue gives up is not a persistFailed; the next pass writes it again', async () => {
        // Written at 1 000 ms, restorable until 2 500 ms: every retry fails, and the one at 2 500 ms gives it up.
        const { manager, adapter, events } = kind.make<Data>({ checkpointInterval: INTERVAL, snapshotTtl: 1_500 });
        adapter.failSaves = true;
        const s = manager.create({ n: 1 });
        // Retry jitter pinned (full delays: retries 100, 300, 700 and 1 500 ms after each write), so the give-ups fall at known times.
        const random = Math.random;
        Math.random = () => 0.999;
        try {
          await pass(clock);
          await pass(clock, 4_000);
        } finally {
          Math.random = random;
        }
        expect(manager.stats().checkpointFailures).to.be.at.least(1);
        expect(events.persistFailed).to.deep.equal([]);
        adapter.failSaves = false;
        // Restorable for 1 500 ms once written: look every 250 ms for the next interval and a half.
        let seen: string | undefined;
        for (let step = 0; step < 6 && seen === undefined; step++) {
          await pass(clock, 250);
          const record = adapter.record(s.id);
          if (record?.kind === 'snapshot') seen = record.snapshot.reason;
        }
        expect(seen).to.equal('checkpoint');
      });
    });
  }

  it('a pass over 10,000 changed sessions writes every one', async () => {
    const { manager, adapter } = makeOrderedManager<Data>({ checkpointInterval: INTERVAL, maxSessions: 20_000 });
    for (let i = 0; i < 10_000; i++) manager.create({ cart: [`item-${i}`, 'x'.repeat(200)] });
    await clock.tickAsync(INTERVAL);
    while (manager.stats().checkpoints < 10_000) await nextTurn();
    expect(adapter.keys()).to.have.length(10_000);
    expect(manager.stats()).to.include({ checkpoints: 10_000, checkpointFailures: 0, persisted: 0 });
  });

  describe('the checkpointInterval option', () => {
    it('defaults to 5 s on a durable adapter and to off on an ephemeral one', () => {
      const durable = new OrderedTestAdapter();
      (durable as { ephemeral: boolean }).ephemeral = false;
      expect(new SessionManager({ adapter: durable }).getOption('checkpointInterval')).to.equal(5_000);
      expect(new SessionManager({ adapter: new TestAdapter() }).getOption('checkpointInterval')).to.equal(0);
      expect(new SessionManager({ adapter: new TestAdapter(), checkpointInterval: 2_000 }).getOption('checkpointInterval')).to.equal(2_000);
    });

    it('0 turns checkpoints off', async () => {
      const durable = new OrderedTestAdapter();
      (durable as { ephemeral: boolean }).ephemeral = false;
      const manager = new SessionManager<Data>({ adapter: durable, checkpointInterval: 0 });
      manager.create({ n: 1 });
      await pass(clock, 20_000);
      expect(durable.keys()).to.deep.equal([]);
    });

    for (const bad of [-1, 2 ** 31, Number.NaN, '5000']) {
      it(`refuses ${String(bad)} with a message that says 0 is off`, () => {
        const build = () => new SessionManager({ adapter: new TestAdapter(), checkpointInterval: bad as number });
        expect(build).to.throw(
          OptionError,
          /^checkpointInterval must be (a positive, finite number of ms|at most 2147483647 ms \(.*\)) or 0 \(off\), got /,
        );
      });
    }

    it('setOption changes it from the next pass on', async () => {
      const { manager, adapter } = makeOrderedManager<Data>({ checkpointInterval: 0 });
      manager.setOption('checkpointInterval', INTERVAL);
      const s = manager.create({ n: 1 });
      await pass(clock);
      expect(adapter.record(s.id)?.kind).to.equal('snapshot');
    });
  });
});
