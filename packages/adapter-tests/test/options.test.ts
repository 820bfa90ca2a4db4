import { expect } from 'chai';
import { RepriseError } from '@reprise/core';
import { MAX_PERSIST_KEY_LENGTH } from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import { DEFAULT_OPTIONS, runAdapterTests } from '../src/index.js';
import type { TestFunctions } from '../src/index.js';
import { runInChildMocha } from './support/child-mocha.js';

const factory = () => new MemoryAdapter();

/** Test functions that must never be called (the calls under test throw before registering). */
const unused: TestFunctions = {
  describe: () => expect.fail('describe() called'),
  it: () => expect.fail('it() called'),
  before: () => expect.fail('before() called'),
  after: () => expect.fail('after() called'),
};

/** Calls `register`, expecting it to throw an ERR_REPRISE_OPTION RepriseError whose message matches `pattern`. */
function expectOptionError(register: () => void, pattern: RegExp): void {
  let caught: unknown;
  try {
    register();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a throw').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal('ERR_REPRISE_OPTION');
  expect((caught as RepriseError).message).to.match(pattern);
}

describe('runAdapterTests arguments', () => {
  it('has documented defaults', () => {
    expect(DEFAULT_OPTIONS).to.deep.equal({
      ttlGranularity: 1,
      concurrency: 50,
      largeValueBytes: 1_048_576,
      maxKeyLength: MAX_PERSIST_KEY_LENGTH,
      timeoutMs: 10_000,
      closeSettleMs: 2_000,
      checkResources: true,
      keyPrefix: 'reprise-adapter-tests:',
    });
    expect(Object.isFrozen(DEFAULT_OPTIONS)).to.equal(true);
  });

  it('refuses unknown options and wrong values, before registering anything', () => {
    expectOptionError(() => runAdapterTests('x', factory, unused, { ttlGranularty: 1000 } as never), /unknown option "ttlGranularty"/);
    expectOptionError(() => runAdapterTests('x', factory, unused, null as never), /options must be an object, got null/);
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { ttlGranularity: 0 }),
      /ttlGranularity must be a positive, finite number of ms, got 0/,
    );
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { concurrency: 1 }),
      /concurrency must be an integer of at least 2, got 1/,
    );
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { largeValueBytes: 1.5 }),
      /largeValueBytes must be an integer of at least 0/,
    );
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { maxKeyLength: 100 }),
      /maxKeyLength must be an integer of at least 128/,
    );
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { timeoutMs: Infinity }),
      /timeoutMs must be a positive, finite number of ms, got Infinity/,
    );
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { closeSettleMs: -1 }),
      /closeSettleMs must be a positive, finite number of ms, got -1/,
    );
    expectOptionError(() => runAdapterTests('x', factory, unused, { atomic: 'no' as never }), /atomic must be a boolean, got "no"/);
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { checkResources: 1 as never }),
      /checkResources must be a boolean, got 1/,
    );
    expectOptionError(
      () => runAdapterTests('x', factory, unused, { keyPrefix: 'p'.repeat(65) }),
      /keyPrefix must be a string of at most 64 characters/,
    );
  });

  it('refuses a missing name, factory or test function', () => {
    expect(() => runAdapterTests('', factory, unused)).to.throw(TypeError, /name must be a non-empty string/);
    expect(() => runAdapterTests('x', undefined as never, unused)).to.throw(TypeError, /factory must be a function/);
    expect(() => runAdapterTests('x', factory, { ...unused, after: undefined } as never)).to.throw(
      TypeError,
      /the test functions lack after\(\), got undefined/,
    );
  });

  it("defaults to mocha's globals, and says so when they are missing", () => {
    const saved = globalThis.before;
    try {
      (globalThis as { before?: unknown }).before = undefined;
      expect(() => runAdapterTests('x', factory)).to.throw(
        TypeError,
        /no global before\(\) \(mocha's globals\): pass \{ describe, it, before, after \}/,
      );
    } finally {
      globalThis.before = saved;
    }
  });

  it('registers skipped checks as passing no-ops named "(skipped: …)" when the runner has no it.skip', async () => {
    const report = await runInChildMocha(
      (fns) =>
        runAdapterTests('adapter', factory, { ...fns, it: (name, fn) => fns.it(name, fn) }, { atomic: false, checkResources: false }),
      /^adapter (take|delete|close) /,
    );
    expect(report.failed).to.deep.equal([]);
    expect(report.pending).to.deep.equal([]);
    expect(report.passed).to.include.members([
      'adapter take exactly one of 50 concurrent take() calls on one key gets the value (skipped: options.atomic is false)',
      'adapter delete of 10 concurrent delete() calls on one key, exactly one returns true (skipped: options.atomic is false)',
      'adapter close after close() resolves, no socket, timer or other handle of the adapter stays open (skipped: options.checkResources is false)',
    ]);
  });

  it('uses keys under keyPrefix and a random UUID per run, and deletes them afterwards', async () => {
    const saved: string[] = [];
    const stores: MemoryAdapter[] = [];
    const spy = () => {
      const adapter = new MemoryAdapter();
      const save = adapter.save.bind(adapter);
      adapter.save = (key, value, ttlMs) => (saved.push(key), save(key, value, ttlMs));
      adapter.close = async () => void stores.push(adapter); // keep its entries to inspect them
      return adapter;
    };
    for (let run = 0; run < 2; run++) {
      const report = await runInChildMocha(
        (fns) => runAdapterTests('adapter', spy, fns, { keyPrefix: 'mine:' }),
        /^adapter (upsert|delete) /,
      );
      expect(report.failed).to.deep.equal([]);
    }
    const runIds = new Set(saved.map((key) => /^mine:([0-9a-f-]{36}):/.exec(key)?.[1]));
    expect(runIds.size).to.equal(2);
    expect(runIds.has(undefined)).to.equal(false);
    expect(stores.map((store) => store.size)).to.deep.equal([0, 0, 0, 0]);
  });
});
