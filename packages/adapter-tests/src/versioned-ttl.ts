import assert from 'node:assert/strict';
import { sleep } from './harness.js';
import type { Group, Harness } from './harness.js';
import { preview } from './strings.js';
import { assertStored } from './versioned-asserts.js';

/** A TTL far longer than any check: 1 hour, in ms. */
const LONG_TTL_MS = 3_600_000;

/**
 * TTLs of versions and floors, with real time (like the TTL group: every scenario starts when the
 * group's adapter exists, so the group waits for one TTL): a value written by `saveIfNewer` expires
 * and the key then counts as version 0; a floor lives as long as the value it replaced would have
 * (no TTL: until `delete`); a fence's floor on a missing key lives `ttlMs`; a fence that takes a
 * value keeps the longer of the value's remaining TTL and `ttlMs`; a value a fence leaves keeps its TTL.
 */
export function versionedTtlTests(harness: Harness): void {
  const ttl = harness.shortTtl;
  const wait = ttl + harness.expirySlack;
  const granularity = harness.options.ttlGranularity;

  harness.group(
    'TTL of versions and floors',
    (g) => {
      const a = (): Group['adapter'] => g.adapter;

      /** Fails as inconclusive when `since` is so long ago that the short TTL may have passed. */
      function stillWithinTtl(since: number, what: string): void {
        const elapsed = Date.now() - since;
        if (elapsed >= ttl - granularity) {
          assert.fail(`inconclusive: ${what} came ${elapsed} ms after the write, about the whole TTL of ${ttl} ms (raise ttlGranularity)`);
        }
      }

      /** Waits until `wait` ms have passed since `since`. */
      async function outlive(since: number): Promise<void> {
        await sleep(Math.max(0, since + wait - Date.now()));
      }

      g.orderedScenario(
        `a value stored by saveIfNewer() with a TTL of ${ttl} ms expires, then the key counts as version 0`,
        async () => {
          const key = g.key();
          await a().saveIfNewer(key, 'short-lived', 5, ttl);
          await outlive(Date.now());
          const loaded = await a().load(key);
          assert.equal(loaded, undefined, `load() returned ${preview(loaded)} ${wait} ms after saveIfNewer() with a TTL of ${ttl} ms`);
          assertStored(
            await a().saveIfNewer(key, 'one', 1),
            true,
            `saveIfNewer(…, 1) after version 5 expired`,
            'an expired value counts as absent (version 0)',
          );
        },
        wait,
      );

      g.orderedScenario(
        'a floor lives the rest of the TTL of the value it replaced: older writes are refused until then, stored after',
        async () => {
          const key = g.key();
          await a().load(key); // the first call of the group's adapter may prepare its store: not timed
          const started = Date.now();
          await a().saveIfNewer(key, 'five', 5, ttl);
          const saved = Date.now();
          await a().takeVersioned(key);
          const refused = await a().saveIfNewer(key, 'four', 4);
          stillWithinTtl(started, 'saveIfNewer(…, 4) after the take');
          assertStored(
            refused,
            false,
            'saveIfNewer(…, 4) right after taking version 5',
            "the take left a floor at 5 for the rest of the value's TTL",
          );
          await outlive(saved);
          assertStored(
            await a().saveIfNewer(key, 'four', 4),
            true,
            `saveIfNewer(…, 4) ${wait} ms after version 5 was written with a TTL of ${ttl} ms and taken`,
            'the floor ends with the TTL of the value it replaced',
          );
        },
        wait,
      );

      g.orderedScenario(
        'the floor of a value without a TTL does not expire',
        async () => {
          const key = g.key();
          await a().saveIfNewer(key, 'five', 5);
          await a().takeVersioned(key);
          await outlive(Date.now());
          assertStored(
            await a().saveIfNewer(key, 'four', 4),
            false,
            `saveIfNewer(…, 4) ${wait} ms after taking version 5 (written without a TTL)`,
            'the floor of a value without a TTL lasts until delete()',
          );
        },
        wait,
      );

      g.orderedScenario(
        `a fence with ttlMs ${ttl} on a missing key leaves a floor for that long`,
        async () => {
          const key = g.key();
          await a().load(key); // the first call of the group's adapter may prepare its store: not timed
          const started = Date.now();
          await a().takeVersioned(key, { version: 5, ttlMs: ttl });
          const fenced = Date.now();
          const refused = await a().saveIfNewer(key, 'four', 4);
          stillWithinTtl(started, 'saveIfNewer(…, 4) after the fence');
          assertStored(refused, false, 'saveIfNewer(…, 4) right after a fence at 5', 'the fence left a floor at 5');
          await outlive(fenced);
          assertStored(
            await a().saveIfNewer(key, 'four', 4),
            true,
            `saveIfNewer(…, 4) ${wait} ms after a fence at 5 with ttlMs ${ttl}`,
            "the fence's floor lives ttlMs",
          );
        },
        wait,
      );

      const fenceCases: ReadonlyArray<
        readonly [label: string, valueTtl: number | undefined, fenceTtl: number | undefined, lasts: boolean]
      > = [
        ['a value with a TTL of 1 hour, fenced with a short ttlMs: the floor outlives ttlMs', LONG_TTL_MS, ttl, true],
        ["a value with a short TTL, fenced with ttlMs of 1 hour: the floor outlives the value's TTL", ttl, LONG_TTL_MS, true],
        ['a value with a short TTL, fenced without ttlMs: the floor lasts until delete()', ttl, undefined, true],
        ['a value without a TTL, fenced with a short ttlMs: the floor lasts until delete()', undefined, ttl, true],
        ['a value with a short TTL, fenced with a short ttlMs: the floor ends after both', ttl, ttl, false],
      ];
      for (const [label, valueTtl, fenceTtl, lasts] of fenceCases) {
        g.orderedScenario(
          `a fence that takes ${label}`,
          async () => {
            const key = g.key();
            await a().saveIfNewer(key, 'three', 3, valueTtl);
            const taken = await a().takeVersioned(key, fenceTtl === undefined ? { version: 5 } : { version: 5, ttlMs: fenceTtl });
            assert.ok(taken !== undefined, 'the fence at 5 did not take the value of version 3');
            await outlive(Date.now());
            assertStored(
              await a().saveIfNewer(key, 'four', 4),
              !lasts,
              `saveIfNewer(…, 4) ${wait} ms after the fence`,
              lasts ? "the floor lives the longer of the value's remaining TTL and ttlMs" : "both the value's TTL and ttlMs have passed",
            );
          },
          wait,
        );
      }

      g.orderedScenario(
        'a value a fence leaves (a newer one) keeps its own TTL',
        async () => {
          const key = g.key();
          await a().saveIfNewer(key, 'nine', 9, ttl);
          await a().takeVersioned(key, { version: 5, ttlMs: LONG_TTL_MS });
          await outlive(Date.now());
          const loaded = await a().load(key);
          assert.equal(
            loaded,
            undefined,
            `load() returned ${preview(loaded)} ${wait} ms after saveIfNewer() with a TTL of ${ttl} ms and a fence below it`,
          );
        },
        wait,
      );
    },
    { plannedWaitMs: wait },
  );
}
