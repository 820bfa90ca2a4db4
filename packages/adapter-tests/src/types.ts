import type { SessionAdapter } from '@reprise/core';

/** The body of a check or a hook. It takes no parameter, so runners never treat it as callback-style. */
export type TestBody = () => Promise<void> | void;

/**
 * `it` as the suite needs it: register a check by name. `skip`, when present, registers a check
 * that is reported as skipped (mocha's and `node:test`'s `it.skip`); without it, a skipped check is
 * registered as a passing no-op whose name says why it was skipped.
 */
export interface ItFunction {
  (name: string, fn: TestBody): unknown;
  skip?: (name: string, fn: TestBody) => unknown;
}

/**
 * The test functions the suite registers its checks with. Mocha's globals and `node:test`'s
 * exports fit as they are; for vitest or jest pass `{ describe, it, before: beforeAll, after: afterAll }`.
 * Return values are ignored.
 */
export interface TestFunctions {
  /** Declares a group; `fn` registers its checks and hooks synchronously. */
  describe(name: string, fn: () => void): unknown;
  /** Declares a check. */
  it: ItFunction;
  /** Runs `fn` once before the checks of the enclosing group. */
  before(fn: TestBody): unknown;
  /** Runs `fn` once after the checks of the enclosing group, even when some failed. */
  after(fn: TestBody): unknown;
}

/**
 * Makes a new adapter; may be async (for example to create a table or connect first). It is called
 * once per group of checks and once per `close()` check, about twenty times per run, and must return a
 * **new** adapter each time: the suite closes every adapter it gets (after deleting the keys it wrote,
 * floors included).
 */
export type AdapterFactory = () => SessionAdapter | Promise<SessionAdapter>;

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
  ttlGranularity?: number;
  /**
   * Whether `take()` is atomic, overriding `adapter.atomic`. Default: `adapter.atomic ?? true`.
   * When false, the exactly-once check under concurrency is reported as skipped (with the reason
   * in its name); the other `take()` checks still run.
   */
  atomic?: boolean;
  /**
   * Number of concurrent calls on one key in the concurrency checks: `take()` calls, and
   * `saveIfNewer()`/`takeVersioned()` calls of an ordered adapter. Integer, at least 2; default `50`.
   */
  concurrency?: number;
  /**
   * Size of the large value that must round-trip, in UTF-8 bytes (its characters are of every UTF-8
   * width). Integer, at least 0; default `1_048_576` (1 MiB, the default `maxSnapshotBytes` of core).
   * `0` skips that check.
   */
  largeValueBytes?: number;
  /**
   * Length of the longest keys the suite uses, in UTF-16 code units (`String#length`, the unit of
   * core's `persistKey` limit). Default `1024` (`MAX_PERSIST_KEY_LENGTH`, the longest persistKey core
   * accepts). Lower it only when the store cannot do better, and then keep the application's
   * persistKeys within it. Integer, at least 128.
   */
  maxKeyLength?: number;
  /**
   * Deadline of each check's adapter work in ms, on top of the waits the suite plans itself (TTL
   * expiry, settling after `close()`). It also bounds the factory and the cleanup of each group.
   * A check that passes it fails with a message naming the pending call. Positive; default `10_000`.
   * Under mocha the suite sets its groups' timeouts from it, so `.mocharc` timeouts do not matter.
   */
  timeoutMs?: number;
  /**
   * How long the `close()` check waits, after `close()` resolves, for the adapter's sockets and timers
   * to go away (a socket closes a moment after its client's `quit()` resolves), in ms. Positive;
   * default `2_000`.
   */
  closeSettleMs?: number;
  /**
   * Whether the `close()` check counts the process's active resources (sockets, timers, ...), to find
   * what the adapter leaves open. Default `true`. Set `false` when the adapter wraps a client that
   * outlives it (one the application owns and closes itself).
   */
  checkResources?: boolean;
  /**
   * Start of every key the suite writes, followed by a random UUID per run (so parallel runs on a
   * shared Redis or Postgres cannot collide) and a per-group part. Default `'reprise-adapter-tests:'`.
   * At most 64 characters.
   */
  keyPrefix?: string;
}
