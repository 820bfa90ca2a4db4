import { expect } from 'chai';
import { MemoryAdapter } from '../src/index.js';
import { onManualClock, rejection } from './support/manual-clock.js';

describe('MemoryAdapter: ordered writes (exact, on a manual clock)', () => {
  const run = onManualClock();

  it('saveIfNewer stores only higher versions over a value, and at most the floor over none', async () => {
    expect(await run.adapter.saveIfNewer('k', 'v3', 3)).to.equal(true);
    expect(await run.adapter.saveIfNewer('k', 'v3 again', 3)).to.equal(false);
    expect(await run.adapter.saveIfNewer('k', 'v2', 2)).to.equal(false);
    expect(await run.adapter.saveIfNewer('k', 'v4', 4)).to.equal(true);
    expect(await run.adapter.takeVersioned('k')).to.deep.equal({ value: 'v4', version: 4 });
    expect(await run.adapter.saveIfNewer('k', 'v3', 3)).to.equal(false);
    expect(await run.adapter.saveIfNewer('k', 'v4 back', 4)).to.equal(true);
    expect(await run.adapter.load('k')).to.equal('v4 back');
  });

  it('take leaves a floor that counts in size; a floor at version 0 is no entry at all', async () => {
    await run.adapter.saveIfNewer('versioned', 'v', 5);
    await run.adapter.save('plain', 'v');
    expect(await run.adapter.take('versioned')).to.equal('v');
    expect(await run.adapter.take('plain')).to.equal('v');
    expect(run.adapter.size).to.equal(1);
    expect(await run.adapter.load('versioned')).to.equal(undefined);
    expect(await run.adapter.saveIfNewer('versioned', 'old', 4)).to.equal(false);
    expect(await run.adapter.delete('versioned')).to.equal(false);
    expect(run.adapter.size).to.equal(0);
  });

  it('a floor ends exactly at the deadline of the value it replaced', async () => {
    await run.adapter.saveIfNewer('k', 'v', 5, 1000);
    run.clock.advance(400);
    await run.adapter.takeVersioned('k');
    run.clock.advance(599);
    expect(await run.adapter.saveIfNewer('k', 'late', 4)).to.equal(false);
    run.clock.advance(1);
    expect(run.adapter.size).to.equal(1);
    expect(await run.adapter.saveIfNewer('k', 'late', 4)).to.equal(true);
  });

  it('a fence floor on a missing key lives ttlMs; on a taken value the longer of the two', async () => {
    expect(await run.adapter.takeVersioned('missing', { version: 7, ttlMs: 100 })).to.equal(undefined);
    await run.adapter.saveIfNewer('long', 'v', 2, 1000);
    expect(await run.adapter.takeVersioned('long', { version: 7, ttlMs: 100 })).to.deep.equal({ value: 'v', version: 2 });
    await run.adapter.saveIfNewer('short', 'v', 2, 50);
    await run.adapter.takeVersioned('short', { version: 7, ttlMs: 100 });
    run.clock.advance(99);
    for (const key of ['missing', 'long', 'short']) expect(await run.adapter.saveIfNewer(key, 'x', 6), key).to.equal(false);
    run.clock.advance(1);
    expect(await run.adapter.saveIfNewer('missing', 'x', 6)).to.equal(true);
    expect(await run.adapter.saveIfNewer('short', 'x', 6)).to.equal(true);
    expect(await run.adapter.saveIfNewer('long', 'x', 6)).to.equal(false);
    run.clock.advance(900);
    expect(await run.adapter.saveIfNewer('long', 'x', 6)).to.equal(true);
  });

  it('a fence without ttlMs keeps its floor until delete; a fence never shortens a floor', async () => {
    await run.adapter.takeVersioned('k', { version: 3 });
    await run.adapter.takeVersioned('k', { version: 2, ttlMs: 10 });
    run.clock.advance(1e12);
    expect(await run.adapter.saveIfNewer('k', 'x', 2)).to.equal(false);
    expect(await run.adapter.delete('k')).to.equal(false);
    expect(await run.adapter.saveIfNewer('k', 'x', 1)).to.equal(true);
  });

  it('a fence leaves a newer value as it is, TTL included', async () => {
    await run.adapter.saveIfNewer('k', 'new', 9, 100);
    expect(await run.adapter.takeVersioned('k', { version: 8 })).to.equal(undefined);
    run.clock.advance(100);
    expect(await run.adapter.load('k')).to.equal(undefined);
    expect(await run.adapter.saveIfNewer('k', 'x', 1), 'an expired value counts as version 0').to.equal(true);
  });

  it('maxEntries counts floors, and drops the oldest-written entry, floor or value', async () => {
    const dropped: string[] = [];
    const small = new MemoryAdapter({ maxEntries: 2, now: run.clock.now, onDrop: (key) => dropped.push(key) });
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
    await run.adapter.saveIfNewer('k', 'max-1', max - 1);
    expect(await run.adapter.saveIfNewer('k', 'max', max)).to.equal(true);
    expect(await run.adapter.takeVersioned('k')).to.deep.equal({ value: 'max', version: max });
    expect(await run.adapter.saveIfNewer('k', 'x', max - 1)).to.equal(false);
  });

  it('rejects (never throws) a bad version or fence, changing nothing', async () => {
    await run.adapter.saveIfNewer('k', 'v', 1);
    for (const version of [-1, 1.5, NaN, 2 ** 53, '2', undefined]) {
      const error = await rejection(run.adapter.saveIfNewer('k', 'x', version as number));
      expect(error.message).to.match(/^MemoryAdapter: version must be a non-negative safe integer/);
    }
    for (const fence of [null, 5, { version: -1 }, { version: 2, ttlMs: 0 }]) {
      const error = await rejection(run.adapter.takeVersioned('k', fence as never));
      expect(error.message).to.match(/fence must be|version must be|ttlMs must be/);
    }
    expect(await run.adapter.load('k')).to.equal('v');
  });

  it('reject after close()', async () => {
    await run.adapter.close();
    for (const call of [() => run.adapter.saveIfNewer('k', 'v', 1), () => run.adapter.takeVersioned('k')]) {
      expect((await rejection(call())).message).to.equal('MemoryAdapter: the adapter is closed');
    }
  });
});
