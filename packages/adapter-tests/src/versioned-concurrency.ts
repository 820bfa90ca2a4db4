import assert from 'node:assert/strict';
import type { VersionedValue } from '@reprise/core';
import type { Harness } from './harness.js';
import { preview, randomInts } from './strings.js';
import { assertStored, assertTaken } from './versioned-asserts.js';

/**
 * `1..n` in a reproducible shuffled order (Fisher-Yates over a seeded generator), with `n` moved to
 * the middle: a store where the first or the last write wins cannot pass by luck.
 */
export function shuffledVersions(n: number, seed: number): number[] {
  const next = randomInts(seed);
  const versions = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = next(i + 1);
    [versions[i], versions[j]] = [versions[j]!, versions[i]!];
  }
  const middle = Math.floor(n / 2);
  const top = versions.indexOf(n);
  [versions[top], versions[middle]] = [versions[middle]!, versions[top]!];
  return versions;
}

function valueFor(version: number): string {
  return `value of version ${version}`;
}

/** The results that are values, for counting winners. */
function winners(results: ReadonlyArray<VersionedValue | undefined>): VersionedValue[] {
  return results.filter((result): result is VersionedValue => result !== undefined);
}

/**
 * Each operation of an ordered adapter is atomic per key, also under concurrency:
 * `concurrency` concurrent `saveIfNewer` calls with shuffled versions leave the highest one, and
 * those below a floor are all refused; of `concurrency` concurrent takes (plain or fences) exactly
 * one gets the value, and concurrent fences leave the highest fence as the floor.
 */
export function versionedConcurrencyTests(harness: Harness): void {
  const n = harness.options.concurrency;

  harness.group('versioned writes under concurrency', (g) => {
    g.orderedCheck(`${n} concurrent saveIfNewer() calls with shuffled versions leave the highest version`, async () => {
      const key = g.key();
      const versions = shuffledVersions(n, 0x5eed);
      const results = await Promise.all(versions.map((version) => g.adapter.saveIfNewer(key, valueFor(version), version)));
      const notBoolean = results.filter((result) => typeof result !== 'boolean');
      assert.deepEqual(notBoolean, [], 'saveIfNewer() must resolve true or false');
      assertStored(
        results[versions.indexOf(n)],
        true,
        `the saveIfNewer() of the highest version (${n})`,
        'no write of a higher version came before it',
      );
      assertTaken(await g.adapter.takeVersioned(key), valueFor(n), n, `takeVersioned() after ${n} concurrent writes of versions 1..${n}`);
    });

    g.orderedCheck(`${n} concurrent saveIfNewer() calls over a floor: every one below it is refused, the highest stored`, async () => {
      const key = g.key();
      const floor = Math.ceil(n / 2);
      await g.adapter.takeVersioned(key, { version: floor });
      const versions = shuffledVersions(n, 0xf100);
      const results = await Promise.all(versions.map((version) => g.adapter.saveIfNewer(key, valueFor(version), version)));
      const wronglyStored = versions.filter((version, i) => version < floor && results[i] !== false);
      assert.deepEqual(wronglyStored, [], `versions below the floor at ${floor} that saveIfNewer() did not refuse`);
      assertTaken(
        await g.adapter.takeVersioned(key),
        valueFor(n),
        n,
        `takeVersioned() after ${n} concurrent writes over a floor at ${floor}`,
      );
    });

    g.orderedCheck(`exactly one of ${n} concurrent takeVersioned() calls gets the value, with its version`, async () => {
      const key = g.key();
      await g.adapter.saveIfNewer(key, 'the prize', 7);
      const results = await Promise.all(Array.from({ length: n }, () => g.adapter.takeVersioned(key)));
      const got = winners(results);
      assert.equal(got.length, 1, `${got.length} of ${n} concurrent takeVersioned() calls got a value; exactly one must`);
      assertTaken(got[0], 'the prize', 7, 'the winning takeVersioned()');
      assert.equal(
        await g.adapter.saveIfNewer(key, 'older', 6),
        false,
        'saveIfNewer(…, 6) after the takes resolved true: the take must leave a floor at 7',
      );
    });

    g.orderedCheck(`exactly one of ${n} concurrent fences gets the value, and the highest fence is the floor`, async () => {
      const key = g.key();
      await g.adapter.saveIfNewer(key, 'the prize', 1);
      const fences = shuffledVersions(n, 0xfe9ce).map((v) => v + 1);
      const results = await Promise.all(fences.map((version) => g.adapter.takeVersioned(key, { version })));
      const got = winners(results);
      assert.equal(got.length, 1, `${got.length} of ${n} concurrent fences got a value; exactly one must`);
      assertTaken(got[0], 'the prize', 1, 'the winning fence');
      const top = n + 1;
      assertStored(
        await g.adapter.saveIfNewer(key, 'below', top - 1),
        false,
        `saveIfNewer(…, ${top - 1}) after fences up to ${top}`,
        `the floor is the highest fence (${top})`,
      );
      assertStored(
        await g.adapter.saveIfNewer(key, 'at', top),
        true,
        `saveIfNewer(…, ${top}) after fences up to ${top}`,
        'a key without a value accepts its own version',
      );
    });

    g.orderedCheck(
      `${n} concurrent takes and higher saveIfNewer() calls: no value is taken twice, and every take gets a value that was stored`,
      async () => {
        const key = g.key();
        await g.adapter.saveIfNewer(key, valueFor(0), 0);
        const versions = shuffledVersions(n, 0x7a4e);
        const writes = versions.map((version) => g.adapter.saveIfNewer(key, valueFor(version), version));
        const takes = Array.from({ length: n }, () => g.adapter.takeVersioned(key));
        const [stored, taken] = await Promise.all([Promise.all(writes), Promise.all(takes)]);
        const storedVersions = new Set([0, ...versions.filter((_, i) => stored[i] === true)]);
        const seen = new Set<number>();
        for (const result of winners(taken)) {
          assert.ok(storedVersions.has(result.version), `a take returned version ${preview(result.version)}, which no write stored`);
          assert.equal(result.value, valueFor(result.version), `a take returned ${preview(result.value)} as version ${result.version}`);
          assert.ok(!seen.has(result.version), `version ${result.version} was taken twice`);
          seen.add(result.version);
        }
      },
    );
  });
}
