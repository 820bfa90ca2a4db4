import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';
import { assertNothingTaken, assertStored, assertTaken } from './versioned-asserts.js';

/**
 * `takeVersioned(key, { version: f })` is a fence: it takes a value only when its version is at
 * most `f` (a newer value stays, and the call resolves `undefined`), and in every case raises the
 * key's version to at least `f` (never lowers it), creating a floor on a key without a value.
 */
export function fenceTests(harness: Harness): void {
  harness.group('fences', (g) => {
    g.orderedCheck('a fence takes a value of a lower version, and returns it with its version', async () => {
      const key = g.key();
      await g.adapter.saveIfNewer(key, 'three', 3);
      assertTaken(await g.adapter.takeVersioned(key, { version: 5 }), 'three', 3, 'takeVersioned(key, { version: 5 }) of version 3');
      const loaded = await g.adapter.load(key);
      assert.equal(loaded, undefined, `load() after the fence took the value returned ${preview(loaded)}`);
    });

    g.orderedCheck('a fence takes a value of exactly its version', async () => {
      const key = g.key();
      await g.adapter.saveIfNewer(key, 'five', 5);
      assertTaken(await g.adapter.takeVersioned(key, { version: 5 }), 'five', 5, 'takeVersioned(key, { version: 5 }) of version 5');
    });

    g.orderedCheck('a fence leaves a value of a higher version where it is, with its version', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'seven', 7);
      assertNothingTaken(await a.takeVersioned(key, { version: 5 }), 'takeVersioned(key, { version: 5 }) of version 7');
      assertSameString(await a.load(key), 'seven', "load() after a fence below the value's version");
      assertStored(await a.saveIfNewer(key, 'six', 6), false, 'saveIfNewer(…, 6) after the fence', 'the value of version 7 is still there');
      assertTaken(await a.takeVersioned(key), 'seven', 7, "takeVersioned() after a fence below the value's version");
    });

    g.orderedCheck(
      "after a fence took a value, the key is at the fence's version: lower writes are refused, the fence's version is stored",
      async () => {
        const key = g.key();
        const a = g.adapter;
        await a.saveIfNewer(key, 'three', 3);
        await a.takeVersioned(key, { version: 5 });
        assertStored(
          await a.saveIfNewer(key, 'four', 4),
          false,
          'saveIfNewer(…, 4) after a fence at 5 took version 3',
          'the fence raised the key to version 5',
        );
        assertStored(
          await a.saveIfNewer(key, 'three again', 3),
          false,
          'saveIfNewer(…, 3) after a fence at 5 took version 3',
          'the fence raised the key to version 5 (an exact put-back of 3 is refused)',
        );
        assertStored(
          await a.saveIfNewer(key, 'five', 5),
          true,
          'saveIfNewer(…, 5) after a fence at 5',
          'a key without a value accepts its own version',
        );
      },
    );

    g.orderedCheck('a fence on a missing key leaves a floor at its version (no ttlMs: until delete)', async () => {
      const key = g.key();
      const a = g.adapter;
      assertNothingTaken(await a.takeVersioned(key, { version: 5 }), 'takeVersioned(key, { version: 5 }) of a missing key');
      assertStored(
        await a.saveIfNewer(key, 'four', 4),
        false,
        'saveIfNewer(…, 4) after a fence at 5 on a missing key',
        'the fence left a floor at version 5',
      );
      assertStored(
        await a.saveIfNewer(key, 'five', 5),
        true,
        'saveIfNewer(…, 5) after a fence at 5 on a missing key',
        'a key without a value accepts its own version',
      );
    });

    g.orderedCheck('a fence raises a lower floor and never lowers a higher one', async () => {
      const a = g.adapter;
      const raised = g.key('raised');
      await a.saveIfNewer(raised, 'three', 3);
      await a.takeVersioned(raised);
      await a.takeVersioned(raised, { version: 6 });
      assertStored(
        await a.saveIfNewer(raised, 'five', 5),
        false,
        'saveIfNewer(…, 5) after a fence at 6 over a floor at 3',
        'the fence raised the floor to 6',
      );
      const kept = g.key('kept');
      await a.saveIfNewer(kept, 'eight', 8);
      await a.takeVersioned(kept);
      await a.takeVersioned(kept, { version: 6 });
      assertStored(
        await a.saveIfNewer(kept, 'seven', 7),
        false,
        'saveIfNewer(…, 7) after a fence at 6 over a floor at 8',
        'a fence never lowers a floor',
      );
      assertStored(
        await a.saveIfNewer(kept, 'eight again', 8),
        true,
        'saveIfNewer(…, 8) after a fence at 6 over a floor at 8',
        'the floor stays at 8',
      );
    });

    g.orderedCheck('a fence at version 0 on a missing key changes nothing', async () => {
      const key = g.key();
      assertNothingTaken(await g.adapter.takeVersioned(key, { version: 0 }), 'takeVersioned(key, { version: 0 }) of a missing key');
      assertStored(
        await g.adapter.saveIfNewer(key, 'zero', 0),
        true,
        'saveIfNewer(…, 0) after a fence at 0',
        'a missing key has version 0',
      );
    });
  });
}
