import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';
import assert from 'node:assert/strict';

/** `save` is an upsert: the last value written is the one read, whatever was there before. */
export function upsertTests(harness: Harness): void {
  harness.group('upsert', (g) => {
    g.check('a second save() replaces the value', async () => {
      const key = g.key();
      await g.adapter.save(key, 'first');
      await g.adapter.save(key, 'second');
      assertSameString(await g.adapter.load(key), 'second', 'load() after two saves');
    });

    g.check('a shorter value replaces a longer one entirely', async () => {
      const key = g.key();
      await g.adapter.save(key, 'a much longer first value, with ünïcödé 😀');
      await g.adapter.save(key, 'short');
      assertSameString(await g.adapter.load(key), 'short', 'load() after a shorter value was saved over a longer one');
    });

    g.check('the empty string replaces a value (and is a value, not a missing key)', async () => {
      const key = g.key();
      await g.adapter.save(key, 'not empty');
      await g.adapter.save(key, '');
      assertSameString(await g.adapter.load(key), '', "load() after saving ''");
      assertSameString(await g.adapter.take(key), '', "take() after saving ''");
    });

    g.check('after 20 saves the last one wins, for load() and take()', async () => {
      const key = g.key();
      for (let i = 1; i <= 20; i++) await g.adapter.save(key, `value ${i}`);
      assertSameString(await g.adapter.load(key), 'value 20', 'load() after 20 saves');
      assertSameString(await g.adapter.take(key), 'value 20', 'take() after 20 saves');
    });

    g.check('a save() after take() or delete() writes the key again', async () => {
      const key = g.key();
      await g.adapter.save(key, 'first');
      await g.adapter.take(key);
      await g.adapter.save(key, 'after take');
      assertSameString(await g.adapter.load(key), 'after take', 'load() of a key saved again after take()');
      await g.adapter.delete(key);
      await g.adapter.save(key, 'after delete');
      assertSameString(await g.adapter.load(key), 'after delete', 'load() of a key saved again after delete()');
    });

    g.check('concurrent saves of one key leave exactly one of the written values', async () => {
      const key = g.key();
      const values = Array.from({ length: 10 }, (_, i) => `concurrent value ${i} `.repeat(i + 1));
      await Promise.all(values.map((value) => g.adapter.save(key, value)));
      const result = await g.adapter.load(key);
      assert.ok(typeof result === 'string' && values.includes(result), `load() returned ${preview(result)}, none of the values written`);
    });

    g.check('saving one key leaves the other keys alone', async () => {
      const one = g.key('one');
      const other = g.key('other');
      await g.adapter.save(one, 'one');
      await g.adapter.save(other, 'other');
      await g.adapter.save(one, 'one, again');
      assertSameString(await g.adapter.load(other), 'other', 'load() of a key next to the one saved again');
    });
  });
}
