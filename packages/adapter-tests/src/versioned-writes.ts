import type { Harness } from './harness.js';
import { assertSameString } from './strings.js';
import { assertStored, assertTaken } from './versioned-asserts.js';

/**
 * `saveIfNewer` orders the writes of one key: it stores over a value of a lower version, or over no
 * value at all (a key never written counts as version 0), refuses the same or a lower version, and
 * `takeVersioned` returns the value with the version it was written with. A value written by plain
 * `save` has version 0.
 */
export function versionedWriteTests(harness: Harness): void {
  harness.group('saveIfNewer', (g) => {
    g.orderedCheck('saveIfNewer() of a missing key stores and resolves true, at any version (0 included)', async () => {
      for (const version of [0, 1, 7]) {
        const key = g.key(`v${version}`);
        assertStored(
          await g.adapter.saveIfNewer(key, `at ${version}`, version),
          true,
          `saveIfNewer(…, ${version}) of a missing key`,
          'a missing key has version 0',
        );
        assertSameString(await g.adapter.load(key), `at ${version}`, `load() after saveIfNewer(…, ${version})`);
      }
    });

    g.orderedCheck('a higher version replaces the value; the same or a lower one is refused and changes nothing', async () => {
      const key = g.key();
      const a = g.adapter;
      assertStored(await a.saveIfNewer(key, 'five', 5), true, 'saveIfNewer(…, 5) of a missing key', 'a missing key has version 0');
      assertStored(
        await a.saveIfNewer(key, 'five again', 5),
        false,
        'saveIfNewer(…, 5) over a value of version 5',
        'the same version is not newer',
      );
      assertStored(await a.saveIfNewer(key, 'four', 4), false, 'saveIfNewer(…, 4) over a value of version 5', 'a lower version is older');
      assertSameString(await a.load(key), 'five', 'load() after two refused writes');
      assertStored(await a.saveIfNewer(key, 'six', 6), true, 'saveIfNewer(…, 6) over a value of version 5', 'a higher version is newer');
      assertTaken(await a.takeVersioned(key), 'six', 6, 'takeVersioned() after saveIfNewer(…, 6)');
    });

    g.orderedCheck('takeVersioned() returns the value with the version it was written with', async () => {
      const key = g.key();
      await g.adapter.saveIfNewer(key, 'forty-two', 42);
      assertTaken(await g.adapter.takeVersioned(key), 'forty-two', 42, 'takeVersioned() after saveIfNewer(…, 42)');
    });

    g.orderedCheck('a value written by plain save() has version 0: saveIfNewer(0) is refused, saveIfNewer(1) stores', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.save(key, 'plain');
      assertStored(
        await a.saveIfNewer(key, 'zero', 0),
        false,
        'saveIfNewer(…, 0) over a plain save()',
        'a saved value has version 0, and 0 is not newer than 0',
      );
      assertSameString(await a.load(key), 'plain', 'load() after a refused saveIfNewer(…, 0)');
      assertTaken(await a.takeVersioned(key), 'plain', 0, 'takeVersioned() of a value written by save()');
      const other = g.key('other');
      await a.save(other, 'plain');
      assertStored(await a.saveIfNewer(other, 'one', 1), true, 'saveIfNewer(…, 1) over a plain save()', 'a saved value has version 0');
      assertTaken(await a.takeVersioned(other), 'one', 1, 'takeVersioned() after saveIfNewer(…, 1)');
    });

    g.orderedCheck('versions are per key: saveIfNewer() of one key leaves the others alone', async () => {
      const [high, low] = [g.key('high'), g.key('low')];
      await g.adapter.saveIfNewer(high, 'high', 10);
      assertStored(
        await g.adapter.saveIfNewer(low, 'low', 1),
        true,
        'saveIfNewer(…, 1) of a missing key next to one at version 10',
        'versions are per key',
      );
      assertSameString(await g.adapter.load(high), 'high', 'load() of the key next to the one written');
    });
  });
}
