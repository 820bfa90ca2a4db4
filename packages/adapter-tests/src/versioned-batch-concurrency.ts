import assert from 'node:assert/strict';
import type { VersionedWrite } from '@reprise/core';
import type { Harness } from './harness.js';
import { preview, randomInts } from './strings.js';
import { assertStored, assertTaken } from './versioned-asserts.js';
import { shuffledVersions } from './versioned-concurrency.js';

/** Keys every batch of these checks writes. */
const KEYS = 5;

function valueFor(key: number, version: number): string {
  return `key ${key} at version ${version}`;
}

/** `0..n-1` in a reproducible shuffled order (Fisher-Yates over a seeded generator). */
function shuffled(n: number, seed: number): number[] {
  const next = randomInts(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = next(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * `n` batches over the same `KEYS` keys: batch `b` writes key `k` at version `versions[k][b]` (each
 * key's versions 1..n shuffled on their own), with the keys in an order of its own (so a store
 * that locks rows in the order given meets every lock order). Returns the batches and, per key, the
 * index of the batch that carries its highest version.
 */
function crossingBatches(keys: readonly string[], n: number, seed: number): { batches: VersionedWrite[][]; topBatch: number[] } {
  const versions = keys.map((_, k) => shuffledVersions(n, seed + k));
  const batches = Array.from({ length: n }, (_, b) =>
    shuffled(keys.length, seed ^ (b + 1)).map((k) => ({ key: keys[k]!, value: valueFor(k, versions[k]![b]!), version: versions[k]![b]! })),
  );
  return { batches, topBatch: versions.map((v) => v.indexOf(n)) };
}

/**
 * Batches are atomic per entry under concurrency: `concurrency` concurrent batches writing the same
 * keys (shuffled versions, keys in every order) leave each key at its highest version, and the
 * entry that carried it resolved `true`; concurrent takes of those keys never get a value twice,
 * nor one that no entry stored.
 */
export function versionedBatchConcurrencyTests(harness: Harness): void {
  const n = harness.options.concurrency;

  harness.group('saveManyIfNewer under concurrency', (g) => {
    g.batchCheck(
      `${n} concurrent batches writing the same ${KEYS} keys (shuffled versions 1..${n}, keys in shuffled orders) leave each key at its highest version`,
      async () => {
        const keys = Array.from({ length: KEYS }, (_, k) => g.key(`k${k}`));
        const { batches, topBatch } = crossingBatches(keys, n, 0xba7c);
        const results = await Promise.all(batches.map((batch) => g.adapter.saveManyIfNewer(batch)));
        for (const [k, key] of keys.entries()) {
          const batch = topBatch[k]!;
          const entry = batches[batch]!.findIndex((w) => w.key === key);
          assertStored(
            results[batch]![entry],
            true,
            `entry ${entry} of batch ${batch}, carrying the highest version (${n}) of key ${k}`,
            'no write of a higher version came before it',
          );
          assertTaken(await g.adapter.takeVersioned(key), valueFor(k, n), n, `takeVersioned() of key ${k} after ${n} concurrent batches`);
        }
      },
    );

    g.batchCheck(
      `${n} concurrent batches and ${n} concurrent takes of the same ${KEYS} keys: no value is taken twice, and every take gets a value an entry stored`,
      async () => {
        const keys = Array.from({ length: KEYS }, (_, k) => g.key(`k${k}`));
        const { batches } = crossingBatches(keys, n, 0x7a4e);
        const writing = Promise.all(batches.map((batch) => g.adapter.saveManyIfNewer(batch)));
        const taking = Promise.all(Array.from({ length: n }, (_, i) => g.adapter.takeVersioned(keys[i % KEYS]!)));
        const [results, taken] = await Promise.all([writing, taking]);
        const stored = new Set(batches.flatMap((batch, b) => batch.filter((_, i) => results[b]![i] === true).map((w) => w.value)));
        const seen = new Set<string>();
        for (const [i, result] of taken.entries()) {
          if (result === undefined) continue;
          const key = i % KEYS;
          assert.ok(
            stored.has(result.value),
            `a take of key ${key} returned ${preview(result.value)} (version ${result.version}), which no batch entry stored`,
          );
          assert.equal(
            result.value,
            valueFor(key, result.version),
            `a take of key ${key} returned ${preview(result.value)} as version ${result.version}`,
          );
          assert.ok(!seen.has(result.value), `${preview(result.value)} was taken twice`);
          seen.add(result.value);
        }
      },
    );
  });
}
