import { expect } from 'chai';
import { MemoryAdapter } from '../src/index.js';
import { onManualClock, rejection } from './support/manual-clock.js';

describe('MemoryAdapter: saveManyIfNewer (exact, on a manual clock)', () => {
  const run = onManualClock();

  it('applies each entry as saveIfNewer would, resolving one boolean per entry in order', async () => {
    await run.adapter.saveIfNewer('value', 'v5', 5);
    await run.adapter.saveIfNewer('floor', 'v5', 5);
    await run.adapter.takeVersioned('floor');
    await run.adapter.takeVersioned('fenced', { version: 3 });
    const results = await run.adapter.saveManyIfNewer([
      { key: 'value', value: 'older', version: 4 },
      { key: 'missing', value: 'new', version: 0 },
      { key: 'floor', value: 'put back', version: 5 },
      { key: 'fenced', value: 'x', version: 2 },
      { key: 'fenced too', value: 'x', version: 2 },
    ]);
    expect(results).to.deep.equal([false, true, true, false, true]);
    expect(await run.adapter.load('value')).to.equal('v5');
    expect(await run.adapter.takeVersioned('floor')).to.deep.equal({ value: 'put back', version: 5 });
  });

  it('gives every entry its own TTL, counted from the one instant of the batch', async () => {
    await run.adapter.saveManyIfNewer([
      { key: 'short', value: 'a', version: 1, ttlMs: 100 },
      { key: 'none', value: 'b', version: 1, ttlMs: undefined },
      { key: 'absent', value: 'c', version: 1 },
      { key: 'long', value: 'd', version: 1, ttlMs: 1000 },
    ]);
    run.clock.advance(99);
    expect(await run.adapter.load('short')).to.equal('a');
    run.clock.advance(1);
    expect(await run.adapter.load('short')).to.equal(undefined);
    run.clock.advance(899);
    expect(await run.adapter.load('long')).to.equal('d');
    run.clock.advance(1);
    expect(await run.adapter.load('long')).to.equal(undefined);
    run.clock.advance(1e12);
    expect([await run.adapter.load('none'), await run.adapter.load('absent')]).to.deep.equal(['b', 'c']);
  });

  it('an empty batch resolves [] and changes nothing', async () => {
    expect(await run.adapter.saveManyIfNewer([])).to.deep.equal([]);
    expect(run.adapter.size).to.equal(0);
  });

  it('rejects a bad entry naming its index, storing nothing of the batch', async () => {
    await run.adapter.saveIfNewer('kept', 'v', 3);
    const bad = [
      { key: 'a', value: 'x', version: 1 },
      { key: 'kept', value: 'newer', version: 9 },
      { key: 'c', value: 'x', version: -1 },
    ];
    const error = await rejection(run.adapter.saveManyIfNewer(bad));
    expect(error.code).to.equal('ERR_REPRISE_ADAPTER');
    expect(error.message).to.equal('MemoryAdapter: writes[2]: version must be a non-negative safe integer, got -1');
    const twice = await rejection(
      run.adapter.saveManyIfNewer([
        { key: 'a', value: 'x', version: 1 },
        { key: 'a', value: 'y', version: 2 },
      ]),
    );
    expect(twice.message).to.match(/^MemoryAdapter: writes\[1\]: the key is already in this batch/);
    expect(await run.adapter.load('a')).to.equal(undefined);
    expect(await run.adapter.load('kept')).to.equal('v');
    expect(run.adapter.size).to.equal(1);
  });

  it('honours maxEntries entry by entry, reporting every drop', async () => {
    const dropped: string[] = [];
    const small = new MemoryAdapter({ maxEntries: 2, now: run.clock.now, onDrop: (key) => dropped.push(key) });
    try {
      await small.save('old', 'v');
      expect(await small.saveManyIfNewer(['a', 'b', 'c'].map((key) => ({ key, value: key, version: 1 })))).to.deep.equal([
        true,
        true,
        true,
      ]);
      expect(dropped).to.deep.equal(['old', 'a']);
      expect([await small.load('b'), await small.load('c')]).to.deep.equal(['b', 'c']);
    } finally {
      await small.close();
    }
  });

  it('an onDrop that throws: every entry is still applied, then the batch rejects with that error', async () => {
    const small = new MemoryAdapter({
      maxEntries: 1,
      now: run.clock.now,
      onDrop: () => {
        throw new Error('onDrop failed');
      },
    });
    try {
      const caught = await small
        .saveManyIfNewer([
          { key: 'a', value: 'a', version: 1 },
          { key: 'b', value: 'b', version: 1 },
          { key: 'c', value: 'c', version: 1 },
        ])
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(caught).to.be.instanceOf(Error).with.property('message', 'onDrop failed');
      expect(await small.load('c'), 'the last entry was applied').to.equal('c');
    } finally {
      await small.close();
    }
  });

  it('rejects after close()', async () => {
    await run.adapter.close();
    expect((await rejection(run.adapter.saveManyIfNewer([{ key: 'k', value: 'v', version: 1 }]))).message).to.equal(
      'MemoryAdapter: the adapter is closed',
    );
  });
});
