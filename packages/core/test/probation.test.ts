import { expect } from 'chai';
import fc from 'fast-check';
import type { LiveSession } from '../src/live-session.js';
import type { SessionManager } from '../src/session-manager.js';
import type { SessionData } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { flushMicrotasks } from './support/deferred.js';
import { makeManager, makeOrderedManager, resumeAndRelease } from './support/manager.js';

/** What a cookie-less writing request does to the manager: creates a session, holds it, releases it. */
function oneShot<TData extends SessionData>(manager: SessionManager<TData>, clock: Clock): LiveSession<TData> {
  const session = manager.create();
  manager.acquire(session.id);
  clock.tick(1);
  manager.release(session);
  return session;
}

/** A request on a live session's cookie: holds it and releases it. */
function visit<TData extends SessionData>(manager: SessionManager<TData>, session: LiveSession<TData>, clock: Clock): void {
  expect(manager.acquire(session.id), 'the session is live').to.equal(session);
  clock.tick(1);
  manager.release(session);
}

describe('cap: the probation segment (visitors who never came back are evicted first)', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it('a visitor who came back outlives one-shot sessions that are more recently active', async () => {
    const { manager, events } = makeManager({ maxSessions: 3 });
    const returning = oneShot(manager, clock);
    visit(manager, returning, clock); // its second request
    const first = oneShot(manager, clock);
    const second = oneShot(manager, clock);
    expect(manager.stats().probation).to.equal(2);
    oneShot(manager, clock); // evicts `first`, not the older `returning`
    oneShot(manager, clock); // evicts `second`
    await flushMicrotasks();
    expect(events.closes.map((close) => close.id)).to.deep.equal([first.id, second.id]);
    expect(returning.state).to.equal('live');
  });

  it('the creating request alone does not make a visitor returning, however long it runs', () => {
    const { manager } = makeManager({ maxSessions: 2 });
    const slow = manager.create();
    manager.acquire(slow.id);
    manager.acquire(slow.id); // a second hold during the creating request (a parallel request of the same page)
    manager.release(slow);
    manager.release(slow);
    const later = oneShot(manager, clock);
    expect(manager.stats().probation).to.equal(2);
    oneShot(manager, clock);
    expect(slow.state, 'the older one-shot goes first').to.equal('closing');
    expect(later.state).to.equal('live');
  });

  it('a request during the creating one (its cookie already out) is not a return; a request after it is', () => {
    const { manager } = makeManager({ maxSessions: 10 });
    const session = manager.create();
    manager.acquire(session.id);
    expect(session.isNew).to.equal(true);
    manager.release(session);
    expect(manager.stats().probation).to.equal(1);
    manager.acquire(session.id);
    expect(manager.stats().probation, 'held: in no segment').to.equal(0);
    manager.release(session);
    expect(manager.stats().probation, 'returned').to.equal(0);
  });

  it("a restored session is a returning visitor's", async () => {
    const { manager } = makeOrderedManager({ maxSessions: 2 });
    const evicted = oneShot(manager, clock);
    const id = evicted.id;
    oneShot(manager, clock);
    oneShot(manager, clock); // evicts `evicted`
    await flushMicrotasks();
    const found = await resumeAndRelease(manager, id);
    expect(found.kind).to.equal('restored');
    const restored = manager.get(id)!;
    oneShot(manager, clock);
    oneShot(manager, clock);
    expect(restored.state, 'the one-shots went, the restored visitor stayed').to.equal('live');
  });

  it('touch() makes a session returning and keeps it in the eviction order', () => {
    const { manager } = makeManager({ maxSessions: 2 });
    const touched = manager.create();
    const other = manager.create();
    expect(manager.stats().probation).to.equal(2);
    expect(manager.touch(touched.id)).to.equal(true);
    expect(manager.stats().probation).to.equal(1);
    manager.create();
    expect(other.state).to.equal('closing');
    expect(touched.state).to.equal('live');
  });

  it('when every probation session is busy, the least recently active returning visitor goes', () => {
    const { manager } = makeManager({ maxSessions: 3 });
    const old = oneShot(manager, clock);
    visit(manager, old, clock);
    const recent = oneShot(manager, clock);
    visit(manager, recent, clock);
    const busy = manager.create();
    manager.acquire(busy.id);
    manager.create();
    expect(old.state).to.equal('closing');
    expect([recent.state, busy.state]).to.deep.equal(['live', 'live']);
  });

  it('a flood of 10,000 one-shot sessions evicts none of 50 returning visitors, at the default cap', async () => {
    const { manager, events } = makeManager({ maxSessions: 100 });
    const visitors = Array.from({ length: 50 }, () => oneShot(manager, clock));
    for (const visitor of visitors) visit(manager, visitor, clock);
    for (let i = 0; i < 10_000; i++) oneShot(manager, clock);
    // The closes finish as the write batches come back (a bounded number in flight).
    for (let round = 0; round < 10_000 && events.closes.length < 10_000 - 50; round++) await flushMicrotasks();
    const evictedVisitors = visitors.filter((visitor) => visitor.state !== 'live').length;
    expect(evictedVisitors).to.equal(0);
    expect(manager.stats().closed.evicted).to.equal(10_000 - 50);
    expect(manager.stats()).to.include({ live: 100, probation: 50 });
    expect(new Set(events.closes.map((close) => close.id)).size).to.equal(10_000 - 50);
  });

  it('under any interleaving of creations, returns, touches and holds, the victim is the oldest idle probation session, else the oldest idle returning one', () => {
    type Step =
      | { t: 'create' }
      | { t: 'visit'; pick: number }
      | { t: 'touch'; pick: number }
      | { t: 'hold'; pick: number }
      | { t: 'release'; pick: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant({ t: 'create' as const }),
      fc.record({ t: fc.constant('visit' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('touch' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('hold' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('release' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 60 }), (cap, steps) => {
        const { manager } = makeManager({ maxSessions: cap });
        // The model: each live session's segment and last activity; the held ones are not idle.
        const model = new Map<LiveSession<SessionData>, { returning: boolean; at: number; holds: number; created: boolean }>();
        let tick = 0;
        const expectedVictim = (): LiveSession<SessionData> | undefined => {
          const idle = [...model].filter(([, m]) => m.holds === 0);
          const oldest = (returning: boolean) =>
            idle.filter(([, m]) => m.returning === returning).sort((x, y) => x[1].at - y[1].at)[0]?.[0];
          return oldest(false) ?? oldest(true);
        };
        const pickLive = (pick: number) => [...model.keys()][pick % Math.max(1, model.size)];
        for (const s of steps) {
          tick += 1;
          if (s.t === 'create') {
            const victim = model.size >= cap ? expectedVictim() : undefined;
            const session = manager.create();
            if (victim !== undefined) {
              expect(victim.state, `step ${tick}: the expected victim`).to.equal('closing');
              model.delete(victim);
            }
            for (const [live] of model) expect(live.state, `step ${tick}: only the victim closes`).to.equal('live');
            model.set(session, { returning: false, at: tick, holds: 0, created: false });
            continue;
          }
          const session = pickLive(s.pick);
          if (session === undefined) continue;
          const m = model.get(session)!;
          let madeIdle = false;
          if (s.t === 'touch') {
            manager.touch(session.id);
            m.returning = true;
            m.at = tick;
          } else if (s.t === 'hold' || s.t === 'visit') {
            manager.acquire(session.id);
            if (m.created) m.returning = true;
            m.holds += 1;
            if (s.t === 'visit') {
              manager.release(session);
              m.holds -= 1;
              if (m.holds === 0) {
                m.created = true;
                m.at = tick;
                madeIdle = true;
              }
            }
          } else if (m.holds > 0) {
            manager.release(session);
            m.holds -= 1;
            if (m.holds === 0) {
              m.created = true;
              m.at = tick;
              madeIdle = true;
            }
          }
          // A release that makes a session idle restores the cap as far as idle sessions allow.
          while (madeIdle && model.size > cap) {
            const victim = expectedVictim();
            if (victim === undefined) break;
            expect(victim.state, `step ${tick}: the cap is restored with the expected victim`).to.equal('closing');
            model.delete(victim);
          }
          for (const [live] of model) expect(live.state, `step ${tick}: only victims close`).to.equal('live');
        }
        expect(manager.stats().probation).to.equal([...model.values()].filter((m) => m.holds === 0 && !m.returning).length);
      }),
      { numRuns: 500 },
    );
  });
});
