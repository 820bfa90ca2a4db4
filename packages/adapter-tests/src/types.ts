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
