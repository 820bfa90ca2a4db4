import { expect } from 'chai';
import FakeTimers from '@sinonjs/fake-timers';
import { MAX_TIMER_DELAY } from '@reprise/core/adapter-kit';
import { Sweeper } from '../src/sweeper.js';
import type { SweeperOptions } from '../src/sweeper.js';

/** A promise with its resolve and reject exposed. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function sweeper(options: Partial<SweeperOptions> & Pick<SweeperOptions, 'deleteBatch'>): Sweeper {
  return new Sweeper({ interval: 1000, batchSize: 10, onError: () => undefined, random: () => 0.5, ...options });
}

describe('Sweeper', () => {
  let clock: ReturnType<typeof FakeTimers.install>;

  beforeEach(() => {
    // shouldClearNativeTimers: a pg socket of an earlier file may still close (clearing a real timer) meanwhile.
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout'], shouldClearNativeTimers: true });
  });

  afterEach(() => {
    clock.uninstall();
  });

  it("draws each delay between 50% and 150% of the interval, within Node's timer limit", () => {
    const make = (interval: number | false, random: number) =>
      sweeper({ deleteBatch: async () => 0, interval, random: () => random }).nextDelay();
    expect(make(1000, 0)).to.equal(500);
    expect(make(1000, 0.5)).to.equal(1000);
    expect(make(1000, 0.999_999)).to.equal(1500);
    expect(make(2 ** 31, 0.9)).to.equal(MAX_TIMER_DELAY);
    expect(make(1, 0)).to.equal(1);
    expect(make(false, 0.5)).to.equal(Infinity);
  });

  it('sweeps when the timer fires, then re-arms from the end of the run', async () => {
    let calls = 0;
    const s = sweeper({ deleteBatch: async () => (calls++, 0) });
    s.start();
    s.start(); // idempotent: still one timer
    expect(s.scheduled).to.equal(true);
    await clock.tickAsync(999);
    expect(calls).to.equal(0);
    await clock.tickAsync(1);
    expect(calls).to.equal(1);
    expect(s.scheduled).to.equal(true);
    await clock.tickAsync(1000);
    expect(calls).to.equal(2);
    await s.stop();
  });

  it('repeats batches until one deletes fewer than the batch size', async () => {
    const results = [10, 10, 3, 10];
    const limits: number[] = [];
    const s = sweeper({ deleteBatch: async (limit) => (limits.push(limit), results.shift()!) });
    expect(await s.sweep()).to.equal(23);
    expect(limits).to.deep.equal([10, 10, 10]);
    await s.stop();
  });

  it('never overlaps runs: a sweep during a run joins it, and the timer waits for it', async () => {
    const gate = deferred<number>();
    let calls = 0;
    const s = sweeper({ deleteBatch: () => (calls++, gate.promise) });
    s.start();
    await clock.tickAsync(1000); // the timer starts a run, blocked on the gate
    expect(calls).to.equal(1);
    const joined = s.sweep();
    await clock.tickAsync(10_000); // no new run while one is pending
    expect(calls).to.equal(1);
    expect(s.scheduled).to.equal(false);
    gate.resolve(4);
    expect(await joined).to.equal(4);
    expect(s.scheduled).to.equal(true);
    await s.stop();
  });

  it('reports a failed timer-driven sweep and keeps sweeping; an on-demand sweep rejects', async () => {
    const failure = new Error('boom');
    const errors: unknown[] = [];
    let fail = true;
    const s = sweeper({
      deleteBatch: async () => {
        if (fail) throw failure;
        return 0;
      },
      onError: (error) => errors.push(error),
    });
    let rejected: unknown;
    await s.sweep().catch((error: unknown) => (rejected = error));
    expect(rejected).to.equal(failure);
    expect(errors).to.deep.equal([]);
    s.start();
    await clock.tickAsync(1000);
    expect(errors).to.deep.equal([failure]);
    expect(s.scheduled).to.equal(true);
    fail = false;
    await clock.tickAsync(1000);
    expect(errors).to.have.length(1);
    await s.stop();
  });

  it('survives an onError that throws (the throw becomes a process warning)', async () => {
    const warnings: string[] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((warning: string | Error) => void warnings.push(String(warning))) as typeof process.emitWarning;
    try {
      const s = sweeper({
        deleteBatch: async () => {
          throw new Error('boom');
        },
        onError: () => {
          throw new Error('handler broke');
        },
      });
      s.start();
      await clock.tickAsync(1000);
      expect(s.scheduled).to.equal(true);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.include('handler broke');
      await s.stop();
    } finally {
      process.emitWarning = emitWarning;
    }
  });

  it('stop() clears the timer, lets the running batch finish, and starts no further batch', async () => {
    const gate = deferred<number>();
    let calls = 0;
    const s = sweeper({ deleteBatch: () => (calls++, gate.promise) });
    s.start();
    await clock.tickAsync(1000);
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await clock.tickAsync(0);
    expect(stopped).to.equal(false); // waits for the running batch
    gate.resolve(10); // a full batch: would continue, but the sweeper stopped
    await stopping;
    expect(calls).to.equal(1);
    expect(s.scheduled).to.equal(false);
    expect(await s.sweep()).to.equal(0);
    s.start();
    expect(s.scheduled).to.equal(false);
    expect(calls).to.equal(1);
  });

  it('arms no timer without an interval', async () => {
    let calls = 0;
    const s = sweeper({ deleteBatch: async () => (calls++, 0), interval: false });
    s.start();
    expect(s.scheduled).to.equal(false);
    await clock.tickAsync(10 ** 9);
    expect(calls).to.equal(0);
    expect(await s.sweep()).to.equal(0);
    expect(calls).to.equal(1);
  });
});

describe('Sweeper timer (real timers)', () => {
  it("is unref'd: it never keeps the process alive", async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timeouts();
    const s = new Sweeper({ deleteBatch: async () => 0, interval: 3_600_000, batchSize: 1, onError: () => undefined });
    s.start();
    expect(s.scheduled).to.equal(true);
    expect(timeouts()).to.equal(before);
    await s.stop();
  });
});
