import assert from 'node:assert/strict';
import { assertSameString, preview } from './strings.js';

/** A number for messages: bigints and strings show as such, so a version of the wrong type is visible. */
function showVersion(version: unknown): string {
  if (typeof version === 'bigint') return `${version}n (a bigint)`;
  if (typeof version === 'string') return `${preview(version)} (a string)`;
  return preview(version);
}

/**
 * Asserts that a `takeVersioned()` result is `{ value, version }` with exactly that string and that
 * version (a number, compared with `===`).
 * @param what what produced `actual`, for example `takeVersioned() after saveIfNewer(…, 5)`.
 */
export function assertTaken(actual: unknown, value: string, version: number, what: string): void {
  if (actual === null || typeof actual !== 'object') {
    assert.fail(`${what} returned ${preview(actual)} instead of { value: ${preview(value)}, version: ${version} }`);
  }
  const result = actual as { value?: unknown; version?: unknown };
  assertSameString(result.value, value, `${what} (its value)`);
  assert.ok(result.version === version, `${what} returned version ${showVersion(result.version)}, expected ${version}`);
}

/** Asserts that a `takeVersioned()` (or `take()`) result is exactly `undefined`. */
export function assertNothingTaken(actual: unknown, what: string): void {
  if (actual === undefined) return;
  const shown =
    actual !== null && typeof actual === 'object'
      ? `a value (${preview((actual as { value?: unknown }).value)}, version ${showVersion((actual as { version?: unknown }).version)})`
      : preview(actual);
  assert.fail(`${what} returned ${shown}, expected undefined`);
}

/**
 * Asserts that `saveIfNewer()` resolved exactly `expected` (a boolean).
 * @param why the rule that decides it, for the failure message.
 */
export function assertStored(actual: unknown, expected: boolean, what: string, why: string): void {
  assert.ok(actual === expected, `${what} resolved ${preview(actual)}, expected ${expected}: ${why}`);
}

/**
 * Asserts that a `saveManyIfNewer()` result is an array of exactly `expected.length` booleans equal
 * to `expected`, entry by entry (so results in another order fail). The message names the first
 * entries that differ, with the rule that decides each (`why[i]`).
 * @param what what produced `actual`, for example `saveManyIfNewer() of 16 writes`.
 */
export function assertBatchResults(actual: unknown, expected: readonly boolean[], why: readonly string[], what: string): void {
  assert.ok(Array.isArray(actual), `${what} resolved ${preview(actual)}, expected an array of ${expected.length} booleans`);
  assert.ok(
    actual.length === expected.length,
    `${what} resolved ${actual.length} results for ${expected.length} writes (one per entry, in order)`,
  );
  const wrong = expected.flatMap((stored, i) =>
    actual[i] === stored ? [] : [`entry ${i} resolved ${preview(actual[i])}, expected ${stored}: ${why[i]}`],
  );
  if (wrong.length === 0) return;
  assert.fail(
    `${what}: ${wrong.length} of ${expected.length} results are wrong: ${wrong.slice(0, 3).join('; ')}${wrong.length > 3 ? '; …' : ''}`,
  );
}
