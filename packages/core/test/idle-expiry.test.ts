import { expect } from 'chai';
import fc from 'fast-check';
import type { LiveSession } from '../src/live-session.js';
import type { SessionData } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { makeManager } from './support/manager.js';

/**
 * Expiry from the idle lists' heads: with one idle timeout, recency order is expiry order; the
 * deadlines out of that order (a lowered idleTimeout, an absolute timeout that comes first, a clock
 * that went backwards) are timed apart and still fire on time.
 */
describe('expiry from the recency order (fake timers)', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it('a session made active after idleTimeout was lowered expires at its own, earlier deadline, before older sessions', async () => {
    const { manager } = makeManager({ idleTimeout: 1_000 });
    const a = manager.create();
    manager.setOption('idleTimeout', 100);
    await clock.tickAsync(10);
    const b = manager.create();
    await clock.tickAsync(99);
    expect([a.state, b.state]).to.deep.equal(['live', 'live']);
    await clock.tickAsync(1);
    expect([a.state, b.state]).to.deep.equal(['live', 'closed']);
    await clock.tickAsync(889);
    expect(a.state).to.equal('live');
    await clock.tickAsync(1);
    expect(a.state).to.equal('closed');
  });

  it('an absolute deadline that comes before the idle order fires on time', async () => {
    const { manager } = makeManager({ idleTimeout: 5_000, absoluteTimeout: 1_000 });
    const a = manager.create();
    await clock.tickAsync(500);
    const b = manager.create();
    manager.touch(b.id);
    await clock.tickAsync(400);
    // Both returning visitors'; a is now the most recent, yet its deadline (absolute, t0 + 1000) is before b's (t0 + 1500).
    manager.touch(a.id);
    await clock.tickAsync(99);
    expect([a.state, b.state]).to.deep.equal(['live', 'live']);
    await clock.tickAsync(1);
    expect([a.state, b.state]).to.deep.equal(['closed', 'live']);
    await clock.tickAsync(499);
    expect(b.state).to.equal('live');
    await clock.tickAsync(1);
    expect(b.state).to.equal('closed');
  });

  it('a session made active after the clock went backwards expires at its deadline, behind one with a later deadline', async () => {
    let skew = 0;
    const { manager } = makeManager({ idleTimeout: 1_000, now: () => Date.now() + skew });
    const a = manager.create();
    skew = -500;
    const b = manager.create();
    expect(b.expiresAt).to.be.below(a.expiresAt);
    await clock.tickAsync(999);
    expect([a.state, b.state]).to.deep.equal(['live', 'live']);
    await clock.tickAsync(1);
    expect([a.state, b.state]).to.deep.equal(['live', 'closed']);
    await clock.tickAsync(499);
    expect(a.state).to.equal('live');
    await clock.tickAsync(1);
    expect(a.state).to.equal('closed');
  });

  it('requests on idle sessions arm no timer (the timer stays armed for the oldest deadline)', async () => {
    const { manager } = makeManager({ idleTimeout: 60_000, checkpointInterval: 0 });
    const sessions = Array.from({ length: 100 }, () => manager.create());
    await clock.tickAsync(1);
    const fake = globalThis.setTimeout;
    let armed = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      armed += 1;
      return fake(...args);
    }) as typeof setTimeout;
    try {
      for (let round = 0; round < 10; round += 1) {
        for (const session of sessions) {
          manager.release(manager.acquire(session.id)!);
          manager.touch(session.id);
        }
        await clock.tickAsync(100);
      }
    } finally {
      globalThis.setTimeout = fake;
    }
    expect(armed).to.equal(0);
    expect(clock.countTimers()).to.equal(1);
  });

  it('under any interleaving of creates, requests, touches, timeout changes and clock steps back, exactly the idle sessions whose deadline passed are expired', async () => {
    type Step =
      | { t: 'create' }
      | { t: 'acquire' | 'release' | 'touch'; pick: number }
      | { t: 'tick'; ms: number }
      | { t: 'idle'; ms: number }
      | { t: 'back'; ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant({ t: 'create' as const }),
      fc.record({ t: fc.constantFrom('acquire' as const, 'release' as const, 'touch' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ t: fc.constant('idle' as const), ms: fc.constantFrom(100, 300, 1_000) }),
      fc.record({ t: fc.constant('back' as const), ms: fc.integer({ min: 1, max: 300 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(undefined, 700), fc.array(step, { maxLength: 50 }), async (absolute, steps) => {
        let skew = 0;
        const now = (): number => Date.now() + skew;
        const { manager } = makeManager({ idleTimeout: 300, absoluteTimeout: absolute, now, maxSessions: 1_000, checkpointInterval: 0 });
        let idle = 300;
        const model = new Map<LiveSession<SessionData>, { created: number; deadline: number; holds: number }>();
        const active = (entry: { created: number; deadline: number }): void => {
          entry.deadline = Math.min(now() + idle, absolute === undefined ? Infinity : entry.created + absolute);
        };
        const pick = (n: number) => [...model][n % Math.max(1, model.size)];
        for (const s of steps) {
          if (s.t === 'create') {
            const entry = { created: now(), deadline: 0, holds: 0 };
            active(entry);
            model.set(manager.create(), entry);
          } else if (s.t === 'idle') {
            idle = s.ms;
            manager.setOption('idleTimeout', s.ms);
          } else if (s.t === 'back') {
            skew -= s.ms;
          } else if (s.t === 'tick') {
            await clock.tickAsync(s.ms);
          } else {
            const found = pick(s.pick);
            if (found === undefined) continue;
            const [session, entry] = found;
            if (s.t === 'acquire') {
              expect(manager.acquire(session.id)).to.equal(session);
              entry.holds += 1;
              active(entry);
            } else if (s.t === 'touch') {
              manager.touch(session.id);
              active(entry);
            } else if (entry.holds > 0) {
              manager.release(session);
              entry.holds -= 1;
              if (entry.holds === 0) active(entry);
            }
          }
          await clock.tickAsync(0);
          for (const [session, entry] of model) {
            const due = entry.holds === 0 && entry.deadline <= now();
            expect(session.state, `${JSON.stringify(s)}: deadline ${entry.deadline - now()} ms away, holds ${entry.holds}`).to.equal(
              due ? 'closed' : 'live',
            );
            if (!due) expect(session.expiresAt).to.equal(entry.deadline);
            if (due) model.delete(session);
          }
        }
        for (const [session, entry] of model) for (; entry.holds > 0; entry.holds -= 1) manager.release(session);
        const closing = manager.shutdown();
        await clock.tickAsync(0);
        await closing;
      }),
      { numRuns: 150 },
    );
  });
});
