import { expect } from 'chai';
import { RepriseError } from '@reprise/core';
import { MemoryAdapter } from '../src/index.js';

/** A manual clock: ms since the epoch, moved only by the test. */
function manualClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

async function rejection(promise: Promise<unknown>): Promise<RepriseError> {
  const caught = await promise.then(() => undefined, (error: unknown) => error);
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  return caught as RepriseError;
}

describe('MemoryAdapter: ordered writes (exact, on a manual clock)', () => {
  let clock: ReturnType<typeof manualClock>;
  let adapter: MemoryAdapter;

  beforeEach(() => {
    clock = manualClock();
    adapter = new MemoryAdapter({ now: clock.now });
  });

  afterEach(async () => {
    await adapter.close();
  });

  it('saveIfNewer stores only higher versions over a value, and at most the floor over none', async () => {
    expect(await adapter.saveIfNewer('k', 'v3', 3)).to.equal(true);
    expect(await adapter.saveIfNewer('k', 'v3 again', 3)).to.equal(false);
    expect(await adapter.saveIfNewer('k', 'v2', 2)).to.equal(false);
    expect(await adapter.saveIfNewer('k', 'v4', 4)).to.equal(true);
    expect(await adapter.takeVersioned('k')).to.deep.equal({ value: 'v4', version: 4 });
    expect(await adapter.saveIfNewer('k', 'v3', 3)).to.equal(false);
    expect(await adapter.saveIfNewer('k', 'v4 back', 4)).to.equal(true);
    expect(await adapter.load('k')).to.equal('v4 back');
  });

  it('take leaves a floor that counts in size; a floor at version 0 is no entry at all', async () => {
    await adapter.saveIfNewer('versioned', 'v', 5);
    await adapter.save('plain', 'v');
    expect(await adapter.take('versioned')).to.equal('v');
    expect(await adapter.take('plain')).to.equal('v');
    expect(adapter.size).to.equal(1);
    expect(await adapter.load('versioned')).to.equal(undefined);
    expect(await adapter.saveIfNewer('versioned', 'old', 4)).to.equal(false);
    expect(await adapter.delete('versioned')).to.equal(false);
    expect(adapter.size).to.equal(0);
  });

  it('a floor ends exactly at the deadline of the value it replaced', async () => {
    await adapter.saveIfNewer('k', 'v', 5, 1000);
    clock.advance(400);
    await adapter.takeVersioned('k');
    clock.advance(599);
    expect(await adapter.saveIfNewer('k', 'late', 4)).to.equal(false);
    clock.advance(1);
    expect(adapter.size).to.equal(1);
    expect(await adapter.saveIfNewer('k', 'late', 4)).to.equal(true);
  });

  it('a fence floor on a missing key lives ttlMs; on a taken value the longer of the two', async () => {
    expect(await adapter.takeVersioned('missing', { version: 7, ttlMs: 100 })).to.equal(undefined);
    await adapter.saveIfNewer('long', 'v', 2, 1000);
    expect(await adapter.takeVersioned('long', { version: 7, ttlMs: 100 })).to.deep.equal({ value: 'v', version: 2 });
    await adapter.saveIfNewer('short', 'v', 2, 50);
    await adapter.takeVersioned('short', { version: 7, ttlMs: 100 });
    clock.advance(99);
    for (const key of ['missing', 'long', 'short']) expect(await adapter.saveIfNewer(key, 'x', 6), key).to.equal(false);
    clock.advance(1);
    expect(await adapter.saveIfNewer('missing', 'x', 6)).to.equal(true);
    expect(await adapter.saveIfNewer('short', 'x', 6)).to.equal(true);
    expect(await adapter.saveIfNewer('long', 'x', 6)).to.equal(false);
    clock.advance(900);
    expect(await adapter.saveIfNewer('long', 'x', 6)).to.equal(true);
  });

  it('a fence without ttlMs keeps its floor until delete; a fence never shortens a floor', async () => {
    await adapter.takeVersioned('k', { version: 3 });
    await adapter.takeVersioned('k', { version: 2, ttlMs: 10 });
    clock.advance(1e12);
    expect(await adapter.saveIfNewer('k', 'x', 2)).to.equal(false);
    expect(await adapter.delete('k')).to.equal(false);
    expect(await adapter.saveIfNewer('k', 'x', 1)).to.equal(true);
  });

  it('a fence leaves a newer value as it is, TTL included', async () => {
    await adapter.saveIfNewer('k', 'new', 9, 100);
    expect(await adapter.takeVersioned('k', { version: 8 })).to.equal(undefined);
    clock.advance(100);
    expect(await adapter.load('k')).to.equal(undefined);
    expect(await adapter.saveIfNewer('k', 'x', 1), 'an expired value counts as version 0').to.equal(true);
  });

  it('maxEntries counts floors, and drops the oldest-written entry, floor or value', async () => {
    const dropped: string[] = [];
    const small = new MemoryAdapter({ maxEntries: 2, now: clock.now, onDrop: (key) => dropped.push(key) });
    try {
      await small.saveIfNewer('a', 'v', 1);
      await small.saveIfNewer('b', 'v', 1);
      await small.takeVersioned('a');
      expect(small.size).to.equal(2);
      expect(dropped).to.deep.equal([]);
      await small.takeVersioned('c', { version: 4 });
      expect(dropped, 'the floor of a keeps its place: oldest').to.deep.equal(['a']);
      await small.saveIfNewer('d', 'v', 1);
      expect(dropped).to.deep.equal(['a', 'b']);
      expect(small.size).to.equal(2);
      expect(await small.saveIfNewer('c', 'x', 3), 'the fence floor of c is still there').to.equal(false);
    } finally {
      await small.close();
    }
  });

  it('versions up to Number.MAX_SAFE_INTEGER round-trip and compare exactly', async () => {
    const max = Number.MAX_SAFE_INTEGER;
    await adapter.saveIfNewer('k', 'max-1', max - 1);
    expect(await adapter.saveIfNewer('k', 'max', max)).to.equal(true);
    expect(await adapter.takeVersioned('k')).to.deep.equal({ value: 'max', version: max });
    expect(await adapter.saveIfNewer('k', 'x', max - 1)).to.equal(false);
  });

  it('rejects (never throws) a bad version or fence, changing nothing', async () => {
    await adapter.saveIfNewer('k', 'v', 1);
    for (const version of [-1, 1.5, NaN, 2 ** 53, '2', undefined]) {
      const error = await rejection(adapter.saveIfNewer('k', 'x', version as number));
      expect(error.message).to.match(/^MemoryAdapter: version must be a non-negative safe integer/);
    }
    for (const fence of [null, 5, { version: -1 }, { version: 2, ttlMs: 0 }]) {
      const error = await rejection(adapter.takeVersioned('k', fence as never));
      expect(error.message).to.match(/fence must be|version must be|ttlMs must be/);
    }
    expect(await adapter.load('k')).to.equal('v');
  });

  it('reject after close()', async () => {
    await adapter.close();
    for (const call of [() => adapter.saveIfNewer('k', 'v', 1), () => adapter.takeVersioned('k')]) {
      expect((await rejection(call())).message).to.equal('MemoryAdapter: the adapter is closed');
    }
  });
});
