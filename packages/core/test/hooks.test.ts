import { expect } from 'chai';
import { HookError } from '../src/errors.js';
import type { LiveSessionView, Snapshot } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { captureWarnings } from './support/events.js';
import { makeManager, resumeAndRelease } from './support/manager.js';
import { redactId } from '../src/redact.js';
import { SessionManager } from '../src/session-manager.js';
import { TestAdapter } from './support/test-adapter.js';

type Data = { user?: string; cart?: string[]; note?: string };

function snapshotOf(adapter: TestAdapter, key: string): Snapshot {
  const record = adapter.record(key);
  if (record?.kind !== 'snapshot') throw new Error(`no snapshot under ${key}`);
  return record.snapshot;
}

describe('closing and restore hooks', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it('run in registration order (options, then onClose()), with the reason, data and live intact', async () => {
    const seen: string[] = [];
    const socket = { close: () => void seen.push('disposed') };
    const hook = (name: string) => (session: LiveSessionView<Data>, reason: string) => {
      seen.push(`${name}:${reason}:${session.data.user}:${session.live.get('socket') === socket}:${session.state}`);
    };
    const { manager } = makeManager<Data>({ onClose: [hook('a'), hook('b')] });
    manager.onClose(hook('c'));
    const s = manager.create({ user: 'ann' });
    s.live.set('socket', socket);
    expect(await manager.close(s.id, 'expired')).to.equal(true);
    expect(seen).to.deep.equal(['a:expired:ann:true:closing', 'b:expired:ann:true:closing', 'c:expired:ann:true:closing', 'disposed']);
  });

  it('a single hook may be given without an array; each close runs the hooks exactly once', async () => {
    let runs = 0;
    const { manager } = makeManager({ onClose: () => void (runs += 1) });
    const s = manager.create();
    await Promise.all([manager.close(s.id), manager.close(s.id), s.close()]);
    expect(runs).to.equal(1);
  });

  it("the 'close' event comes after the hooks, with state 'closed'", async () => {
    const order: string[] = [];
    const { manager } = makeManager({ onClose: () => void order.push('hook') });
    manager.on('close', (session, reason) => order.push(`event:${reason}:${session.state}`));
    const s = manager.create();
    await manager.close(s.id, 'evicted');
    expect(order).to.deep.equal(['hook', 'event:evicted:closed']);
  });

  it('a later hook waits for an earlier async hook', async () => {
    const gate = deferred();
    const order: string[] = [];
    const { manager } = makeManager({
      onClose: [
        async () => {
          order.push('first:start');
          await gate.promise;
          order.push('first:end');
        },
        () => void order.push('second'),
      ],
    });
    const s = manager.create();
    const closing = manager.close(s.id);
    await flushMicrotasks();
    expect(order).to.deep.equal(['first:start']);
    expect(s.state).to.equal('closing');
    gate.resolve();
    await closing;
    expect(order).to.deep.equal(['first:start', 'first:end', 'second']);
  });

  describe('a hook that creates a session', () => {
    it('at the cap: the outer create() returns, the hook runs after it, and the cap holds once everything settled', async () => {
      const created: string[] = [];
      let hookRuns = 0;
      const { manager, events } = makeManager<Data>({
        maxSessions: 1,
        onClose: (_session, reason) => {
          hookRuns += 1;
          // Only the first close creates (an audit session, say): each create at the cap evicts.
          if (hookRuns === 1) created.push(manager.create({ note: `after ${reason}` }).id);
        },
      });
      const first = manager.create({ user: 'ann' });
      const second = manager.create({ user: 'bob' });
      expect(second.state, 'the outer create() returned its session').to.equal('live');
      expect(first.state).to.equal('closing');
      expect(hookRuns, 'hooks start after create() returned (one microtask later)').to.equal(0);
      await flushMicrotasks(50);
      expect(hookRuns).to.equal(2);
      expect(created).to.have.length(1);
      expect(manager.get(created[0]!)?.data).to.deep.equal({ note: 'after evicted' });
      expect(second.state).to.not.equal('live');
      expect(manager.size).to.equal(1);
      expect(events.closes.map((c) => c.reason)).to.deep.equal(['evicted', 'evicted']);
      expect(events.errors).to.deep.equal([]);
    });

    it('no hook runs synchronously inside close(): a close that evicts from a hook cannot re-enter the caller', async () => {
      const order: string[] = [];
      const { manager } = makeManager<Data>({ onClose: () => void order.push('hook') });
      const s = manager.create();
      const closing = manager.close(s.id, 'expired');
      order.push('after close()');
      await closing;
      expect(order).to.deep.equal(['after close()', 'hook']);
    });
  });

  describe('a failing hook', () => {
    it("is reported (an 'error' event, HookError ERR_REPRISE_HOOK) and the close goes on: snapshot written, slot freed", async () => {
      const boom = new Error('boom');
      const after: string[] = [];
      const { manager, adapter, events } = makeManager<Data>({
        maxSessions: 1,
        onClose: [
          function throwing() {
            throw boom;
          },
          async function rejecting() {
            throw new Error('async boom');
          },
          (session) => void after.push(session.data.user!),
        ],
      });
      const s = manager.create({ user: 'ann' });
      const id = s.id;
      expect(await manager.close(id, 'expired')).to.equal(true);
      expect(after).to.deep.equal(['ann']);
      expect(events.errors).to.have.length(2);
      const [first, second] = events.errors as HookError[];
      expect(first).to.be.instanceOf(HookError);
      expect(first!.code).to.equal('ERR_REPRISE_HOOK');
      expect(first!.sessionId, 'the id is redacted: a session id is a credential').to.equal(redactId(id));
      expect(first!.sessionId).to.equal(`${id.slice(0, 6)}…`);
      expect(first!.cause).to.equal(boom);
      expect(first!.message).to.equal(`closing hook throwing of session ${redactId(id)} threw`);
      for (const error of events.errors) expect(error.message).to.not.include(id);
      expect(second!.code).to.equal('ERR_REPRISE_HOOK');
      expect((second!.cause as Error).message).to.equal('async boom');
      expect(snapshotOf(adapter, id).data).to.deep.equal({ user: 'ann' });
      expect(manager.size).to.equal(0);
      expect(manager.stats().hookErrors).to.equal(2);
      expect(s.state).to.equal('closed');
      manager.create();
      expect(manager.stats().closed.evicted).to.equal(0);
    });

    it('passing hookTimeout is reported as ERR_REPRISE_HOOK_TIMEOUT and the next hook runs', async () => {
      const after: number[] = [];
      const { manager, adapter, events } = makeManager({
        hookTimeout: 1_000,
        onClose: [() => new Promise<void>(() => {}), () => void after.push(Date.now())],
      });
      const s = manager.create({ n: 1 });
      let done = false;
      const closing = manager.close(s.id, 'expired').then((closed) => {
        done = closed;
      });
      const t0 = Date.now();
      await clock.tickAsync(999);
      expect(done).to.equal(false);
      expect(after).to.deep.equal([]);
      expect(s.state).to.equal('closing');
      await clock.tickAsync(1);
      await closing;
      expect(done).to.equal(true);
      expect(after).to.deep.equal([t0 + 1_000]);
      expect(events.errors).to.have.length(1);
      expect(events.errors[0]).to.be.instanceOf(HookError);
      expect(events.errors[0]!.code).to.equal('ERR_REPRISE_HOOK_TIMEOUT');
      expect(events.errors[0]!.message).to.match(/passed 1000 ms/);
      expect(adapter.record(s.id)?.kind).to.equal('snapshot');
      expect(manager.stats().hookErrors).to.equal(1);
    });

    it("without an 'error' listener goes to process.emitWarning, never a throw", async () => {
      const adapter = new TestAdapter();
      const manager = new SessionManager({
        adapter,
        onClose: () => {
          throw new Error('unheard');
        },
      });
      const capture = captureWarnings();
      try {
        const s = manager.create();
        expect(await manager.close(s.id, 'expired')).to.equal(true);
        await new Promise<void>((resolve) => process.nextTick(resolve));
        await new Promise<void>((resolve) => process.nextTick(resolve));
        const warning = capture.warnings.find((w) => w instanceof HookError);
        expect(warning, 'a HookError warning').to.not.equal(undefined);
        expect((warning as HookError).code).to.equal('ERR_REPRISE_HOOK');
        expect(warning!.message, 'the warning names the session by a redacted id').to.not.include(s.id);
        expect(adapter.record(s.id)?.kind).to.equal('snapshot');
      } finally {
        capture.stop();
      }
    });
  });

  describe('what a hook may change', () => {
    it('data: the snapshot holds what the hooks left', async () => {
      const { manager, adapter } = makeManager<Data>({
        onClose: [
          (s) => {
            s.data.note = 'from hook';
          },
          (s) => {
            s.data = { user: 'replaced' };
          },
        ],
      });
      const s = manager.create({ user: 'ann', cart: ['x'] });
      await manager.close(s.id, 'expired');
      expect(snapshotOf(adapter, s.id).data).to.deep.equal({ user: 'replaced' });
    });

    it('persistKey: the snapshot goes under the new key', async () => {
      const { manager, adapter } = makeManager<Data>({
        onClose: (s) => {
          s.persistKey = `user:${s.data.user}`;
        },
      });
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'closed');
      const snapshot = snapshotOf(adapter, 'user:ann');
      expect(snapshot.sessionId).to.equal(s.id);
      expect(snapshot.key).to.equal('user:ann');
      expect(adapter.record(s.id)).to.equal(undefined);
    });

    it('persist = false: no snapshot is written', async () => {
      const { manager, adapter } = makeManager<Data>({
        onClose: (s) => {
          s.persist = false;
        },
      });
      const s = manager.create({ user: 'ann' });
      s.persistKey = 'user:ann';
      expect(await manager.close(s.id, 'evicted')).to.equal(true);
      expect(adapter.callsOf('save')).to.deep.equal([]);
      expect(adapter.keys()).to.deep.equal([]);
      expect(manager.stats().persisted).to.equal(0);
    });
  });

  describe('live resources', () => {
    it('are disposed after the hooks, last added first, with every kind of disposer, and never persisted', async () => {
      const order: string[] = [];
      const { manager, adapter } = makeManager({ onClose: () => void order.push('hook') });
      const s = manager.create({ kept: true });
      s.live.set('async', { [Symbol.asyncDispose]: async () => void order.push('asyncDispose') });
      s.live.set('sync', { [Symbol.dispose]: () => void order.push('dispose symbol') });
      s.live.set('method', { dispose: () => void order.push('dispose()') });
      s.live.set('plain', { value: 1 });
      s.live.set('closer', { close: async () => void order.push('close()') });
      s.live.set('number', 5);
      await manager.close(s.id, 'expired');
      expect(order).to.deep.equal(['hook', 'close()', 'dispose()', 'dispose symbol', 'asyncDispose']);
      expect(s.live.size).to.equal(0);
      const snapshot = snapshotOf(adapter, s.id);
      expect(snapshot.data).to.deep.equal({ kept: true });
      expect(adapter.entries.get(s.id)!.value).to.not.include('asyncDispose');
    });

    it('prefers Symbol.asyncDispose over dispose() and close() on one resource', async () => {
      const calls: string[] = [];
      const { manager } = makeManager();
      const s = manager.create();
      s.live.set('r', {
        [Symbol.asyncDispose]: async () => void calls.push('asyncDispose'),
        dispose: () => void calls.push('dispose'),
        close: () => void calls.push('close'),
      });
      await s.close();
      expect(calls).to.deep.equal(['asyncDispose']);
    });

    it('a failing disposal is reported (ERR_REPRISE_DISPOSE) and the others are still disposed', async () => {
      const disposed: string[] = [];
      const { manager, events } = makeManager();
      const s = manager.create();
      s.live.set('a', { close: () => void disposed.push('a') });
      s.live.set('b', {
        close: () => {
          throw new Error('cannot close');
        },
      });
      await s.close();
      expect(disposed).to.deep.equal(['a']);
      expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_DISPOSE']);
      expect(events.errors[0]!.message).to.include('"b"');
      expect(manager.stats().hookErrors).to.equal(1);
    });

    it('a disposal that passes hookTimeout is reported and the close finishes', async () => {
      const { manager, events } = makeManager({ hookTimeout: 500 });
      const s = manager.create();
      s.live.set('stuck', { close: () => new Promise(() => {}) });
      const closing = s.close();
      await clock.tickAsync(500);
      expect(await closing).to.equal(true);
      expect(s.state).to.equal('closed');
      expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_DISPOSE']);
    });
  });

  describe('restore hooks', () => {
    it('run in order with (session, snapshot) after a restore, to rebuild live', async () => {
      const calls: string[] = [];
      const { manager, events } = makeManager<Data>({
        onRestore: (session, snapshot) => {
          calls.push(`a:${snapshot.sessionId}:${snapshot.reason}:${session.data.user}:${session.state}`);
          session.live.set('socket', { rebuilt: true });
        },
      });
      manager.onRestore((session) => void calls.push(`b:${session.live.has('socket')}`));
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const found = await resumeAndRelease(manager, s.id);
      const restored = found.kind === 'restored' ? found.session : undefined;
      expect(restored?.id, 'restored under its own id').to.equal(s.id);
      expect(calls).to.deep.equal([`a:${s.id}:expired:ann:live`, 'b:true']);
      expect(restored!.live.get('socket')).to.deep.equal({ rebuilt: true });
      expect(events.restores).to.have.length(1);
      expect(events.restores[0]!.session).to.equal(restored);
      expect(events.restores[0]!.snapshot.data).to.deep.equal({ user: 'ann' });
    });

    it('a failing restore hook is reported and the restored session stays', async () => {
      const { manager, events } = makeManager<Data>({
        onRestore: () => {
          throw new Error('no db');
        },
      });
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'evicted');
      const found = await resumeAndRelease(manager, s.id);
      expect(found.kind).to.equal('restored');
      const restored = found.kind === 'restored' ? found.session : undefined;
      expect(restored?.state).to.equal('live');
      expect(restored?.data).to.deep.equal({ user: 'ann' });
      expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_HOOK']);
      expect(events.errors[0]!.message).to.match(/^restore hook/);
      expect(events.errors[0]!.message).to.not.include(s.id);
      expect((events.errors[0] as HookError).sessionId).to.equal(redactId(s.id));
      expect(manager.stats().hookErrors).to.equal(1);
    });

    it('the restored session is busy while the restore hooks run, so it cannot be evicted', async () => {
      const gate = deferred();
      const { manager } = makeManager<Data>({ maxSessions: 1, onRestore: () => gate.promise });
      const s = manager.create({ user: 'ann' });
      await manager.close(s.id, 'expired');
      const resuming = manager.resume(s.id);
      await flushMicrotasks();
      expect(manager.stats().busy).to.equal(1);
      const other = manager.create();
      expect(other.state).to.equal('live');
      expect(manager.stats().overCap).to.equal(1);
      gate.resolve();
      const found = await resuming;
      expect(found.kind).to.equal('restored');
      const restored = found.kind === 'restored' ? found.session : undefined;
      expect(restored?.state).to.equal('live');
      expect(other.state, 'still over the cap: the restored session is held for its caller').to.equal('live');
      manager.release(restored!);
      expect(restored?.state).to.equal('live');
      expect(other.state, 'once released, the least recently active idle one goes').to.equal('closing');
    });
  });
});
