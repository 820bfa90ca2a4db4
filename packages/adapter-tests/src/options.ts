import {
  MAX_PERSIST_KEY_LENGTH,
  MAX_TIMER_DELAY,
  TIMER_LIMIT_REASON,
  booleanField,
  describeOptionValue,
  integerField,
  msField,
  optionalField,
  optionsSchema,
  parseOptions,
  positiveNumberField,
  stringField,
  timerMsField,
  type ParsedOptions,
} from '@reprise/core/adapter-kit';
import type { TestFunctions } from './types.js';

/**
 * What the suite lets an adapter author tune. Every option is optional (`undefined` means the
 * default); an unknown option or a wrong value throws a `RepriseError` `ERR_REPRISE_OPTION`
 * from {@link runAdapterTests}. Times are in ms, sizes in the unit named.
 */
export interface AdapterTestOptions {
  /**
   * Smallest TTL step the store honours, in ms: `1` (the default) for stores with millisecond TTLs
   * (memory, Redis `PX`, an expiry column), `1000` for whole-second TTLs. The TTL checks use a short
   * TTL of `max(2, ceil(200 / ttlGranularity)) * ttlGranularity` ms (200 ms by default, 2 s at 1000)
   * and expect expiry `ttlGranularity + 50` ms after it. Positive finite number; default `1`.
   */
  ttlGranularity?: number | undefined;
  /**
   * Whether `take()` is atomic, overriding `adapter.atomic`. Default: `adapter.atomic ?? true`.
   * When false, the exactly-once check under concurrency is reported as skipped (with the reason
   * in its name); the other `take()` checks still run.
   */
  atomic?: boolean | undefined;
  /**
   * Number of concurrent calls on one key in the concurrency checks: `take()` calls, and
   * `saveIfNewer()`/`takeVersioned()` calls of an ordered adapter. Integer, at least 2; default `50`.
   */
  concurrency?: number | undefined;
  /**
   * Size of the large value that must round-trip, in UTF-8 bytes (its characters are of every UTF-8
   * width). Integer, at least 0; default `1_048_576` (1 MiB, the default `maxSnapshotBytes` of core).
   * `0` skips that check.
   */
  largeValueBytes?: number | undefined;
  /**
   * Length of the longest keys the suite uses, in UTF-16 code units (`String#length`, the unit of
   * core's `persistKey` limit). Default `1024` (`MAX_PERSIST_KEY_LENGTH`, the longest persistKey core
   * accepts). Lower it only when the store cannot do better, and then keep the application's
   * persistKeys within it. Integer, at least 128.
   */
  maxKeyLength?: number | undefined;
  /**
   * Deadline of each check's adapter work in ms, on top of the waits the suite plans itself (TTL
   * expiry, settling after `close()`). It also bounds the factory and the cleanup of each group.
   * A check that passes it fails with a message naming the pending call. Positive; default `10_000`.
   * Under mocha the suite sets its groups' timeouts from it, so `.mocharc` timeouts do not matter.
   */
  timeoutMs?: number | undefined;
  /**
   * How long the `close()` check waits, after `close()` resolves, for the adapter's sockets and timers
   * to go away (a socket closes a moment after its client's `quit()` resolves), in ms. Positive;
   * default `2_000`.
   */
  closeSettleMs?: number | undefined;
  /**
   * Whether the `close()` check counts the process's active resources (sockets, timers, ...), to find
   * what the adapter leaves open. Default `true`. Set `false` when the adapter wraps a client that
   * outlives it (one the application owns and closes itself).
   */
  checkResources?: boolean | undefined;
  /**
   * Start of every key the suite writes, followed by a random UUID per run (so parallel runs on a
   * shared Redis or Postgres cannot collide) and a per-group part. Default `'reprise-adapter-tests:'`.
   * At most 64 characters.
   */
  keyPrefix?: string | undefined;
}

/** Timing of {@link runCoordinatorTests}. */
export interface CoordinatorTestOptions {
  /** ms of the short leases the checks of lapses use (positive integer up to 2^31 - 1; default 300; the store must expire keys that precisely, within 50 %). */
  shortLeaseMs?: number | undefined;
}

/**
 * The defaults of {@link AdapterTestOptions}, in their units: ms for times, UTF-8 bytes for
 * `largeValueBytes`, UTF-16 code units for `maxKeyLength`. `atomic` has none: it defaults to the
 * adapter's own `atomic` flag (and to `true` when the adapter has none).
 */
export const DEFAULT_OPTIONS = Object.freeze({
  ttlGranularity: 1,
  concurrency: 50,
  largeValueBytes: 1_048_576,
  maxKeyLength: MAX_PERSIST_KEY_LENGTH,
  timeoutMs: 10_000,
  closeSettleMs: 2_000,
  checkResources: true,
  keyPrefix: 'reprise-adapter-tests:',
});

/** Longest `keyPrefix`, so that the long-key checks keep room for their own characters. */
const MAX_KEY_PREFIX_LENGTH = 64;

const ADAPTER_TEST_OPTIONS = optionsSchema<AdapterTestOptions>()(
  {
    ttlGranularity: positiveNumberField('a positive, finite number of ms'),
    atomic: optionalField(booleanField),
    concurrency: integerField(2),
    largeValueBytes: integerField(0),
    maxKeyLength: integerField(128),
    timeoutMs: timerMsField,
    closeSettleMs: timerMsField,
    checkResources: booleanField,
    keyPrefix: stringField({ maxLength: MAX_KEY_PREFIX_LENGTH }),
  },
  DEFAULT_OPTIONS,
);

/** Options with every default filled in; `atomic` stays `undefined` when the adapter decides. */
export type ResolvedOptions = Readonly<ParsedOptions<typeof ADAPTER_TEST_OPTIONS>>;

/**
 * Checks and completes the options of `runAdapterTests` (`undefined`: every default).
 * @throws OptionError on an unknown option or a wrong value.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  return Object.freeze(parseOptions(ADAPTER_TEST_OPTIONS, options === undefined ? {} : options, { what: 'runAdapterTests' }));
}

const COORDINATOR_TEST_OPTIONS = optionsSchema<CoordinatorTestOptions>()(
  { shortLeaseMs: msField({ integer: true, max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON }) },
  Object.freeze({ shortLeaseMs: 300 }),
);

/** Checks and completes the options of `runCoordinatorTests`. */
export function resolveCoordinatorTestOptions(options: unknown): Readonly<ParsedOptions<typeof COORDINATOR_TEST_OPTIONS>> {
  return Object.freeze(parseOptions(COORDINATOR_TEST_OPTIONS, options === undefined ? {} : options, { what: 'runCoordinatorTests' }));
}

const show = describeOptionValue;

/**
 * The test functions to use: the given ones, else mocha's globals (`globalThis.describe`, `it`,
 * `before`, `after`).
 * @throws TypeError when one of them is missing or not a function.
 */
export function resolveTestFunctions(given: unknown): TestFunctions {
  const source = (given ?? globalThis) as Record<string, unknown>;
  if (typeof source !== 'object' && typeof source !== 'function') {
    throw new TypeError(`runAdapterTests: the test functions must be an object, got ${show(given)}`);
  }
  for (const name of ['describe', 'it', 'before', 'after'] as const) {
    if (typeof source[name] !== 'function') {
      throw new TypeError(
        given === undefined
          ? `runAdapterTests: no global ${name}() (mocha's globals): pass { describe, it, before, after } as the third argument`
          : `runAdapterTests: the test functions lack ${name}(), got ${show(source[name])}`,
      );
    }
  }
  return source as unknown as TestFunctions;
}
