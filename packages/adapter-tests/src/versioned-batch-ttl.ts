import assert from 'node:assert/strict';
import { sleep } from './harness.js';
import type { Group, Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';
import { assertBatchResults, assertStored } from './versioned-asserts.js';

/** A TTL far longer than any check: 1 hour, in ms. */
const LONG_TTL_MS = 3_600_000;

/**
 * TTLs of the entries of `saveManyIfNewer()`, with real time (like the other TTL groups: every
 * scenario starts when the group's adapter exists, so the group waits for one TTL): each entry
 * keeps its own `ttlMs` (`undefined` or absent: no expiry); an entry over an expired value or floor
 * counts it as absent; an entry sets or removes the expiry of what it replaces; the floor of a
 * value written by a batch lives the rest of that value's TTL.
 */
export function versionedBatchTtlTests(harness: Harness): void {
  const ttl = harness.shortTtl;
  const wait = ttl + harness.expirySlack;
  const granularity = harness.options.ttlGranularity;

  harness.group(
    'saveManyIfNewer: TTL',
    (g) => {
      const a = (): Group['adapter'] => g.adapter;

      /** Fails as inconclusive when `since` is so long ago that the short TTL may have passed. */
      function stillWithinTtl(since: number, what: string): void {
        const elapsed = Date.now() - since;
        if (elapsed >= ttl - granularity) {
          assert.fail(`inconclusive: ${what} came ${elapsed} ms after the batch, about the whole TTL of ${ttl} ms (raise ttlGranularity)`);
        }
      }

      /** Waits until `wait` ms have passed since `since`. */
      async function outlive(since: number): Promise<void> {
        await sleep(Math.max(0, since + wait - Date.now()));
      }

      g.batchScenario(
        `each entry keeps its own ttlMs: ${ttl} ms expires, undefined and absent never do, 1 hour stays`,
        async () => {
          const [short, undefinedTtl, absent, long] = [g.key('short'), g.key('undefined'), g.key('absent'), g.key('long')];
          await a().load(short); // the first call of the group's adapter may prepare its store: not timed
          const started = Date.now();
          const results = await a().saveManyIfNewer([
            { key: short, value: 'short-lived', version: 5, ttlMs: ttl },
            { key: undefinedTtl, value: 'ttlMs undefined', version: 5, ttlMs: undefined },
            { key: absent, value: 'no ttlMs', version: 5 },
            { key: long, value: 'one hour', version: 5, ttlMs: LONG_TTL_MS },
          ]);
          const saved = Date.now();
          const early = await a().load(short);
          stillWithinTtl(started, 'load() of the short-lived entry');
          assertBatchResults(
            results,
            [true, true, true, true],
            ['a missing key', 'a missing key', 'a missing key', 'a missing key'],
            'saveManyIfNewer() of four entries with their own TTLs',
          );
          assertSameString(early, 'short-lived', `load() right after a batch entry with a TTL of ${ttl} ms`);
          await outlive(saved);
          const expired = await a().load(short);
          assert.equal(expired, undefined, `load() returned ${preview(expired)} ${wait} ms after a batch entry with a TTL of ${ttl} ms`);
          assertStored(
            await a().saveIfNewer(short, 'one', 1),
            true,
            'saveIfNewer(…, 1) after the batch entry of version 5 expired',
            'an expired value counts as absent (version 0)',
          );
          assertSameString(await a().load(undefinedTtl), 'ttlMs undefined', `load() ${wait} ms after a batch entry with ttlMs: undefined`);
          assertSameString(await a().load(absent), 'no ttlMs', `load() ${wait} ms after a batch entry without ttlMs`);
          assertSameString(await a().load(long), 'one hour', `load() ${wait} ms after a batch entry with a TTL of 1 hour`);
        },
        wait,
      );

      g.batchScenario(
        'an entry over an expired value, or an expired floor, counts it as absent (version 0)',
        async () => {
          const [value, floor] = [g.key('value'), g.key('floor')];
          await a().saveIfNewer(value, 'nine', 9, ttl);
          await a().saveIfNewer(floor, 'nine', 9, ttl);
          await a().takeVersioned(floor);
          await outlive(Date.now());
          const results = await a().saveManyIfNewer([
            { key: value, value: 'one', version: 1 },
            { key: floor, value: 'one', version: 1 },
          ]);
          assertBatchResults(
            results,
            [true, true],
            ['the value of version 9 expired', 'the floor at 9 expired with the value it replaced'],
            `saveManyIfNewer() ${wait} ms after values with a TTL of ${ttl} ms`,
          );
        },
        wait,
      );

      g.batchScenario(
        'an entry without ttlMs removes the expiry of the value it replaces; one with ttlMs sets it',
        async () => {
          const [removes, sets] = [g.key('removes'), g.key('sets')];
          await a().saveIfNewer(removes, 'short-lived', 1, ttl);
          await a().saveIfNewer(sets, 'forever', 1);
          const saved = Date.now();
          await a().saveManyIfNewer([
            { key: removes, value: 'now forever', version: 2 },
            { key: sets, value: 'now short-lived', version: 2, ttlMs: ttl },
          ]);
          await outlive(saved);
          assertSameString(
            await a().load(removes),
            'now forever',
            `load() ${wait} ms after a batch entry without ttlMs replaced a value with a TTL of ${ttl} ms`,
          );
          const gone = await a().load(sets);
          assert.equal(
            gone,
            undefined,
            `load() returned ${preview(gone)} ${wait} ms after a batch entry with a TTL of ${ttl} ms replaced a value without one`,
          );
        },
        wait,
      );

      g.batchScenario(
        'the floor of a value written by a batch lives the rest of its TTL (none: until delete)',
        async () => {
          const [short, forever] = [g.key('short'), g.key('forever')];
          await a().load(short); // not timed (see above)
          const started = Date.now();
          await a().saveManyIfNewer([
            { key: short, value: 'five', version: 5, ttlMs: ttl },
            { key: forever, value: 'five', version: 5 },
          ]);
          const saved = Date.now();
          await a().takeVersioned(short);
          await a().takeVersioned(forever);
          const refused = await a().saveIfNewer(short, 'four', 4);
          stillWithinTtl(started, 'saveIfNewer(…, 4) after the take');
          assertStored(refused, false, 'saveIfNewer(…, 4) right after taking version 5 written by a batch', 'the take left a floor at 5');
          await outlive(saved);
          assertStored(
            await a().saveIfNewer(short, 'four', 4),
            true,
            `saveIfNewer(…, 4) ${wait} ms after a batch wrote version 5 with a TTL of ${ttl} ms and it was taken`,
            'the floor ends with the TTL of the value it replaced',
          );
          assertStored(
            await a().saveIfNewer(forever, 'four', 4),
            false,
            `saveIfNewer(…, 4) ${wait} ms after taking version 5, written by a batch without ttlMs`,
            'the floor of a value without a TTL lasts until delete()',
          );
        },
        wait,
      );
    },
    { plannedWaitMs: wait },
  );
}
