import assert from 'node:assert/strict';
import { RepriseError } from '@reprise/core';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';

/** Versions that are not non-negative safe integers, with a label each. */
export const BAD_VERSIONS: ReadonlyArray<readonly [string, unknown]> = [
  ['-1', -1],
  ['0.5', 0.5],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['2^53', 2 ** 53],
  ["'7' (a string)", '7'],
  ['7n (a bigint)', 7n],
  ['null', null],
  ['undefined', undefined],
];

/** `ttlMs` values that are neither undefined nor a positive finite number. */
export const BAD_TTLS: ReadonlyArray<readonly [string, unknown]> = [
  ['0', 0],
  ['-1', -1],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ["'100' (a string)", '100'],
];

/**
 * Calls `call`, which must return a promise that rejects with a `RepriseError` of code
 * `ERR_REPRISE_ADAPTER` (never throw synchronously, never resolve) whose message matches `pattern`.
 */
export async function expectAdapterRejection(call: () => Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    assert.fail(
      `${what} threw synchronously (${error instanceof Error ? error.message : preview(error)}); it must return a rejected promise`,
    );
  }
  const outcome = await promise.then(
    (value) => ({ resolved: true as const, value }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) assert.fail(`${what} resolved ${preview(outcome.value)}; it must reject`);
  const { error } = outcome;
  assert.ok(
    error instanceof RepriseError && error.code === 'ERR_REPRISE_ADAPTER',
    `${what} rejected with ${error instanceof Error ? `${error.name}: ${error.message}` : preview(error)}, not a RepriseError of code ERR_REPRISE_ADAPTER (use assertVersion/assertTtl from @reprise/core)`,
  );
  assert.match(error.message, pattern, `${what}: unexpected message`);
}

/**
 * The arguments of `saveIfNewer` and `takeVersioned` are checked like core's `assertVersion`,
 * `assertKey`, `assertValue` and `assertTtl` do: a bad one rejects with `ERR_REPRISE_ADAPTER`
 * (a promise, never a synchronous throw) and the call changes nothing.
 */
export function versionedArgumentTests(harness: Harness): void {
  harness.group('versioned arguments', (g) => {
    g.orderedCheck(
      `saveIfNewer() rejects a version that is not a non-negative safe integer (${BAD_VERSIONS.map(([label]) => label).join(', ')}), storing nothing`,
      async () => {
        const a = g.adapter;
        const stored = g.key('stored');
        const missing = g.key('missing');
        await a.saveIfNewer(stored, 'kept', 3);
        for (const [label, version] of BAD_VERSIONS) {
          for (const key of [stored, missing]) {
            await expectAdapterRejection(
              () => a.raw.saveIfNewer!(key, 'bad', version as number),
              /version must be a non-negative safe integer/,
              `saveIfNewer(…, ${label})`,
            );
          }
        }
        a.written.add(missing);
        assertSameString(await a.load(stored), 'kept', 'load() after the rejected saveIfNewer() calls');
        const loaded = await a.load(missing);
        assert.equal(loaded, undefined, `load() of a missing key after rejected saveIfNewer() calls returned ${preview(loaded)}`);
      },
    );

    g.orderedCheck('takeVersioned() rejects a fence whose version is not a non-negative safe integer, taking nothing', async () => {
      const a = g.adapter;
      const key = g.key();
      await a.saveIfNewer(key, 'kept', 3);
      for (const [label, version] of BAD_VERSIONS) {
        await expectAdapterRejection(
          () => a.raw.takeVersioned!(key, { version: version as number }),
          /version must be a non-negative safe integer/,
          `takeVersioned(key, { version: ${label} })`,
        );
      }
      assertSameString(await a.load(key), 'kept', 'load() after the rejected fences');
    });

    g.orderedCheck(
      `takeVersioned() rejects a fence ttlMs that is not a positive finite number (${BAD_TTLS.map(([label]) => label).join(', ')}), and a fence that is not an object`,
      async () => {
        const a = g.adapter;
        const key = g.key();
        await a.saveIfNewer(key, 'kept', 3);
        for (const [label, ttlMs] of BAD_TTLS) {
          await expectAdapterRejection(
            () => a.raw.takeVersioned!(key, { version: 5, ttlMs: ttlMs as number }),
            /ttlMs/,
            `takeVersioned(key, { version: 5, ttlMs: ${label} })`,
          );
        }
        for (const [label, fence] of [
          ['null', null],
          ['5', 5],
          ["'5'", '5'],
        ] as const) {
          await expectAdapterRejection(() => a.raw.takeVersioned!(key, fence as never), /./, `takeVersioned(key, ${label})`);
        }
        assertSameString(await a.load(key), 'kept', 'load() after the rejected fences');
        assert.equal(
          await a.saveIfNewer(key, 'four', 4),
          true,
          'saveIfNewer(…, 4) after the rejected fences: a rejected fence must not raise the version',
        );
      },
    );

    g.orderedCheck('saveIfNewer() rejects a key or value that is not a string and an invalid ttlMs, storing nothing', async () => {
      const a = g.adapter;
      const key = g.key();
      a.written.add(key);
      await expectAdapterRejection(() => a.raw.saveIfNewer!(1 as unknown as string, 'v', 1), /key must be a string/, 'saveIfNewer(1, …)');
      await expectAdapterRejection(
        () => a.raw.saveIfNewer!(key, null as unknown as string, 1),
        /value must be a string/,
        'saveIfNewer(…, null, 1)',
      );
      await expectAdapterRejection(() => a.raw.takeVersioned!(2 as unknown as string), /key must be a string/, 'takeVersioned(2)');
      for (const [label, ttlMs] of BAD_TTLS) {
        await expectAdapterRejection(() => a.raw.saveIfNewer!(key, 'v', 1, ttlMs as number), /ttlMs/, `saveIfNewer(…, 1, ${label})`);
      }
      const loaded = await a.load(key);
      assert.equal(loaded, undefined, `load() after the rejected calls returned ${preview(loaded)}`);
    });
  });
}
