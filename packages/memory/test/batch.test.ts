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

describe('MemoryAdapter: saveManyIfNewer (exact, on a manual clock)', () => {
  let clock: ReturnType<typeof manualClock>;
  let adapter: MemoryAdapter;

  beforeEach(() => {
    clock = manualClock();
    adapter = new MemoryAdapter({ now: clock.now });
  });

  afterEach(async () => {
    await adapter.close();
  });

  it('applies each entry as saveIfNewer would, resolving one boolean per entry in order', async () => {
    await adapter.saveIfNewer('value', 'v5', 5);
    await adapter.saveIfNewer('floor', 'v5', 5);
    await adapter.takeVersioned('floor');
    await adapter.takeVersioned('fenced', { version: 3 });
    const results = await adapter.saveManyIfNewer([
      { key: 'value', value: 'older', version: 4 },
      { key: 'missing', value: 'new', version: 0 },
      { key: 'floor', value: 'put back', version: 5 },
      { key: 'fenced', value: 'x', version: 2 },
      { key: 'fenced too', value: 'x', version: 2 },
    ]);
    expect(results).to.deep.equal([false, true, true, false, true]);
    expect(await adapter.load('value')).to.equal('v5');
    expect(await adapter.takeVersioned('floor')).to.deep.equal({ value: 'put back', version: 5 });
  });

  it('gives every entry its own TTL, counted from the one instant of the batch', async () => {
    await adapter.saveManyIfNewer([
      { key: 'short', value: 'a', version: 1, ttlMs: 100 },
      { key: 'none', value: 'b', version: 1, ttlMs: undefined },
      { key: 'absent', value: 'c', version: 1 },
      { key: 'long', value: 'd', version: 1, ttlMs: 1000 },
    ]);
    clock.advance(99);
    expect(await adapter.load('short')).to.equal('a');
    clock.advance(1);
    expect(await adapter.load('short')).to.equal(undefined);
    clock.advance(899);
    expect(await adapter.load('long')).to.equal('d');
    clock.advance(1);
    expect(await adapter.load('long')).to.equal(undefined);
    clock.advance(1e12);
    expect([await adapter.load('none'), await adapter.load('absent')]).to.deep.equal(['b', 'c']);
  });

  it('an empty batch resolves [] and changes nothing', async () => {
    expect(await adapter.saveManyIfNewer([])).to.deep.equal([]);
    expect(adapter.size).to.equal(0);
  });

  it('rejects a bad entry naming its index, storing nothing of the batch', async () => {
    await adapter.saveIfNewer('kept', 'v', 3);
    const bad = [
      { key: 'a', value: 'x', version: 1 },
      { key: 'kept', value: 'newer', version: 9 },
      { key: 'c', value: 'x', version: -1 },
    ];
    const error = await rejection(adapter.saveManyIfNewer(bad));
    expect(error.code).to.equal('ERR_REPRISE_ADAPTER');
    expect(error.message).to.equal('MemoryAdapter: writes[2]: version must be a non-negative safe integer, got -1');
    const twice = await rejection(adapter.saveManyIfNewer([{ key: 'a', value: 'x', version: 1 }, { key: 'a', value: 'y', version: 2 }]));
    expect(twice.message).to.match(/^MemoryAdapter: writes\[1\]: the key is already in this batch/);
    expect(await adapter.load('a')).to.equal(undefined);
    expect(await adapter.load('kept')).to.equal('v');
    expect(adapter.size).to.equal(1);
  });

  it('honours maxEntries entry by entry, reporting every drop', async () => {
    const dropped: string[] = [];
    const small = new MemoryAdapter({ maxEntries: 2, now: clock.now, onDrop: (key) => dropped.push(key) });
    try {
      await small.save('old', 'v');
      expect(await small.saveManyIfNewer(['a', 'b', 'c'].map((key) => ({ key, value: key, version: 1 })))).to.deep.equal([true, true, true]);
      expect(dropped).to.deep.equal(['old', 'a']);
      expect([await small.load('b'), await small.load('c')]).to.deep.equal(['b', 'c']);
    } finally {
      await small.close();
    }
  });

  it('an onDrop that throws: every entry is still applied, then the batch rejects with that error', async () => {
    const small = new MemoryAdapter({ maxEntries: 1, now: clock.now, onDrop: () => { throw new Error('onDrop failed'); } });
    try {
      const caught = await small.saveManyIfNewer([
        { key: 'a', value: 'a', version: 1 },
        { key: 'b', value: 'b', version: 1 },
        { key: 'c', value: 'c', version: 1 },
      ]).then(() => undefined, (error: unknown) => error);
      expect(caught).to.be.instanceOf(Error).with.property('message', 'onDrop failed');
      expect(await small.load('c'), 'the last entry was applied').to.equal('c');
    } finally {
      await small.close();
    }
  });

  it('rejects after close()', async () => {
    await adapter.close();
    expect((await rejection(adapter.saveManyIfNewer([{ key: 'k', value: 'v', version: 1 }]))).message).to.equal('MemoryAdapter: the adapter is closed');
  });
});
