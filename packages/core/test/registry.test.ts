import { expect } from 'chai';
import { OptionError, SessionClosedError } from '../src/errors.js';
import { isSessionId } from '../src/session-id.js';
import { installClock, type Clock } from './support/clock.js';
import { flushMicrotasks } from './support/deferred.js';
import { makeManager } from './support/manager.js';

describe('registry: cap, LRU eviction, touch, get, regenerate', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  describe('sessions()', () => {
    it('lists the live sessions without touching them, and leaves out one that is closing', async () => {
      const { manager } = makeManager({ maxSessions: 10 });
      const a = manager.create({ n: 1 });
      const b = manager.create({ n: 2 });
      const before = a.lastActiveAt;
      clock.tick(1_000);
      expect(
        manager
          .sessions()
          .map((s) => s.id)
          .sort(),
      ).to.deep.equal([a.id, b.id].sort());
      expect(a.lastActiveAt).to.equal(before);
      const closing = manager.close(a.id);
      expect(manager.sessions().map((s) => s.id)).to.deep.equal([b.id]);
      await closing;
      expect(manager.sessions().map((s) => s.id)).to.deep.equal([b.id]);
    });
  });

  describe('create', () => {
    it('creates live sessions with fresh, well-formed ids and the given data', () => {
      const { manager } = makeManager({ maxSessions: 10 });
      const a = manager.create({ n: 1 });
      const b = manager.create();
      expect(isSessionId(a.id)).to.equal(true);
      expect(a.id).to.not.equal(b.id);
      expect(a.state).to.equal('live');
      expect(a.data).to.deep.equal({ n: 1 });
      expect(b.data).to.deep.equal({});
      expect(a.persistKey).to.equal(a.id);
      expect(a.persist).to.equal(true);
      expect(a.createdAt).to.equal(Date.now());
      expect(a.isNew).to.equal(true);
      expect(manager.size).to.equal(2);
      expect(manager.get(a.id)).to.equal(a);
      expect(manager.stats()).to.include({ live: 2, created: 2, busy: 0, overCap: 0 });
    });

    it('never evicts the session it creates (cap 1: each create evicts the previous one)', async () => {
      const { manager, events } = makeManager({ maxSessions: 1 });
      const a = manager.create();
      const b = manager.create();
      expect(manager.get(b.id)).to.equal(b);
      expect(b.state).to.equal('live');
      expect(a.state).to.not.equal('live');
      const c = manager.create();
      expect(c.state).to.equal('live');
      expect(manager.size).to.equal(1);
      await flushMicrotasks();
      expect(events.closes.map((close) => [close.id, close.reason])).to.deep.equal([
        [a.id, 'evicted'],
        [b.id, 'evicted'],
      ]);
    });

    it('evicts nothing when the data is refused', () => {
      const { manager } = makeManager({ maxSessions: 1 });
      const a = manager.create();
      expect(() => manager.create(42 as never)).to.throw(TypeError);
      expect(() => manager.create([] as never)).to.throw(TypeError);
      expect(a.state).to.equal('live');
      expect(manager.size).to.equal(1);
      expect(manager.stats().created).to.equal(1);
    });
  });

  describe('LRU eviction', () => {
    it('evicts in exact order of last activity within the probation segment (sessions created, never touched)', async () => {
      const { manager, events } = makeManager({ maxSessions: 3 });
      const a = manager.create();
      const b = manager.create();
      const c = manager.create();
      const d = manager.create(); // evicts a -> b c d
      expect(manager.get(a.id)).to.equal(undefined);
      expect(a.state).to.equal('closing');
      manager.create(); // evicts b
      manager.create(); // evicts c
      await flushMicrotasks();
      expect(events.closes.map((close) => close.id)).to.deep.equal([a.id, b.id, c.id]);
      expect(d.state).to.equal('live');
      expect(events.closes.every((close) => close.reason === 'evicted')).to.equal(true);
      expect(manager.stats().closed).to.deep.equal({ evicted: 3, expired: 0, closed: 0, shutdown: 0, handover: 0 });
    });

    it('evicts in exact order of last activity among returning visitors once no probation session is idle (touch)', async () => {
      const { manager, events } = makeManager({ maxSessions: 3 });
      const a = manager.create();
      const b = manager.create();
      const c = manager.create();
      for (const session of [b, a, c]) manager.touch(session.id); // all returning; order b a c
      const d = manager.create(); // evicts b -> a c | d
      expect(b.state).to.equal('closing');
      c.touch(); // LiveSession.touch(): a c
      manager.acquire(d.id); // d busy: no probation session is idle
      manager.create(); // evicts a
      expect(a.state).to.equal('closing');
      expect([c.state, d.state]).to.deep.equal(['live', 'live']);
      await flushMicrotasks();
      expect(events.closes.map((close) => close.id)).to.deep.equal([b.id, a.id]);
    });

    it('get() does not touch: the session read stays the eviction victim', () => {
      const { manager } = makeManager({ maxSessions: 2 });
      const a = manager.create();
      const b = manager.create();
      expect(manager.get(a.id)).to.equal(a);
      const before = a.lastActiveAt;
      clock.tick(10);
      manager.get(a.id);
      expect(a.lastActiveAt).to.equal(before);
      manager.create();
      expect(a.state).to.equal('closing');
      expect(b.state).to.equal('live');
    });

    it('touch() moves a session to most recent so the other one is evicted', () => {
      const { manager } = makeManager({ maxSessions: 2 });
      const a = manager.create();
      const b = manager.create();
      expect(manager.touch(a.id)).to.equal(true);
      manager.create();
      expect(a.state).to.equal('live');
      expect(b.state).to.equal('closing');
    });

    it('touch() of an unknown id is false', () => {
      const { manager } = makeManager();
      expect(manager.touch('AAAAAAAAAAAAAAAAAAAAAAAA')).to.equal(false);
      expect(manager.touch('nope')).to.equal(false);
    });

    it('the victim is the least recently active session with no request in flight', () => {
      const { manager } = makeManager({ maxSessions: 3 });
      const a = manager.create();
      const b = manager.create();
      const c = manager.create();
      expect(manager.acquire(a.id)).to.equal(a);
      expect(manager.acquire(b.id)).to.equal(b);
      expect(a.busy).to.equal(true);
      expect(manager.stats().busy).to.equal(2);
      manager.create();
      expect(a.state).to.equal('live');
      expect(b.state).to.equal('live');
      expect(c.state).to.equal('closing');
    });

    it('busy sessions are never evicted: all busy -> the new one is admitted over the cap', () => {
      const { manager } = makeManager({ maxSessions: 2 });
      const a = manager.acquire(manager.create().id)!;
      const b = manager.acquire(manager.create().id)!;
      const c = manager.acquire(manager.create().id)!;
      expect([a, b, c].map((s) => s.state)).to.deep.equal(['live', 'live', 'live']);
      expect(manager.size).to.equal(3);
      expect(manager.stats()).to.include({ live: 3, busy: 3, overCap: 1 });
      const d = manager.acquire(manager.create().id)!;
      expect(d.state).to.equal('live');
      expect(manager.stats().overCap).to.equal(2);
    });

    it('the cap is restored as soon as sessions go idle (on release)', async () => {
      const { manager, events } = makeManager({ maxSessions: 2 });
      const a = manager.acquire(manager.create().id)!;
      const b = manager.acquire(manager.create().id)!;
      const c = manager.acquire(manager.create().id)!;
      expect(manager.stats().overCap).to.equal(1);
      // c's request ends first: c is the only idle session, so it goes (its cookie went out with that response).
      manager.release(c);
      expect(c.state).to.equal('closing');
      expect(manager.stats().overCap).to.equal(0);
      expect(manager.size).to.equal(2);
      manager.release(a);
      manager.release(b);
      expect(a.state).to.equal('live');
      expect(b.state).to.equal('live');
      await flushMicrotasks();
      expect(events.closes.map((close) => [close.id, close.reason])).to.deep.equal([[c.id, 'evicted']]);
    });

    it('a session held by two requests stays busy until both release it', () => {
      const { manager } = makeManager({ maxSessions: 1 });
      const a = manager.create();
      manager.acquire(a.id);
      manager.acquire(a.id);
      manager.release(a);
      expect(a.busy).to.equal(true);
      const b = manager.create();
      expect(a.state).to.equal('live');
      expect(manager.stats().busy).to.equal(1);
      manager.release(a);
      expect(a.busy).to.equal(false);
      expect(manager.stats().busy).to.equal(0);
      // a is now the most recent idle session; b is older, so b is evicted to restore the cap.
      expect(b.state).to.equal('closing');
      expect(a.state).to.equal('live');
      manager.release(a); // extra release: no effect
      expect(manager.stats().busy).to.equal(0);
    });

    it('release() ends isNew and marks activity', () => {
      const { manager } = makeManager();
      const a = manager.acquire(manager.create().id)!;
      expect(a.isNew).to.equal(true);
      clock.tick(500);
      manager.release(a);
      expect(a.isNew).to.equal(false);
      expect(a.lastActiveAt).to.equal(Date.now());
    });

    it('acquire() of an unknown or closing session is undefined', async () => {
      const { manager } = makeManager();
      const a = manager.create();
      expect(manager.acquire('AAAAAAAAAAAAAAAAAAAAAAAA')).to.equal(undefined);
      const closing = manager.close(a.id);
      expect(manager.acquire(a.id)).to.equal(undefined);
      await closing;
      expect(manager.acquire(a.id)).to.equal(undefined);
    });
  });

  describe('close', () => {
    it('is true for the call that closed it and false after (unknown, closing or closed)', async () => {
      const { manager } = makeManager();
      const a = manager.create();
      const first = manager.close(a.id);
      const second = manager.close(a.id);
      expect(await first).to.equal(true);
      expect(await second).to.equal(false);
      expect(await manager.close(a.id)).to.equal(false);
      expect(await a.close()).to.equal(false);
      expect(await manager.close('AAAAAAAAAAAAAAAAAAAAAAAA')).to.equal(false);
      expect(a.state).to.equal('closed');
      expect(a.closeReason).to.equal('closed');
      expect(manager.stats().closed.closed).to.equal(1);
    });

    it('rejects an unknown reason with an OptionError and leaves the session live', async () => {
      const { manager } = makeManager();
      const a = manager.create();
      let caught: unknown;
      try {
        await manager.close(a.id, 'bogus' as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(OptionError);
      expect((caught as Error).message).to.match(/unknown reason "bogus"/);
      expect(a.state).to.equal('live');
    });

    it('frees the slot at once (synchronously)', () => {
      const { manager } = makeManager({ maxSessions: 1 });
      const a = manager.create();
      void manager.close(a.id);
      expect(manager.size).to.equal(0);
      expect(manager.stats().closing).to.equal(1);
      const b = manager.create();
      expect(b.state).to.equal('live');
      expect(manager.stats().closed.evicted).to.equal(0);
    });
  });

  describe('regenerate', () => {
    it('moves the session to a new id; the old id is dead at once', async () => {
      const { manager } = makeManager();
      const a = manager.create({ x: 1 });
      const old = a.id;
      const fresh = a.regenerate();
      expect(fresh).to.equal(a.id);
      expect(fresh).to.not.equal(old);
      expect(isSessionId(fresh)).to.equal(true);
      expect(manager.get(old)).to.equal(undefined);
      expect(manager.acquire(old)).to.equal(undefined);
      expect(manager.touch(old)).to.equal(false);
      expect(await manager.close(old)).to.equal(false);
      expect(await manager.resume(old)).to.deep.equal({ kind: 'none' });
      expect(manager.stats().busy, 'resume() of the live new id holds it; of the old one, nothing').to.equal(0);
      expect(manager.get(fresh)).to.equal(a);
      expect(a.state).to.equal('live');
      expect(a.data).to.deep.equal({ x: 1 });
      expect(manager.size).to.equal(1);
    });

    it('is not a close: no hook, no close event, no counter', async () => {
      let hookRuns = 0;
      const { manager, events } = makeManager({ onClose: () => void (hookRuns += 1) });
      const a = manager.create();
      manager.regenerate(a);
      await flushMicrotasks();
      expect(hookRuns).to.equal(0);
      expect(events.closes).to.deep.equal([]);
      expect(manager.stats().closed).to.deep.equal({ evicted: 0, expired: 0, closed: 0, shutdown: 0, handover: 0 });
    });

    it('the default persistKey follows the id; a custom one stays', async () => {
      const { manager, adapter } = makeManager();
      const a = manager.create();
      const b = manager.create();
      b.persistKey = 'user:42';
      a.regenerate();
      b.regenerate();
      expect(a.persistKey).to.equal(a.id);
      expect(a.hasCustomPersistKey).to.equal(false);
      expect(b.persistKey).to.equal('user:42');
      await manager.close(a.id, 'expired');
      expect(adapter.record(a.id)?.kind).to.equal('snapshot');
    });

    it('keeps the session in the registry with its eviction order', () => {
      const { manager } = makeManager({ maxSessions: 2 });
      const a = manager.create();
      const b = manager.create();
      a.regenerate();
      manager.create();
      expect(a.state).to.equal('closing');
      expect(b.state).to.equal('live');
    });

    it('throws a SessionClosedError on a closing or closed session', async () => {
      const { manager } = makeManager();
      const a = manager.create();
      const closing = a.close();
      expect(() => a.regenerate()).to.throw(SessionClosedError);
      await closing;
      expect(() => a.regenerate()).to.throw(SessionClosedError, /closed/);
    });
  });

  describe('getExpiration', () => {
    it('is lastActiveAt + idleTimeout, slid by touch, undefined when unknown or closed', async () => {
      const { manager } = makeManager({ idleTimeout: 60_000 });
      const a = manager.create();
      const t0 = Date.now();
      expect(manager.getExpiration(a.id)).to.equal(t0 + 60_000);
      expect(a.expiresAt).to.equal(t0 + 60_000);
      clock.tick(1_000);
      manager.touch(a.id);
      expect(manager.getExpiration(a.id)).to.equal(t0 + 61_000);
      expect(a.lastActiveAt).to.equal(t0 + 1_000);
      expect(manager.getExpiration('AAAAAAAAAAAAAAAAAAAAAAAA')).to.equal(undefined);
      await a.close();
      expect(manager.getExpiration(a.id)).to.equal(undefined);
    });

    it('is capped by the absolute timeout', () => {
      const { manager } = makeManager({ idleTimeout: 60_000, absoluteTimeout: 90_000 });
      const a = manager.create();
      const t0 = Date.now();
      clock.tick(50_000);
      manager.touch(a.id);
      expect(manager.getExpiration(a.id)).to.equal(t0 + 90_000);
    });
  });

  describe('stats', () => {
    it('returns a copy (mutating it changes nothing)', () => {
      const { manager } = makeManager();
      manager.create();
      const stats = manager.stats();
      stats.closed.evicted = 99;
      stats.created = 99;
      expect(manager.stats().closed.evicted).to.equal(0);
      expect(manager.stats().created).to.equal(1);
    });
  });
});
