import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';
import { assertStored } from './versioned-asserts.js';
import { BAD_TTLS, BAD_VERSIONS, expectAdapterRejection } from './versioned-arguments.js';

/** A bad entry: its label, the entry made from a fresh key (and the batch's first key), and the message it must give. */
type BadEntry = readonly [label: string, entry: (key: string, firstKey: string) => unknown, pattern: RegExp];

/** At this index of the batch each bad entry stands: the message must name it. */
const BAD_INDEX = 2;

const at = (rest: string): RegExp => new RegExp(`writes\\[${BAD_INDEX}\\]${rest}`);

/** Every way an entry can be bad, as core's `assertWrites` refuses it. */
const BAD_ENTRIES: readonly BadEntry[] = [
  ...BAD_VERSIONS.map(
    ([label, version]): BadEntry => [
      `a version of ${label}`,
      (key) => ({ key, value: 'bad', version }),
      at(': version must be a non-negative safe integer'),
    ],
  ),
  ...BAD_TTLS.map(
    ([label, ttlMs]): BadEntry => [`a ttlMs of ${label}`, (key) => ({ key, value: 'bad', version: 1, ttlMs }), at(': ttlMs')],
  ),
  ['a key that is not a string (1)', () => ({ key: 1, value: 'bad', version: 1 }), at(': key must be a string')],
  ['no key', () => ({ value: 'bad', version: 1 }), at(': key must be a string')],
  ['a value that is not a string (null)', (key) => ({ key, value: null, version: 1 }), at(': value must be a string')],
  ['a value that is not a string (a number)', (key) => ({ key, value: 42, version: 1 }), at(': value must be a string')],
  ['null instead of an entry', () => null, at(' must be an object')],
  ['a string instead of an entry', () => 'entry', at(' must be an object')],
  ['an array instead of an entry', (key) => [key, 'bad', 1], at(' must be an object')],
  [
    'the key of entry 0 again (a key twice in one batch)',
    (_, firstKey) => ({ key: firstKey, value: 'twice', version: 9 }),
    at(': the key is already in this batch'),
  ],
];

/** Arguments that are not an array of writes. */
const NOT_ARRAYS: ReadonlyArray<readonly [string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['an object', { 0: { key: 'k', value: 'v', version: 1 }, length: 1 }],
  ['a string', 'writes'],
];

/**
 * The argument of `saveManyIfNewer()` is checked like core's `assertWrites` does, before anything is
 * stored: a bad entry anywhere (a bad version, ttlMs, key or value, not an object, a key already
 * in the batch) makes the call reject (a promise, never a synchronous throw) with a `RepriseError`
 * `ERR_REPRISE_ADAPTER` whose message names the entry's index, and no entry of that batch is stored,
 * not even the good ones before it.
 */
export function versionedBatchArgumentTests(harness: Harness): void {
  harness.group('saveManyIfNewer: arguments', (g) => {
    g.batchCheck(
      `rejects a bad entry at index ${BAD_INDEX}, naming it (${BAD_ENTRIES.length} kinds: versions, ttlMs, keys, values, not an entry, a key twice), and stores no entry of that batch`,
      async () => {
        const a = g.adapter;
        const [first, kept, last] = [g.key('first'), g.key('kept'), g.key('last')];
        await a.saveIfNewer(kept, 'kept', 3);
        for (const key of [first, last]) a.written.add(key);
        for (const [label, bad, pattern] of BAD_ENTRIES) {
          const badKey = g.key('bad');
          a.written.add(badKey);
          const writes = [
            { key: first, value: 'first', version: 1 },
            { key: kept, value: 'newer', version: 9 },
            bad(badKey, first),
            { key: last, value: 'last', version: 1 },
          ];
          await expectAdapterRejection(
            () => a.raw.saveManyIfNewer!(writes as never),
            pattern,
            `saveManyIfNewer() with ${label} at index ${BAD_INDEX}`,
          );
          for (const key of [first, last, badKey]) {
            const loaded = await a.load(key);
            assert.equal(
              loaded,
              undefined,
              `load() of a key of the batch with ${label} at index ${BAD_INDEX} returned ${preview(loaded)}: a rejected batch must store nothing`,
            );
          }
          assertSameString(await a.load(kept), 'kept', `load() of a key the batch with ${label} would have raised to version 9`);
        }
        assertStored(
          await a.saveIfNewer(kept, 'four', 4),
          true,
          'saveIfNewer(…, 4) after the rejected batches',
          "a rejected batch must not raise a key's version",
        );
        assertStored(
          await a.saveIfNewer(first, 'zero', 0),
          true,
          'saveIfNewer(…, 0) of a key only rejected batches wrote',
          'a rejected batch must leave no version behind',
        );
      },
    );

    g.batchCheck(`rejects an argument that is not an array (${NOT_ARRAYS.map(([label]) => label).join(', ')})`, async () => {
      for (const [label, writes] of NOT_ARRAYS) {
        await expectAdapterRejection(
          () => g.adapter.raw.saveManyIfNewer!(writes as never),
          /writes must be an array/,
          `saveManyIfNewer(${label})`,
        );
      }
    });
  });
}
