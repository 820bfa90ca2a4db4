import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';

/** `delete` removes one key and tells whether something was deleted: `true` once, then `false`. */
export function deleteTests(harness: Harness): void {
  harness.group('delete', (g) => {
    g.check('delete() of a stored value returns true, and the value is gone', async () => {
      const key = g.key();
      await g.adapter.save(key, 'doomed');
      const deleted = await g.adapter.delete(key);
      assert.equal(deleted, true, `delete() of a stored value returned ${preview(deleted)}`);
      const loaded = await g.adapter.load(key);
      assert.equal(loaded, undefined, `load() after delete() returned ${preview(loaded)}`);
    });

    g.check('a second delete() of the same key returns false', async () => {
      const key = g.key();
      await g.adapter.save(key, 'doomed');
      await g.adapter.delete(key);
      const again = await g.adapter.delete(key);
      assert.equal(again, false, `a second delete() returned ${preview(again)}`);
    });

    g.check("delete() of the empty-string value returns true ('' is a value)", async () => {
      const key = g.key();
      await g.adapter.save(key, '');
      const deleted = await g.adapter.delete(key);
      assert.equal(deleted, true, `delete() of a stored '' returned ${preview(deleted)}`);
    });

    g.check('delete() of a value with a TTL, before it expires, returns true', async () => {
      const key = g.key();
      await g.adapter.save(key, 'doomed', 3_600_000);
      const deleted = await g.adapter.delete(key);
      assert.equal(deleted, true, `delete() of a value with a TTL of 1 hour returned ${preview(deleted)}`);
    });

    g.check('delete() removes only its key, not keys that start with it or match it as a pattern', async () => {
      const base = g.key();
      const a = g.adapter;
      const neighbours = [`${base}k:child`, `${base}k*`, `${base}kk`, `${base}K`];
      await a.save(`${base}k`, 'doomed');
      for (const key of neighbours) await a.save(key, 'neighbour');
      assert.equal(await a.delete(`${base}k`), true);
      for (const key of neighbours)
        assertSameString(await a.load(key), 'neighbour', `load() of ${preview(key.slice(base.length))} after delete() of "k"`);
    });

    g.atomicCheck('of 10 concurrent delete() calls on one key, exactly one returns true', async () => {
      const key = g.key();
      await g.adapter.save(key, 'doomed');
      const results = await Promise.all(Array.from({ length: 10 }, () => g.adapter.delete(key)));
      const trues = results.filter((result) => result === true).length;
      assert.equal(trues, 1, `${trues} of 10 concurrent delete() calls returned true`);
    });
  });
}
