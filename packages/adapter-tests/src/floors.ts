import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { preview } from './strings.js';
import { assertNothingTaken, assertStored, assertTaken } from './versioned-asserts.js';

/**
 * A take leaves a *floor*: the key keeps the taken value's version without a value, so a late write
 * of an older version is refused, the same version is accepted (the exact put-back of what was
 * taken), and a higher one is stored. `take` leaves a floor too. A missing key gets none.
 */
export function floorTests(harness: Harness): void {
  harness.group('floors', (g) => {
    g.orderedCheck('takeVersioned() removes the value: load(), take() and a second takeVersioned() find nothing', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'once', 3);
      assertTaken(await a.takeVersioned(key), 'once', 3, 'the first takeVersioned()');
      const loaded = await a.load(key);
      assert.equal(loaded, undefined, `load() after takeVersioned() returned ${preview(loaded)}`);
      assertNothingTaken(await a.takeVersioned(key), 'a second takeVersioned()');
      assertNothingTaken(await a.take(key), 'take() after takeVersioned()');
    });

    g.orderedCheck(
      'after takeVersioned(), a lower version is refused, the same version is put back exactly, a higher one is stored',
      async () => {
        const key = g.key();
        const a = g.adapter;
        await a.saveIfNewer(key, 'five', 5);
        await a.takeVersioned(key);
        assertStored(
          await a.saveIfNewer(key, 'four', 4),
          false,
          'saveIfNewer(…, 4) after taking version 5',
          'the take left a floor at version 5',
        );
        assertStored(
          await a.saveIfNewer(key, 'five, put back', 5),
          true,
          'saveIfNewer(…, 5) after taking version 5',
          "a put-back at the floor's version is accepted",
        );
        assertTaken(await a.takeVersioned(key), 'five, put back', 5, 'takeVersioned() of the put-back value');
        assertStored(
          await a.saveIfNewer(key, 'six', 6),
          true,
          'saveIfNewer(…, 6) after taking version 5',
          'a higher version is newer than the floor',
        );
        assertTaken(await a.takeVersioned(key), 'six', 6, 'takeVersioned() after saveIfNewer(…, 6)');
      },
    );

    g.orderedCheck('take() leaves a floor too', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'five', 5);
      assert.equal(await a.take(key), 'five', 'take() of a value written by saveIfNewer()');
      assertStored(
        await a.saveIfNewer(key, 'four', 4),
        false,
        'saveIfNewer(…, 4) after take() of version 5',
        'take() leaves a floor like takeVersioned()',
      );
      assertStored(
        await a.saveIfNewer(key, 'five again', 5),
        true,
        'saveIfNewer(…, 5) after take() of version 5',
        "a put-back at the floor's version is accepted",
      );
    });

    g.orderedCheck('takeVersioned() of a missing key resolves undefined and leaves no floor', async () => {
      const key = g.key();
      assertNothingTaken(await g.adapter.takeVersioned(key), 'takeVersioned() of a missing key');
      assertStored(
        await g.adapter.saveIfNewer(key, 'zero', 0),
        true,
        'saveIfNewer(…, 0) after takeVersioned() of a missing key',
        'a missing key has version 0, and a take without a fence raises nothing',
      );
    });

    g.orderedCheck('a floor is not a value: it survives a refused write, and load() keeps returning undefined', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'nine', 9);
      await a.takeVersioned(key);
      for (const version of [1, 8, 3]) await a.saveIfNewer(key, `refused ${version}`, version);
      const loaded = await a.load(key);
      assert.equal(loaded, undefined, `load() of a floor returned ${preview(loaded)}`);
      assertStored(
        await a.saveIfNewer(key, 'eight', 8),
        false,
        'saveIfNewer(…, 8) after three refused writes',
        'refused writes leave the floor at version 9',
      );
    });
  });
}
