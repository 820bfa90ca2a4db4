import { expect } from 'chai';
import { RepriseError } from '@reprise/core';
import { MemoryAdapter } from '../../src/index.js';

/** A manual clock: ms since the epoch, moved only by the test. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** The `RepriseError` that `promise` rejects with (failing when it resolves or rejects with something else). */
export async function rejection(promise: Promise<unknown>): Promise<RepriseError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  return caught as RepriseError;
}

/**
 * Inside a `describe`: a fresh `MemoryAdapter` on a fresh manual clock before each test, closed after
 * it. Read `clock` and `adapter` from the returned object inside the tests.
 */
export function onManualClock(): { readonly clock: ReturnType<typeof manualClock>; readonly adapter: MemoryAdapter } {
  const current = {} as { clock: ReturnType<typeof manualClock>; adapter: MemoryAdapter };
  beforeEach(() => {
    current.clock = manualClock();
    current.adapter = new MemoryAdapter({ now: current.clock.now });
  });
  afterEach(async () => {
    await current.adapter.close();
  });
  return current;
}
