/**
 * `@reprise/adapter-tests`: the conformance suite every Reprise persistence adapter runs.
 *
 * ```ts
 * import { runAdapterTests } from '@reprise/adapter-tests';
 * runAdapterTests('my adapter', () => new MyAdapter(), { describe, it, before, after });
 * ```
 * @packageDocumentation
 */
import type { SessionAdapter } from '@reprise/core';
import { closeTests } from './close.js';
import { deleteTests } from './delete.js';
import { fenceTests } from './fences.js';
import { floorTests } from './floors.js';
import { Harness } from './harness.js';
import { interfaceTests } from './interface.js';
import { interleavingTests } from './interleavings.js';
import { missingTests } from './missing.js';
import { resolveOptions, resolveTestFunctions } from './options.js';
import { roundTripTests } from './round-trip.js';
import { takeTests } from './take.js';
import { ttlTests } from './ttl.js';
import type { AdapterTestOptions } from './options.js';
import type { AdapterFactory, TestFunctions } from './types.js';
import { upsertTests } from './upsert.js';
import { versionRangeTests } from './version-range.js';
import { versionedArgumentTests } from './versioned-arguments.js';
import { versionedBatchTests } from './versioned-batch.js';
import { versionedBatchArgumentTests } from './versioned-batch-arguments.js';
import { versionedBatchConcurrencyTests } from './versioned-batch-concurrency.js';
import { versionedBatchInterleavingTests } from './versioned-batch-interleavings.js';
import { versionedBatchTtlTests } from './versioned-batch-ttl.js';
import { versionedConcurrencyTests } from './versioned-concurrency.js';
import { versionedResetTests } from './versioned-resets.js';
import { versionedTtlTests } from './versioned-ttl.js';
import { versionedWriteTests } from './versioned-writes.js';

export type { AdapterFactory, ItFunction, TestBody, TestFunctions } from './types.js';
export { DEFAULT_OPTIONS } from './options.js';
export type { AdapterTestOptions, CoordinatorTestOptions } from './options.js';
export { NOT_ORDERED, NO_BATCH } from './harness.js';

/**
 * Registers the conformance suite of {@link SessionAdapter}: one group (`describe`) named `name`,
 * holding one group per concern: interface, round trip, missing keys, upsert, TTL, take, delete,
 * then the ordered writes (`saveIfNewer`, floors, fences, save and delete of versioned keys, TTL of
 * floors, version range, arguments, concurrency, random interleavings), then the optional batch
 * `saveManyIfNewer` (results against the model, TTLs, arguments, concurrency, interleavings), then
 * close. It only registers; the runner runs the checks. The checks of ordered writes are reported
 * as skipped, with the reason, on an adapter without `saveIfNewer` and `takeVersioned`; those of
 * batches also on an ordered adapter without `saveManyIfNewer`.
 *
 * The factory is called once per group, in the group's `before` hook (the checks of a group share
 * that adapter, each with its own random keys), and once per `close()` check; after each group the
 * suite deletes the keys it wrote and closes the adapter. Keys start with `options.keyPrefix` and a
 * random UUID per call, so runs on a shared store cannot collide.
 *
 * @param name the name of the outer group, for reports (for example the adapter's class).
 * @param factory returns a new adapter, or a promise of one; see {@link AdapterFactory}.
 * @param functions `describe`, `it`, `before` and `after` to register with; default mocha's
 *   globals (`globalThis.describe`, ...). `node:test`'s exports fit as they are.
 * @param options what the store can and cannot do, and the suite's timing; see {@link AdapterTestOptions}.
 * @throws TypeError when `name`, `factory` or a test function is missing or of the wrong type.
 * @throws OptionError (`RepriseError` code `ERR_REPRISE_OPTION`) on an unknown or wrong option.
 */
export function runAdapterTests(name: string, factory: AdapterFactory, functions?: TestFunctions, options?: AdapterTestOptions): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('runAdapterTests: name must be a non-empty string');
  if (typeof factory !== 'function') throw new TypeError('runAdapterTests: factory must be a function returning an adapter');
  const fns = resolveTestFunctions(functions);
  const harness = new Harness(fns, factory, resolveOptions(options));
  harness.root(name, () => {
    interfaceTests(harness);
    roundTripTests(harness);
    missingTests(harness);
    upsertTests(harness);
    ttlTests(harness);
    takeTests(harness);
    deleteTests(harness);
    versionedWriteTests(harness);
    floorTests(harness);
    fenceTests(harness);
    versionedResetTests(harness);
    versionedTtlTests(harness);
    versionRangeTests(harness);
    versionedArgumentTests(harness);
    versionedConcurrencyTests(harness);
    interleavingTests(harness);
    versionedBatchTests(harness);
    versionedBatchTtlTests(harness);
    versionedBatchArgumentTests(harness);
    versionedBatchConcurrencyTests(harness);
    versionedBatchInterleavingTests(harness);
    closeTests(harness);
  });
}
export { runCoordinatorTests } from './coordinator-conformance.js';
export type { CoordinatorFactory } from './coordinator-conformance.js';
