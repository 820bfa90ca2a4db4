import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';
import { assertStored, assertTaken } from './versioned-asserts.js';

/**
 * Plain `save` stores unconditionally at version 0, replacing any floor; `delete` removes the value
 * and the version (a floor included), and resolves `true` only when a value was removed.
 */
export function versionedResetTests(harness: Harness): void {
  harness.group('save and delete of versioned keys', (g) => {
    g.orderedCheck('a plain save() over a floor stores at version 0 and removes the floor', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'five', 5);
      await a.takeVersioned(key);
      await a.save(key, 'plain');
      assertSameString(await a.load(key), 'plain', 'load() after save() over a floor');
      assertTaken(await a.takeVersioned(key), 'plain', 0, 'takeVersioned() of a value saved over a floor');
      assertStored(
        await a.saveIfNewer(key, 'one', 1),
        true,
        'saveIfNewer(…, 1) after save() replaced a floor at 5',
        'save() replaces the floor (version 0)',
      );
    });

    g.orderedCheck('a plain save() over a versioned value resets the key to version 0', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'five', 5);
      await a.save(key, 'plain');
      assertStored(await a.saveIfNewer(key, 'one', 1), true, 'saveIfNewer(…, 1) after save() over version 5', 'save() stores at version 0');
      assertTaken(await a.takeVersioned(key), 'one', 1, 'takeVersioned() after saveIfNewer(…, 1)');
    });

    g.orderedCheck('delete() of a floor resolves false and removes it', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'five', 5);
      await a.takeVersioned(key);
      const deleted = await a.delete(key);
      assert.equal(deleted, false, `delete() of a floor (no value) returned ${preview(deleted)}`);
      assertStored(
        await a.saveIfNewer(key, 'one', 1),
        true,
        'saveIfNewer(…, 1) after delete() of a floor at 5',
        'delete() removes the floor',
      );
    });

    g.orderedCheck('delete() of a versioned value resolves true and removes value and version', async () => {
      const key = g.key();
      const a = g.adapter;
      await a.saveIfNewer(key, 'five', 5);
      const deleted = await a.delete(key);
      assert.equal(deleted, true, `delete() of a value of version 5 returned ${preview(deleted)}`);
      assertStored(
        await a.saveIfNewer(key, 'one', 1),
        true,
        'saveIfNewer(…, 1) after delete() of version 5',
        'delete() removes the version',
      );
    });

    g.orderedCheck("delete() of a fence's floor on a missing key resolves false and removes it", async () => {
      const key = g.key();
      const a = g.adapter;
      await a.takeVersioned(key, { version: 5 });
      const deleted = await a.delete(key);
      assert.equal(deleted, false, `delete() of a fence's floor returned ${preview(deleted)}`);
      assertStored(
        await a.saveIfNewer(key, 'one', 1),
        true,
        "saveIfNewer(…, 1) after delete() of a fence's floor at 5",
        'delete() removes the floor',
      );
    });
  });
}
