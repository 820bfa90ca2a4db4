import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_BATCH_WRITES } from '@reprise/core/adapter-kit';
import type { VersionedWrite } from '@reprise/core';
import type { Group, Harness } from './harness.js';
import { callOp } from './interleavings.js';
import { LOOKALIKES, ODD_KEYS, VALUES } from './samples.js';
import { assertSameString, everyScalarValueSample, mixedWidthString, preview } from './strings.js';
import { assertBatchResults, assertNothingTaken, assertStored, assertTaken } from './versioned-asserts.js';
import { EMPTY, applyOp, describeOp, describeResult, sameResult } from './versioned-model.js';
import type { KeyState, OpResult, VersionedOp } from './versioned-model.js';

/** Generated scenarios of the random check (fast-check `numRuns`). */
const RUNS = 25;
/** Versions of the random check are drawn from `0..MAX_VERSION`, so that writes often meet at one. */
const MAX_VERSION = 6;

const write = (value: string, version: number): VersionedOp => ({ kind: 'saveIfNewer', value, version });
const fence = (version: number): VersionedOp => ({ kind: 'fence', version });
const TAKE: VersionedOp = { kind: 'takeVersioned' };

/** A key prepared by `setup` (run in order on a fresh key), then written by a batch entry of `version`. */
interface Case {
  readonly label: string;
  readonly setup: readonly VersionedOp[];
  readonly version: number;
}

/**
 * One key in every state the rules distinguish, each written by one entry of the same batch. The
 * order mixes stored and refused entries, so that results in another order (reversed, sorted) fail.
 */
const CASES: readonly Case[] = [
  { label: 'a missing key, version 0', setup: [], version: 0 },
  { label: 'a value of version 5, version 4', setup: [write('five', 5)], version: 4 },
  { label: 'a value of version 5, version 6', setup: [write('five', 5)], version: 6 },
  { label: 'a floor at 5 (a take), version 5: an exact put-back', setup: [write('five', 5), TAKE], version: 5 },
  { label: 'a value of version 5, version 5 (the same)', setup: [write('five', 5)], version: 5 },
  { label: 'a floor at 5 (a take), version 4', setup: [write('five', 5), TAKE], version: 4 },
  { label: 'a missing key, version 7', setup: [], version: 7 },
  { label: 'a fence at 7 on a missing key, version 6', setup: [fence(7)], version: 6 },
  { label: 'a value of plain save(), version 1', setup: [{ kind: 'save', value: 'plain' }], version: 1 },
  { label: 'a value of version 9 that a fence at 5 left, version 8', setup: [write('nine', 9), fence(5)], version: 8 },
  { label: 'a fence at 7 on a missing key, version 7', setup: [fence(7)], version: 7 },
  { label: 'a value of plain save(), version 0', setup: [{ kind: 'save', value: 'plain' }], version: 0 },
  { label: 'a value of version 3 that a fence at 5 took, version 4', setup: [write('three', 3), fence(5)], version: 4 },
  { label: 'a floor at 5 (plain take()), version 6', setup: [write('five', 5), { kind: 'take' }], version: 6 },
  { label: 'a value of version 9 that a fence at 5 left, version 10', setup: [write('nine', 9), fence(5)], version: 10 },
  { label: 'a floor removed by delete(), version 1', setup: [write('five', 5), TAKE, { kind: 'delete' }], version: 1 },
];

/** Runs `setup` in order on `key` of the adapter; returns the key's state in the model afterwards. */
async function prepare(g: Group, key: string, setup: readonly VersionedOp[]): Promise<KeyState> {
  let state = EMPTY;
  for (const op of setup) {
    await callOp(g.adapter, key, op);
    state = applyOp(state, op).next;
  }
  return state;
}

/** Checks what `load()` and then `takeVersioned()` of `key` give against the model's `state`. */
async function assertReadsAs(g: Group, key: string, state: KeyState, what: string): Promise<void> {
  const loaded = await g.adapter.load(key);
  assert.ok(loaded === state.value, `load() of ${what} returned ${preview(loaded)}, expected ${preview(state.value)}`);
  const taken = await g.adapter.takeVersioned(key);
  if (state.value === undefined) assertNothingTaken(taken, `takeVersioned() of ${what}`);
  else assertTaken(taken, state.value, state.version, `takeVersioned() of ${what}`);
}

/** One key of a random scenario: its setup, the version its batch entry carries, and a version to probe it with afterwards. */
interface RandomKey {
  readonly setup: ReadonlyArray<{ readonly kind: VersionedOp['kind']; readonly version: number }>;
  readonly version: number;
  readonly probe: number;
}

const version = fc.integer({ min: 0, max: MAX_VERSION });
const setupStep = fc.record({
  kind: fc.constantFrom<VersionedOp['kind']>('saveIfNewer', 'saveIfNewer', 'takeVersioned', 'fence', 'save', 'take', 'delete'),
  version,
});
const randomKeys = fc.array(fc.record({ setup: fc.array(setupStep, { maxLength: 3 }), version, probe: version }), {
  minLength: 1,
  maxLength: 8,
});

/** The call of a generated setup step, with a value unique in the scenario. */
function toOp({ kind, version: v }: RandomKey['setup'][number], value: string): VersionedOp {
  if (kind === 'saveIfNewer') return write(value, v);
  if (kind === 'fence') return fence(v);
  if (kind === 'save') return { kind, value };
  return { kind } as VersionedOp;
}

/** A key's state in the model, for messages: `a value "x" of version 5`, `a floor at 5`, `no value (version 0)`. */
function describeState(state: KeyState): string {
  if (state.value !== undefined) return `a value ${preview(state.value)} of version ${state.version}`;
  return state.version === 0 ? 'no value (version 0)' : `a floor at ${state.version}`;
}

/** Asserts `actual` is the model's `expected` result of `op`, for the random check. */
function assertModelResult(actual: OpResult, expected: OpResult, op: VersionedOp, what: string): void {
  assert.ok(
    sameResult(actual, expected),
    `${what}: ${describeOp(op)} resolved ${describeResult(actual)}, expected ${describeResult(expected)}`,
  );
}

/**
 * The optional batch `saveManyIfNewer(writes)` of an ordered adapter, one call at a time: each entry
 * is stored exactly as `saveIfNewer(key, value, version, ttlMs)` would store it, and the call
 * resolves one boolean per entry, in the order given (compared with the sequential model of
 * versioned-model.ts); the values and versions are read back by `load()` and `takeVersioned()`;
 * entries are independent (not a transaction); floors and fences hold per entry; every kind of
 * Unicode round-trips; an empty batch resolves `[]`; `MAX_BATCH_WRITES` entries fit in one call.
 */
export function versionedBatchTests(harness: Harness): void {
  harness.group('saveManyIfNewer', (g) => {
    g.batchCheck('an empty batch resolves [] (a promise of a new, empty array)', async () => {
      const result = g.adapter.raw.saveManyIfNewer!([]);
      assert.ok(
        typeof (result as { then?: unknown } | undefined)?.then === 'function',
        `saveManyIfNewer([]) must return a promise, got ${preview(result)}`,
      );
      const resolved = await result;
      assert.ok(Array.isArray(resolved) && resolved.length === 0, `saveManyIfNewer([]) resolved ${preview(resolved)}, expected []`);
    });

    g.batchCheck(
      `each entry resolves what saveIfNewer() would have, in the order given (${CASES.length} keys in every state: missing, values, floors, fences, plain saves)`,
      async () => {
        const keys = CASES.map(() => g.key('case'));
        const states = await Promise.all(CASES.map((c, i) => prepare(g, keys[i]!, c.setup)));
        const outcomes = CASES.map((c, i) => applyOp(states[i]!, write(`batch ${i}`, c.version)));
        const results = await g.adapter.saveManyIfNewer(CASES.map((c, i) => ({ key: keys[i]!, value: `batch ${i}`, version: c.version })));
        const why = CASES.map((c, i) => `saveIfNewer() over ${c.label} resolves ${outcomes[i]!.result}`);
        assertBatchResults(
          results,
          outcomes.map((o) => o.result as boolean),
          why,
          `saveManyIfNewer() of ${CASES.length} writes`,
        );
        for (const [i, c] of CASES.entries()) await assertReadsAs(g, keys[i]!, outcomes[i]!.next, `the key of entry ${i} (${c.label})`);
      },
    );

    g.batchCheck(
      'an older entry is refused while the newer entries of the same batch are stored (entries are independent, not a transaction)',
      async () => {
        const [older, missing, newer] = [g.key('older'), g.key('missing'), g.key('newer')];
        await g.adapter.saveIfNewer(older, 'five', 5);
        await g.adapter.saveIfNewer(newer, 'two', 2);
        const results = await g.adapter.saveManyIfNewer([
          { key: missing, value: 'first', version: 1 },
          { key: older, value: 'three', version: 3 },
          { key: newer, value: 'nine', version: 9 },
        ]);
        assertBatchResults(
          results,
          [true, false, true],
          ['a missing key has version 0', 'the key holds version 5', 'the key holds version 2'],
          'saveManyIfNewer() of a batch with one older entry',
        );
        assertSameString(await g.adapter.load(older), 'five', 'load() of the key whose entry was refused');
        assertTaken(await g.adapter.takeVersioned(missing), 'first', 1, 'takeVersioned() of the missing key the batch wrote');
        assertTaken(await g.adapter.takeVersioned(newer), 'nine', 9, 'takeVersioned() of the key the batch raised to version 9');
      },
    );

    g.batchCheck(
      'floors left by takeVersioned() and fences are honoured entry by entry, and a refused entry leaves its floor as it was',
      async () => {
        const a = g.adapter;
        const [taken, fenced, putBack] = [g.key('taken'), g.key('fenced'), g.key('put-back')];
        await a.saveIfNewer(taken, 'five', 5);
        await a.takeVersioned(taken);
        await a.takeVersioned(fenced, { version: 7 });
        await a.saveIfNewer(putBack, 'four', 4);
        await a.takeVersioned(putBack);
        const results = await a.saveManyIfNewer([
          { key: taken, value: 'four', version: 4 },
          { key: putBack, value: 'four, put back', version: 4 },
          { key: fenced, value: 'six', version: 6 },
        ]);
        assertBatchResults(
          results,
          [false, true, false],
          ['the take left a floor at 5', "a put-back at the floor's version is accepted", 'the fence left a floor at 7'],
          'saveManyIfNewer() over two floors and a put-back',
        );
        assertStored(
          await a.saveIfNewer(taken, 'four again', 4),
          false,
          'saveIfNewer(…, 4) after a batch entry of version 4 was refused over a floor at 5',
          'the refused entry left the floor at 5',
        );
        assertStored(
          await a.saveIfNewer(fenced, 'seven', 7),
          true,
          'saveIfNewer(…, 7) after a batch entry of version 6 was refused over a fence at 7',
          'a key without a value accepts its own version',
        );
        assertTaken(await a.takeVersioned(putBack), 'four, put back', 4, 'takeVersioned() of the value the batch put back');
      },
    );

    g.batchCheck(
      `${RUNS} random batches over keys in random states resolve and store what saveIfNewer() would (fast-check, against the sequential model)`,
      async () => {
        let run = 0;
        const details = await fc.check(
          fc.asyncProperty(randomKeys, async (plans) => {
            run++;
            const keys = plans.map((_, i) => g.key(`run-${run}-${i}`));
            const states = await Promise.all(
              plans.map((plan, i) =>
                prepare(
                  g,
                  keys[i]!,
                  plan.setup.map((step, j) => toOp(step, `r${run}.k${i}.s${j}`)),
                ),
              ),
            );
            const writes: VersionedWrite[] = plans.map((plan, i) => ({
              key: keys[i]!,
              value: `r${run}.k${i}.batch`,
              version: plan.version,
            }));
            const outcomes = writes.map((w, i) => applyOp(states[i]!, write(w.value, w.version)));
            const results = await g.adapter.saveManyIfNewer(writes);
            const why = writes.map(
              (w, i) => `saveIfNewer(…, ${w.version}) over ${describeState(states[i]!)} resolves ${outcomes[i]!.result}`,
            );
            assertBatchResults(
              results,
              outcomes.map((o) => o.result as boolean),
              why,
              `saveManyIfNewer() of ${writes.length} writes`,
            );
            await Promise.all(
              plans.map(async (plan, i) => {
                const taking = applyOp(outcomes[i]!.next, TAKE);
                assertModelResult(await g.adapter.takeVersioned(keys[i]!), taking.result, TAKE, `key ${i} after the batch`);
                const probe = write('probe', plan.probe);
                assertModelResult(
                  await g.adapter.saveIfNewer(keys[i]!, 'probe', plan.probe),
                  applyOp(taking.next, probe).result,
                  probe,
                  `key ${i} after the batch and a take`,
                );
              }),
            );
          }),
          { numRuns: RUNS, endOnFailure: true },
        );
        if (details.failed) {
          const reason = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
          assert.fail(
            `${reason}\n(fast-check: failed at run ${details.numRuns} of ${RUNS}, seed ${details.seed}, path "${details.counterexamplePath ?? ''}")`,
          );
        }
      },
    );

    g.batchCheck(
      'values of every kind of Unicode round-trip through one batch, under keys with odd characters, each with its version',
      async () => {
        const values: Array<readonly [string, string]> = [
          ...VALUES,
          ...LOOKALIKES.map((value) => [`the string ${preview(value)}`, value] as const),
          ['every Unicode scalar value of the BMP and a sample of the astral planes', everyScalarValueSample()],
        ];
        if (harness.options.largeValueBytes > 0)
          values.push([
            `a large value (${harness.options.largeValueBytes} UTF-8 bytes)`,
            mixedWidthString(harness.options.largeValueBytes),
          ]);
        const writes = values.map(([, value], i) => ({ key: g.key(ODD_KEYS[i % ODD_KEYS.length]![1]), value, version: i + 1 }));
        const results = await g.adapter.saveManyIfNewer(writes);
        assertBatchResults(
          results,
          writes.map(() => true),
          writes.map(() => 'a missing key accepts any version'),
          `saveManyIfNewer() of ${writes.length} values`,
        );
        for (const [i, [label, value]] of values.entries()) {
          assertSameString(await g.adapter.load(writes[i]!.key), value, `load() of ${label}, written by a batch`);
          assertTaken(await g.adapter.takeVersioned(writes[i]!.key), value, i + 1, `takeVersioned() of ${label}, written by a batch`);
        }
      },
    );

    g.batchCheck(
      `${MAX_BATCH_WRITES} entries (the most the core sends) in one call: each result in its place, each value stored or kept`,
      async () => {
        const keys = Array.from({ length: MAX_BATCH_WRITES }, (_, i) => g.key(`many-${i}`));
        const first = await g.adapter.saveManyIfNewer(keys.map((key, i) => ({ key, value: `first ${i}`, version: 5 })));
        assertBatchResults(
          first,
          keys.map(() => true),
          keys.map(() => 'a missing key accepts any version'),
          `the first saveManyIfNewer() of ${MAX_BATCH_WRITES} writes`,
        );
        // Every third entry older, every third the same version, every third newer: refusals everywhere.
        const versions = keys.map((_, i) => 4 + (i % 3));
        const second = await g.adapter.saveManyIfNewer(keys.map((key, i) => ({ key, value: `second ${i}`, version: versions[i]! })));
        assertBatchResults(
          second,
          versions.map((v) => v > 5),
          versions.map((v) => `the key holds version 5, the entry carries ${v}`),
          `the second saveManyIfNewer() of ${MAX_BATCH_WRITES} writes`,
        );
        const loaded = await Promise.all(keys.map((key) => g.adapter.load(key)));
        const wrong = loaded.flatMap((value, i) =>
          value === (versions[i]! > 5 ? `second ${i}` : `first ${i}`) ? [] : [`${i}: ${preview(value)}`],
        );
        assert.deepEqual(wrong, [], `load() after two batches of ${MAX_BATCH_WRITES} writes returned other values for these entries`);
      },
    );
  });
}
