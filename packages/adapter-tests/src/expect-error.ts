import assert from 'node:assert/strict';
import { RepriseError } from '@reprise/core';

/**
 * For an adapter's own tests: awaits `promise`, expecting it to reject with a `RepriseError` of
 * `code` whose message matches `pattern`; returns the error (to check its `cause`).
 */
export async function expectRejection(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<RepriseError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  return checkError(caught, code, pattern, 'expected a rejection with a RepriseError');
}

/**
 * For an adapter's own tests: calls `construct`, expecting it to throw a `RepriseError` of code
 * `ERR_REPRISE_OPTION` whose message matches `pattern`; returns the error.
 */
export function expectOptionError(construct: () => unknown, pattern: RegExp): RepriseError {
  let caught: unknown;
  try {
    construct();
  } catch (error) {
    caught = error;
  }
  return checkError(caught, 'ERR_REPRISE_OPTION', pattern, 'expected a throw of a RepriseError');
}

function checkError(caught: unknown, code: string, pattern: RegExp, what: string): RepriseError {
  assert.ok(caught instanceof RepriseError, what);
  assert.equal(caught.code, code);
  assert.match(caught.message, pattern);
  return caught;
}
