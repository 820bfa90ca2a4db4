import assert from 'node:assert/strict';
import { sleep } from './harness.js';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';

/** A TTL far longer than any check: 1 hour, in ms. */
const LONG_TTL_MS = 3_600_000;
/** 30 days in ms: above 2^31 - 1 ms, where a Node timer would fire at once instead. */
const THIRTY_DAYS_MS = 30 * 24 * 3_600_000;

/**
 * TTLs with real time: a value is readable before its TTL and gone (for `load`, `take` and
 * `delete`) once it has passed; no TTL means no expiry; each save sets or removes the expiry anew.
 *
 * The short TTL is a multiple of `ttlGranularity` (200 ms by default); expiry is expected
 * `ttlGranularity + 50` ms after it. Every scenario starts when the group's adapter exists and they
 * run concurrently, so the group waits for one TTL, not one per check.
 */
export function ttlTests(harness: Harness): void {
  const ttl = harness.shortTtl;
  const wait = ttl + harness.expirySlack;

  harness.group(
    'TTL',
    (g) => {
      /** Saves, then waits until `ttl` + slack have passed since the save resolved. */
      async function saveAndOutlive(key: string, value: string, ttlMs?: number): Promise<void> {
        await g.adapter.save(key, value, ttlMs);
        await sleep(wait);
      }

      g.scenario(
        `a value saved with a TTL of ${ttl} ms is readable right away`,
        async () => {
          const key = g.key();
          const started = Date.now();
          await g.adapter.save(key, 'short-lived', ttl);
          const value = await g.adapter.load(key);
          const elapsed = Date.now() - started;
          if (value === undefined && elapsed >= ttl - harness.options.ttlGranularity) {
            assert.fail(`inconclusive: save() and load() took ${elapsed} ms, about the whole TTL of ${ttl} ms (raise ttlGranularity)`);
          }
          assertSameString(value, 'short-lived', `load() ${elapsed} ms after a save with a TTL of ${ttl} ms`);
        },
        wait,
      );

      g.scenario(
        `load() returns undefined once the TTL has passed (${ttl} ms, checked after ${wait} ms)`,
        async () => {
          const key = g.key();
          await saveAndOutlive(key, 'expired', ttl);
          const value = await g.adapter.load(key);
          assert.equal(value, undefined, `load() returned ${preview(value)} ${wait} ms after a save with a TTL of ${ttl} ms`);
        },
        wait,
      );

      g.scenario(
        'take() returns undefined once the TTL has passed',
        async () => {
          const key = g.key();
          await saveAndOutlive(key, 'expired', ttl);
          const value = await g.adapter.take(key);
          assert.equal(value, undefined, `take() returned ${preview(value)} ${wait} ms after a save with a TTL of ${ttl} ms`);
        },
        wait,
      );

      g.scenario(
        'delete() returns false once the TTL has passed',
        async () => {
          const key = g.key();
          await saveAndOutlive(key, 'expired', ttl);
          const deleted = await g.adapter.delete(key);
          assert.equal(
            deleted,
            false,
            `delete() returned ${preview(deleted)} for a value whose TTL of ${ttl} ms passed ${wait - ttl} ms ago`,
          );
        },
        wait,
      );

      g.scenario(
        'a value saved without a TTL does not expire',
        async () => {
          const key = g.key();
          await saveAndOutlive(key, 'forever');
          assertSameString(await g.adapter.load(key), 'forever', `load() ${wait} ms after a save without a TTL`);
        },
        wait,
      );

      g.scenario(
        'a save without a TTL over a value with one removes the expiry',
        async () => {
          const key = g.key();
          await g.adapter.save(key, 'short-lived', ttl);
          await saveAndOutlive(key, 'now forever');
          assertSameString(
            await g.adapter.load(key),
            'now forever',
            `load() ${wait} ms after a save without a TTL replaced one with a TTL of ${ttl} ms`,
          );
        },
        wait,
      );

      g.scenario(
        'a save with a TTL over a value without one sets the expiry',
        async () => {
          const key = g.key();
          await g.adapter.save(key, 'forever');
          await saveAndOutlive(key, 'now short-lived', ttl);
          const value = await g.adapter.load(key);
          assert.equal(
            value,
            undefined,
            `load() returned ${preview(value)} ${wait} ms after a save with a TTL of ${ttl} ms replaced one without`,
          );
        },
        wait,
      );

      g.scenario(
        'a save with a longer TTL over a value with a short one extends it',
        async () => {
          const key = g.key();
          await g.adapter.save(key, 'short-lived', ttl);
          await saveAndOutlive(key, 'renewed', LONG_TTL_MS);
          assertSameString(
            await g.adapter.load(key),
            'renewed',
            `load() ${wait} ms after a TTL of ${ttl} ms was replaced by one of 1 hour`,
          );
        },
        wait,
      );

      g.scenario(
        'a TTL of 30 days (over the 2^31 - 1 ms timer limit) keeps the value',
        async () => {
          const key = g.key();
          await saveAndOutlive(key, 'long-lived', THIRTY_DAYS_MS);
          assertSameString(await g.adapter.load(key), 'long-lived', `load() ${wait} ms after a save with a TTL of 30 days`);
        },
        wait,
      );

      g.scenario(
        'take() returns a value saved with a TTL before it expires, and removes it',
        async () => {
          const key = g.key();
          await g.adapter.save(key, 'take me', LONG_TTL_MS);
          assertSameString(await g.adapter.take(key), 'take me', 'take() of a value with a TTL of 1 hour');
          const after = await g.adapter.load(key);
          assert.equal(after, undefined, `load() after take() returned ${preview(after)}`);
        },
        wait,
      );
    },
    { plannedWaitMs: wait },
  );
}
