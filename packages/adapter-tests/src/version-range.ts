import type { Harness } from './harness.js';
import { assertStored, assertTaken } from './versioned-asserts.js';

const MAX = Number.MAX_SAFE_INTEGER;

/**
 * Pairs of versions `[lower, higher]` that a store gets wrong when it compares versions as strings
 * (`'9' > '10'`), as 32-bit integers, or as doubles past 2^53 (where neighbours collapse).
 */
const PAIRS: ReadonlyArray<readonly [number, number]> = [
  [9, 10],
  [99, 100],
  [2 ** 31 - 1, 2 ** 31],
  [2 ** 32, 2 ** 32 + 1],
  [1e15, 1e15 + 1],
  [MAX - 1, MAX],
];

/**
 * Versions are the full range of non-negative safe integers: `Number.MAX_SAFE_INTEGER` comes back
 * exactly (as a number), and versions compare as numbers, whatever their number of digits.
 */
export function versionRangeTests(harness: Harness): void {
  harness.group('version range', (g) => {
    g.orderedCheck('Number.MAX_SAFE_INTEGER round-trips exactly, as a number, and floors at it compare exactly', async () => {
      const key = g.key();
      const a = g.adapter;
      assertStored(
        await a.saveIfNewer(key, 'max', MAX),
        true,
        'saveIfNewer(…, MAX_SAFE_INTEGER) of a missing key',
        'a missing key has version 0',
      );
      assertTaken(await a.takeVersioned(key), 'max', MAX, 'takeVersioned() after saveIfNewer(…, MAX_SAFE_INTEGER)');
      assertStored(
        await a.saveIfNewer(key, 'max - 1', MAX - 1),
        false,
        'saveIfNewer(…, MAX_SAFE_INTEGER - 1) over a floor at MAX_SAFE_INTEGER',
        'the versions differ by one',
      );
      assertStored(
        await a.saveIfNewer(key, 'max again', MAX),
        true,
        'saveIfNewer(…, MAX_SAFE_INTEGER) over a floor at MAX_SAFE_INTEGER',
        "a put-back at the floor's version is accepted",
      );
      await a.takeVersioned(key, { version: MAX });
      assertStored(
        await a.saveIfNewer(key, 'max - 1', MAX - 1),
        false,
        'saveIfNewer(…, MAX_SAFE_INTEGER - 1) after a fence at MAX_SAFE_INTEGER',
        'the versions differ by one',
      );
    });

    g.orderedCheck(
      `versions compare as numbers, not as strings or narrow integers: ${PAIRS.map(([lo, hi]) => `${lo} < ${hi}`).join(', ')}`,
      async () => {
        const a = g.adapter;
        for (const [lo, hi] of PAIRS) {
          const down = g.key(`${hi}-then-${lo}`);
          await a.saveIfNewer(down, 'higher', hi);
          assertStored(await a.saveIfNewer(down, 'lower', lo), false, `saveIfNewer(…, ${lo}) over version ${hi}`, `${lo} < ${hi}`);
          assertTaken(await a.takeVersioned(down), 'higher', hi, `takeVersioned() after saveIfNewer(…, ${hi})`);
          const up = g.key(`${lo}-then-${hi}`);
          await a.saveIfNewer(up, 'lower', lo);
          assertStored(await a.saveIfNewer(up, 'higher', hi), true, `saveIfNewer(…, ${hi}) over version ${lo}`, `${hi} > ${lo}`);
          await a.takeVersioned(up);
          assertStored(await a.saveIfNewer(up, 'lower', lo), false, `saveIfNewer(…, ${lo}) over a floor at ${hi}`, `${lo} < ${hi}`);
        }
      },
    );
  });
}
