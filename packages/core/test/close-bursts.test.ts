import { expect } from 'chai';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CLOSE_SLICE_MS, ClosePacer, MAX_CLOSES_IN_FLIGHT } from '../src/close-pacer.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { makeManager } from './support/manager.js';

type Data = { n: number };

const BURST = 1_000;

/** Turns of the event loop until `done()` holds (at most `max`). */
async function turnsUntil(done: () => boolean, max = 10_000): Promise<number> {
  let turns = 0;
  while (!done() && turns < max) {
    await nextTurn();
    turns += 1;
  }
  return turns;
}

describe('close bursts: expiries, a lowered cap and a shutdown close in slices that give the event loop back', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => clock.uninstall());

  it(`${BURST} sessions due at once: the timer's turn starts one slice of closes, the rest follow turn by turn`, async () => {
    const { manager } = makeManager<Data>({ idleTimeout: 1_000, maxSessions: BURST * 2 });
    let started = 0;
    manager.onClose(() => void (started += 1));
    for (let n = 0; n < BURST; n++) manager.create({ n });
    clock.tick(1_000); // synchronously: the timer fires, and nothing else turns the loop meanwhile
    await flushMicrotasks(20);
    expect(started, 'one slice, not the burst').to.be.within(1, 64);
    const turns = await turnsUntil(() => manager.stats().closed.expired === BURST && manager.stats().closing === 0);
    expect(manager.stats().closed.expired).to.equal(BURST);
    expect(turns, 'closes spread over turns').to.be.greaterThan(2);
    expect(manager.size).to.equal(0);
  });

  it('a session active again before its slice comes is not closed: its deadline moved', async () => {
    const { manager } = makeManager<Data>({ idleTimeout: 1_000, maxSessions: BURST * 2 });
    const sessions = Array.from({ length: BURST }, (_, n) => manager.create({ n }));
    clock.tick(1_000); // synchronously: the timer fires, and nothing else turns the loop meanwhile
    // One whose slice has not come yet (equal deadlines come in no particular order): a request on it now.
    const returning = sessions.find((session) => session.state === 'live');
    expect(returning, 'sessions not reached yet by the first slice').not.to.equal(undefined);
    if (returning === undefined) return;
    manager.acquire(returning.id);
    manager.release(returning);
    await turnsUntil(() => manager.stats().closed.expired === BURST - 1 && manager.stats().closing === 0);
    expect(returning.state).to.equal('live');
    expect(manager.stats().closed.expired).to.equal(BURST - 1);
  });

  it(`never more than ${MAX_CLOSES_IN_FLIGHT} closes in flight: slow closing hooks slow the burst, and every session still closes once`, async () => {
    const gate = deferred();
    let running = 0;
    let peak = 0;
    const closed = new Set<string>();
    const { manager } = makeManager<Data>({
      idleTimeout: 1_000,
      maxSessions: BURST * 2,
      hookTimeout: 3_600_000,
      onClose: async (session) => {
        running += 1;
        peak = Math.max(peak, running);
        await gate.promise;
        running -= 1;
        closed.add(session.id);
      },
    });
    for (let n = 0; n < BURST; n++) manager.create({ n });
    clock.tick(1_000); // synchronously: the timer fires, and nothing else turns the loop meanwhile
    await turnsUntil(() => running >= MAX_CLOSES_IN_FLIGHT, 1_000);
    await turnsUntil(() => false, 50); // more turns: nothing more may start while the hooks hold
    expect(running).to.equal(MAX_CLOSES_IN_FLIGHT);
    gate.resolve();
    await turnsUntil(() => manager.stats().closed.expired === BURST && manager.stats().closing === 0);
    expect(peak).to.equal(MAX_CLOSES_IN_FLIGHT);
    expect(closed.size).to.equal(BURST);
  });

  it("setOption('maxSessions', 1) evicts in slices down to the cap", async () => {
    const { manager } = makeManager<Data>({ maxSessions: BURST * 2 });
    for (let n = 0; n < BURST; n++) manager.create({ n });
    let started = 0;
    manager.onClose(() => void (started += 1));
    manager.setOption('maxSessions', 1);
    await flushMicrotasks(20);
    expect(started, 'one slice at first').to.be.within(1, 64);
    await turnsUntil(() => manager.size === 1 && manager.stats().closing === 0);
    expect(manager.size).to.equal(1);
    expect(manager.stats().closed.evicted).to.equal(BURST - 1);
  });

  it('shutdown() closes every session, in slices', async () => {
    const { manager } = makeManager<Data>({ maxSessions: BURST * 2 });
    for (let n = 0; n < BURST; n++) manager.create({ n });
    let turns = 0;
    let stopped = false;
    const count = (async () => {
      while (!stopped) {
        await nextTurn();
        turns += 1;
      }
    })();
    await manager.shutdown();
    stopped = true;
    await count;
    expect(manager.stats().closed.shutdown).to.equal(BURST);
    expect(turns, 'the event loop turned while the closes ran').to.be.greaterThan(2);
  });
});

describe('ClosePacer', () => {
  it('halves a slice that took over twice the target and doubles one well under it; a slice cut short says nothing', async () => {
    const pacer = new ClosePacer(() => 0);
    const runSlice = (costMs: number): void => {
      const until = performance.now() + costMs;
      while (pacer.take());
      while (performance.now() < until);
    };
    const first = pacer.perSlice;
    runSlice(3 * CLOSE_SLICE_MS);
    await pacer.next();
    expect(pacer.perSlice).to.equal(first / 2);
    runSlice(0);
    await pacer.next();
    expect(pacer.perSlice).to.equal(first);
    pacer.take(); // one close only: the slice was not full
    await pacer.next();
    expect(pacer.perSlice).to.equal(first);
  });

  it(`waits for room when ${MAX_CLOSES_IN_FLIGHT} closes run, and goes on when one ends`, async () => {
    let inFlight = MAX_CLOSES_IN_FLIGHT;
    const pacer = new ClosePacer(() => inFlight);
    expect(pacer.take()).to.equal(false);
    let resumed = false;
    const next = pacer.next().then(() => (resumed = true));
    await turnsUntil(() => false, 5);
    expect(resumed).to.equal(false);
    inFlight -= 1;
    pacer.closed();
    await next;
    expect(pacer.take()).to.equal(true);
  });
});
