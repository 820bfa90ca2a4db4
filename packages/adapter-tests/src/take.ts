import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';

/**
 * `take` reads and deletes: the value once, then `undefined`. Under concurrency exactly one of
 * `concurrency` takes of one key gets the value, unless the adapter is not atomic (`atomic: false`),
 * in which case that check is reported as skipped, with the reason in its name.
 */
export function takeTests(harness: Harness): void {
  const { concurrency } = harness.options;
  const exactlyOnce = `exactly one of ${concurrency} concurrent take() calls on one key gets the value`;

  harness.group('take', (g) => {
    g.check('take() returns the value, then undefined', async () => {
      const key = g.key();
      await g.adapter.save(key, 'once');
      assertSameString(await g.adapter.take(key), 'once', 'the first take()');
      const second = await g.adapter.take(key);
      assert.equal(second, undefined, `a second take() returned ${preview(second)}: take() must delete`);
    });

    g.check('after take() the value is gone for load() and delete()', async () => {
      const key = g.key();
      await g.adapter.save(key, 'once');
      await g.adapter.take(key);
      const loaded = await g.adapter.load(key);
      assert.equal(loaded, undefined, `load() after take() returned ${preview(loaded)}`);
      const deleted = await g.adapter.delete(key);
      assert.equal(deleted, false, 'delete() after take() returned true: take() must delete');
    });

    g.check('take() leaves the other keys alone', async () => {
      const taken = g.key('taken');
      const kept = g.key('kept');
      await g.adapter.save(taken, 'taken');
      await g.adapter.save(kept, 'kept');
      await g.adapter.take(taken);
      assertSameString(await g.adapter.load(kept), 'kept', 'load() of a key next to the one taken');
    });

    g.atomicCheck(exactlyOnce, async () => {
      const key = g.key('contested');
      await g.adapter.save(key, 'the prize');
      const results = await Promise.all(Array.from({ length: concurrency }, () => g.adapter.take(key)));
      const winners = results.filter((result) => result !== undefined);
      assert.equal(winners.length, 1, `${winners.length} of ${concurrency} concurrent take() calls got a value; exactly one must`);
      assertSameString(winners[0], 'the prize', 'the winning take()');
    });

    g.check(`after ${concurrency} concurrent take() calls on one key, one or more got the value and it is gone`, async () => {
      const key = g.key('contested');
      await g.adapter.save(key, 'the prize');
      const results = await Promise.all(Array.from({ length: concurrency }, () => g.adapter.take(key)));
      const wrong = results.filter((result) => result !== undefined && result !== 'the prize');
      assert.deepEqual(wrong, [], 'some take() calls returned a value that was never saved');
      assert.ok(results.includes('the prize'), `none of ${concurrency} concurrent take() calls got the value`);
      const after = await g.adapter.load(key);
      assert.equal(after, undefined, `load() after the takes returned ${preview(after)}`);
    });

    g.check(`${concurrency} concurrent take() calls on different keys each get their own value`, async () => {
      const keys = Array.from({ length: concurrency }, (_, i) => g.key(`own-${i}`));
      await Promise.all(keys.map((key, i) => g.adapter.save(key, `value ${i}`)));
      const results = await Promise.all(keys.map((key) => g.adapter.take(key)));
      for (const [i, result] of results.entries()) assertSameString(result, `value ${i}`, `take() of key ${i} of ${concurrency}`);
    });
  });
}
