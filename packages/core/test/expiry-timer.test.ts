import { expect } from 'chai';
import { DeadlineHeap } from '../src/deadline-heap.js';
import { ExpiryTimer, MAX_TIMER_DELAY } from '../src/expiry-timer.js';
import { installClock, type Clock } from './support/clock.js';

/** An ExpiryTimer over a DeadlineHeap, as a registry's out-of-order deadlines use it. */
class HeapTimer<T> {
  readonly heap = new DeadlineHeap<T>();
  readonly timer: ExpiryTimer<T>;

  constructor(now: () => number, onDue: (item: T) => void) {
    const heap = this.heap;
    this.timer = new ExpiryTimer<T>(
      { earliest: () => heap.peekDeadline(), takeDue: (at) => (heap.peekDeadline() <= at ? heap.shift() : undefined) },
      now,
      onDue,
    );
  }

  get size(): number {
    return this.heap.size;
  }

  schedule(item: T, deadline: number): void {
    this.heap.set(item, deadline);
    this.timer.wake(deadline);
  }

  cancel(item: T): void {
    this.heap.delete(item);
  }

  stop(): void {
    this.timer.stop();
    this.heap.clear();
  }
}

describe('ExpiryTimer (fake timers)', () => {
  let clock: Clock;
  let fired: string[];
  let timer: HeapTimer<string>;

  beforeEach(() => {
    clock = installClock();
    fired = [];
    timer = new HeapTimer<string>(
      () => Date.now(),
      (item) => fired.push(item),
    );
  });
  afterEach(() => {
    timer.stop();
    clock.uninstall();
  });

  it('fires each item once at its deadline, in deadline order', async () => {
    const t0 = Date.now();
    timer.schedule('b', t0 + 200);
    timer.schedule('a', t0 + 100);
    timer.schedule('c', t0 + 300);
    await clock.tickAsync(99);
    expect(fired).to.deep.equal([]);
    await clock.tickAsync(1);
    expect(fired).to.deep.equal(['a']);
    await clock.tickAsync(200);
    expect(fired).to.deep.equal(['a', 'b', 'c']);
    await clock.tickAsync(10_000);
    expect(fired).to.deep.equal(['a', 'b', 'c']);
    expect(timer.size).to.equal(0);
  });

  it('unschedules an item before calling onDue for it', async () => {
    const sizes: number[] = [];
    timer.stop();
    timer = new HeapTimer<string>(
      () => Date.now(),
      () => sizes.push(timer.size),
    );
    timer.schedule('a', Date.now() + 10);
    timer.schedule('b', Date.now() + 50);
    await clock.tickAsync(10);
    expect(sizes).to.deep.equal([1]);
  });

  it('fires items that are due together in one pass', async () => {
    const t0 = Date.now();
    timer.schedule('a', t0 + 100);
    timer.schedule('b', t0 + 100);
    await clock.tickAsync(100);
    expect(fired).to.have.members(['a', 'b']);
  });

  it('uses one timer for any number of items', () => {
    const t0 = Date.now();
    for (let i = 0; i < 50; i += 1) timer.schedule(`item${i}`, t0 + 1000 + ((i * 37) % 500));
    expect(clock.countTimers()).to.equal(1);
    timer.schedule('earlier', t0 + 10);
    expect(clock.countTimers()).to.equal(1);
  });

  it('a deadline moved later fires at the new deadline, not the old one', async () => {
    const t0 = Date.now();
    timer.schedule('a', t0 + 100);
    timer.schedule('a', t0 + 500);
    await clock.tickAsync(100);
    expect(fired).to.deep.equal([]);
    expect(clock.countTimers()).to.equal(1);
    await clock.tickAsync(399);
    expect(fired).to.deep.equal([]);
    await clock.tickAsync(1);
    expect(fired).to.deep.equal(['a']);
  });

  it('a deadline moved earlier re-arms the timer', async () => {
    const t0 = Date.now();
    timer.schedule('a', t0 + 1000);
    timer.schedule('a', t0 + 50);
    await clock.tickAsync(50);
    expect(fired).to.deep.equal(['a']);
  });

  it('cancel() unschedules an item', async () => {
    const t0 = Date.now();
    timer.schedule('a', t0 + 100);
    timer.schedule('b', t0 + 200);
    timer.cancel('a');
    await clock.tickAsync(1000);
    expect(fired).to.deep.equal(['b']);
  });

  it('a deadline already passed fires at once (delay 0)', async () => {
    timer.schedule('late', Date.now() - 5000);
    await clock.tickAsync(0);
    expect(fired).to.deep.equal(['late']);
  });

  it('clamps delays over 2^31-1 ms and re-arms until the real deadline', async () => {
    expect(MAX_TIMER_DELAY).to.equal(2 ** 31 - 1);
    const t0 = Date.now();
    const deadline = t0 + 3 * MAX_TIMER_DELAY + 12_345;
    timer.schedule('far', deadline);
    // Unclamped, Node (and fake timers) would run a longer delay after 1 ms.
    await clock.tickAsync(1);
    expect(fired).to.deep.equal([]);
    await clock.tickAsync(MAX_TIMER_DELAY);
    expect(fired).to.deep.equal([]);
    expect(clock.countTimers()).to.equal(1);
    await clock.tickAsync(deadline - Date.now() - 1);
    expect(fired).to.deep.equal([]);
    await clock.tickAsync(1);
    expect(fired).to.deep.equal(['far']);
    expect(clock.countTimers()).to.equal(0);
  });

  it('a near item scheduled while armed for a far (clamped) deadline fires on time', async () => {
    const t0 = Date.now();
    timer.schedule('far', t0 + 2 * MAX_TIMER_DELAY);
    timer.schedule('near', t0 + 1000);
    await clock.tickAsync(1000);
    expect(fired).to.deep.equal(['near']);
  });

  it('stop() forgets every deadline and never arms again', async () => {
    const t0 = Date.now();
    timer.schedule('a', t0 + 100);
    timer.stop();
    expect(timer.size).to.equal(0);
    expect(clock.countTimers()).to.equal(0);
    timer.schedule('b', t0 + 100);
    await clock.tickAsync(1000);
    expect(fired).to.deep.equal([]);
    expect(clock.countTimers()).to.equal(0);
  });

  it("its timer is unref'd (never keeps the process alive)", () => {
    const handles: { hasRef(): boolean }[] = [];
    const original = globalThis.setTimeout;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      const handle = original(...args);
      handles.push(handle as unknown as { hasRef(): boolean });
      return handle;
    }) as typeof setTimeout;
    try {
      timer.schedule('a', Date.now() + 100);
    } finally {
      globalThis.setTimeout = original;
    }
    expect(handles).to.have.length(1);
    expect(handles[0]!.hasRef()).to.equal(false);
  });
});
