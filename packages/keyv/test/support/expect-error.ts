import { expect } from 'chai';
import { RepriseError } from '@reprise/core';

/** Awaits `promise`, expecting a RepriseError of `code` whose message matches `pattern`; returns it. */
export async function expectRejection(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<RepriseError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal(code);
  expect((caught as RepriseError).message).to.match(pattern);
  return caught as RepriseError;
}

/** Calls `construct`, expecting an ERR_REPRISE_OPTION RepriseError whose message matches `pattern`. */
export function expectOptionError(construct: () => unknown, pattern: RegExp): RepriseError {
  let caught: unknown;
  try {
    construct();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a throw').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal('ERR_REPRISE_OPTION');
  expect((caught as RepriseError).message).to.match(pattern);
  return caught as RepriseError;
}
