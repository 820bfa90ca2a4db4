import { expect } from 'chai';
import fc from 'fast-check';
import FakeTimers from '@sinonjs/fake-timers';
import { RepriseError } from '@reprise/core';
import { MemoryAdapter } from '../src/index.js';
import type { MemoryAdapterOptions } from '../src/index.js';
import { manualClock } from './support/manual-clock.js';

/** Awaits `promise`, expecting it to reject with a RepriseError of `code` whose message matches `pattern`. */
async function expectRejection(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal(code);
  expect((caught as RepriseError).message).to.match(pattern);
}

/** Calls `construct`, expecting it to throw an ERR_REPRISE_OPTION RepriseError whose message matches `pattern`. */
function expectOptionError(construct: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    construct();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a throw').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal('ERR_REPRISE_OPTION');
  expect((caught as RepriseError).message).to.match(pattern);
}

describe('MemoryAdapter', () => {
  let clock: ReturnType<typeof manualClock>;
  let adapter: MemoryAdapter;

  beforeEach(() => {
    clock = manualClock();
    adapter = new MemoryAdapter({ now: clock.now });
  });

  afterEach(async () => {
    await adapter.close();
  });

  it('names itself memory and is atomic', () => {
    expect(adapter.name).to.equal('memory');
    expect(adapter.atomic).to.equal(true);
  });

  describe('round trip', () => {
    const cases: Array<[string, string]> = [
      ['the empty string', ''],
      ['unicode (astral, combining, RTL, emoji)', 'héllo 𝄞 ﷽ e\u0301 👩‍👩‍👧 日本語'],
      ['NUL characters', '\u0000a\u0000\u0000b\u0000'],
      ['a 1 MB string', `${'x'.repeat(1024 * 1024 - 1)}\u0000`],
    ];
    for (const [label, value] of cases) {
      it(`keeps ${label}`, async () => {
        await adapter.save('k', value);
        expect(await adapter.load('k')).to.equal(value);
        expect(await adapter.take('k')).to.equal(value);
      });
    }

    it('accepts any string as a key (empty, NUL, unicode)', async () => {
      for (const key of ['', '\u0000', 'user:42', 'clé 𝄞']) await adapter.save(key, `v-${key}`);
      for (const key of ['', '\u0000', 'user:42', 'clé 𝄞']) expect(await adapter.load(key)).to.equal(`v-${key}`);
    });
  });

  it('returns undefined for a missing key', async () => {
    expect(await adapter.load('nope')).to.equal(undefined);
    expect(await adapter.take('nope')).to.equal(undefined);
  });

  it('upsert replaces the value', async () => {
    await adapter.save('k', 'one');
    await adapter.save('k', 'two');
    expect(await adapter.load('k')).to.equal('two');
    expect(adapter.size).to.equal(1);
  });

  describe('TTL', () => {
    it('is readable until just before the deadline and gone exactly at it', async () => {
      await adapter.save('k', 'v', 1000);
      clock.advance(999);
      expect(await adapter.load('k')).to.equal('v');
      clock.advance(1);
      expect(await adapter.load('k')).to.equal(undefined);
      expect(await adapter.take('k')).to.equal(undefined);
    });

    it('take at the exact deadline gets nothing', async () => {
      await adapter.save('k', 'v', 50);
      clock.advance(50);
      expect(await adapter.take('k')).to.equal(undefined);
    });

    it('accepts a fractional TTL and expires exactly', async () => {
      await adapter.save('k', 'v', 0.5);
      expect(await adapter.load('k')).to.equal('v');
      clock.advance(0.5);
      expect(await adapter.load('k')).to.equal(undefined);
    });

    it('never expires an entry saved without TTL', async () => {
      await adapter.save('k', 'v');
      clock.advance(100 * 365 * 24 * 3600e3);
      expect(await adapter.load('k')).to.equal('v');
    });

    it('an upsert with a new TTL replaces the old deadline', async () => {
      await adapter.save('k', 'v1', 100);
      await adapter.save('k', 'v2', 1000);
      clock.advance(500);
      expect(await adapter.load('k')).to.equal('v2');
      clock.advance(500);
      expect(await adapter.load('k')).to.equal(undefined);
    });

    it('an upsert without TTL removes the old deadline', async () => {
      await adapter.save('k', 'v1', 100);
      await adapter.save('k', 'v2');
      clock.advance(10_000);
      expect(await adapter.load('k')).to.equal('v2');
      expect(adapter.size).to.equal(1);
    });

    it('an upsert with TTL of a key saved without one makes it expire', async () => {
      await adapter.save('k', 'v1');
      await adapter.save('k', 'v2', 100);
      clock.advance(100);
      expect(await adapter.load('k')).to.equal(undefined);
    });

    it('a key re-saved after delete or take does not inherit the old deadline', async () => {
      await adapter.save('a', 'v', 100);
      await adapter.save('b', 'v', 100);
      expect(await adapter.delete('a')).to.equal(true);
      expect(await adapter.take('b')).to.equal('v');
      await adapter.save('a', 'again');
      await adapter.save('b', 'again');
      clock.advance(1000);
      expect(await adapter.load('a')).to.equal('again');
      expect(await adapter.load('b')).to.equal('again');
    });
  });

  describe('sweep', () => {
    it('drops expired entries (size shrinks) when another key is saved after their deadline', async () => {
      await adapter.save('short-1', 'v', 100);
      await adapter.save('short-2', 'v', 200);
      await adapter.save('long', 'v', 10_000);
      await adapter.save('forever', 'v');
      expect(adapter.size).to.equal(4);
      clock.advance(200);
      expect(adapter.size, 'size counts stored entries, swept by the next call').to.equal(4);
      await adapter.save('other', 'v');
      expect(adapter.size).to.equal(3);
      expect(await adapter.load('long')).to.equal('v');
      expect(await adapter.load('forever')).to.equal('v');
      expect(await adapter.load('other')).to.equal('v');
    });

    it('sweeps by deadline, not by write order', async () => {
      await adapter.save('written-first', 'v', 1000);
      await adapter.save('written-second', 'v', 10);
      clock.advance(10);
      await adapter.load('unrelated');
      expect(adapter.size).to.equal(1);
      expect(await adapter.load('written-first')).to.equal('v');
    });

    it('every call sweeps: load, take and delete too', async () => {
      for (const call of [(a: MemoryAdapter) => a.load('x'), (a: MemoryAdapter) => a.take('x'), (a: MemoryAdapter) => a.delete('x')]) {
        await adapter.save('k', 'v', 10);
        clock.advance(10);
        expect(adapter.size).to.equal(1);
        await call(adapter);
        expect(adapter.size).to.equal(0);
      }
    });

    it('expired entries do not count against maxEntries', async () => {
      const dropped: string[] = [];
      const bounded = new MemoryAdapter({ maxEntries: 2, now: clock.now, onDrop: (key) => dropped.push(key) });
      await bounded.save('a', 'v', 10);
      await bounded.save('b', 'v');
      clock.advance(10);
      await bounded.save('c', 'v');
      expect(dropped).to.deep.equal([]);
      expect(await bounded.load('b')).to.equal('v');
      expect(await bounded.load('c')).to.equal('v');
      await bounded.close();
    });
  });

  describe('take', () => {
    it('returns the value once, then undefined', async () => {
      await adapter.save('k', 'v');
      expect(await adapter.take('k')).to.equal('v');
      expect(await adapter.take('k')).to.equal(undefined);
      expect(await adapter.load('k')).to.equal(undefined);
      expect(adapter.size).to.equal(0);
    });

    it('gives the value to exactly one of 50 concurrent takes', async () => {
      await adapter.save('k', 'v', 60_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => adapter.take('k')));
      expect(results.filter((r) => r === 'v')).to.have.length(1);
      expect(results.filter((r) => r === undefined)).to.have.length(49);
    });
  });

  describe('delete', () => {
    it('returns true when something was deleted, false otherwise', async () => {
      await adapter.save('k', 'v');
      expect(await adapter.delete('k')).to.equal(true);
      expect(await adapter.delete('k')).to.equal(false);
      expect(await adapter.delete('never')).to.equal(false);
      expect(await adapter.load('k')).to.equal(undefined);
    });

    it('returns false for an expired entry', async () => {
      await adapter.save('k', 'v', 10);
      clock.advance(10);
      expect(await adapter.delete('k')).to.equal(false);
    });
  });

  describe('maxEntries', () => {
    function bounded(maxEntries: number): { adapter: MemoryAdapter; dropped: string[] } {
      const dropped: string[] = [];
      const options: MemoryAdapterOptions = { maxEntries, now: clock.now, onDrop: (key) => dropped.push(key) };
      return { adapter: new MemoryAdapter(options), dropped };
    }

    it('drops the oldest-written entry and reports its key', async () => {
      const { adapter: small, dropped } = bounded(3);
      for (const key of ['a', 'b', 'c']) await small.save(key, key);
      expect(dropped).to.deep.equal([]);
      await small.save('d', 'd');
      expect(dropped).to.deep.equal(['a']);
      expect(small.size).to.equal(3);
      expect(await small.load('a')).to.equal(undefined);
      expect(await small.load('b')).to.equal('b');
      await small.save('e', 'e');
      expect(dropped).to.deep.equal(['a', 'b']);
      await small.close();
    });

    it('an upsert moves a key to newest, so an old key is protected', async () => {
      const { adapter: small, dropped } = bounded(3);
      for (const key of ['a', 'b', 'c']) await small.save(key, key);
      await small.save('a', 'a2');
      expect(dropped, 'an upsert at the bound drops nothing').to.deep.equal([]);
      await small.save('d', 'd');
      expect(dropped).to.deep.equal(['b']);
      expect(await small.load('a')).to.equal('a2');
      await small.close();
    });

    it('under any mix of writes, rewrites, takes and deletes, drops exactly the oldest-written keys (a model, 300 runs)', async () => {
      const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g');
      const op = fc.oneof(
        fc.record({ t: fc.constant('save' as const), key }),
        fc.record({ t: fc.constant('take' as const), key }),
        fc.record({ t: fc.constant('delete' as const), key }),
      );
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), async (max, ops) => {
          const { adapter: small, dropped } = bounded(max);
          const model: string[] = []; // keys stored, oldest written first
          const expected: string[] = [];
          for (const { t, key: k } of ops) {
            const at = model.indexOf(k);
            if (t === 'save') {
              await small.save(k, k);
              if (at >= 0) model.splice(at, 1);
              model.push(k);
              while (model.length > max) expected.push(model.shift()!);
            } else {
              await (t === 'take' ? small.take(k) : small.delete(k));
              if (at >= 0) model.splice(at, 1);
            }
          }
          expect(dropped).to.deep.equal(expected);
          for (const k of model) expect(await small.load(k)).to.equal(k);
          await small.close();
        }),
        { numRuns: 300 },
      );
    });

    it('with maxEntries 1 keeps only the last key', async () => {
      const { adapter: one, dropped } = bounded(1);
      await one.save('a', 'a');
      await one.save('b', 'b');
      expect(dropped).to.deep.equal(['a']);
      expect(one.size).to.equal(1);
      expect(await one.load('b')).to.equal('b');
      await one.close();
    });

    it('a dropped key with a TTL leaves the deadline heap (no stale sweep of a re-saved key)', async () => {
      const { adapter: small, dropped } = bounded(1);
      await small.save('a', 'a', 10);
      await small.save('b', 'b');
      expect(dropped).to.deep.equal(['a']);
      await small.save('a', 'again');
      clock.advance(10);
      expect(await small.load('a')).to.equal('again');
      await small.close();
    });

    it('by default emits a process warning with code REPRISE_MEMORY_DROPPED', async () => {
      const small = new MemoryAdapter({ maxEntries: 1, now: clock.now });
      const warnings: Array<Error & { code?: string }> = [];
      const listener = (warning: Error & { code?: string }): void => void warnings.push(warning);
      process.on('warning', listener);
      try {
        await small.save('old', 'v');
        await small.save('new', 'v');
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', listener);
        await small.close();
      }
      const ours = warnings.filter((w) => w.code === 'REPRISE_MEMORY_DROPPED');
      expect(ours).to.have.length(1);
      expect(ours[0]!.name).to.equal('Warning');
      expect(ours[0]!.message).to.contain('"old"');
    });

    it('by default names a dropped session id redacted, and aggregates a burst: the first warning whole, then one count per 10 s', async () => {
      const small = new MemoryAdapter({ maxEntries: 1, now: clock.now });
      const warnings: Array<Error & { code?: string }> = [];
      const listener = (warning: Error & { code?: string }): void => void warnings.push(warning);
      const sid = 'AbCdEfGhIjKlMnOpQrStUvWx';
      const timers = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout'] });
      process.on('warning', listener);
      try {
        await small.save(sid, 'v');
        for (let i = 0; i < 500; i++) await small.save(`k${i}`, 'v');
        await new Promise((resolve) => setImmediate(resolve));
        timers.tick(10_000);
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', listener);
        timers.uninstall();
        await small.close();
      }
      const ours = warnings.filter((w) => w.code === 'REPRISE_MEMORY_DROPPED');
      expect(ours.map((w) => w.message)).to.deep.equal([
        'MemoryAdapter: maxEntries reached, dropped the oldest entry AbCdEf…',
        '499 more REPRISE_MEMORY_DROPPED warning(s) in the last 10 s (the first was printed whole)',
      ]);
    });

    it('an onDrop that throws rejects the save, which still stored its value', async () => {
      const small = new MemoryAdapter({
        maxEntries: 1,
        now: clock.now,
        onDrop: () => {
          throw new Error('boom');
        },
      });
      await small.save('a', 'a');
      let caught: unknown;
      await small.save('b', 'b').catch((error: unknown) => void (caught = error));
      expect((caught as Error).message).to.equal('boom');
      expect(await small.load('b')).to.equal('b');
      expect(small.size).to.equal(1);
      await small.close();
    });
  });

  describe('options', () => {
    it('accepts no options, an empty object and explicit undefined values', async () => {
      for (const options of [undefined, {}, { maxEntries: undefined, now: undefined, onDrop: undefined }]) {
        const a = new MemoryAdapter(options);
        await a.save('k', 'v', 1000);
        expect(await a.load('k')).to.equal('v');
        await a.close();
      }
    });

    it('rejects a maxEntries that is not a positive integer', () => {
      expectOptionError(() => new MemoryAdapter({ maxEntries: -1 }), /^MemoryAdapter: maxEntries must be a positive integer, got -1$/);
      expectOptionError(() => new MemoryAdapter({ maxEntries: 0 }), /maxEntries must be a positive integer, got 0/);
      expectOptionError(() => new MemoryAdapter({ maxEntries: 1.5 }), /got 1\.5/);
      expectOptionError(() => new MemoryAdapter({ maxEntries: Infinity }), /got Infinity/);
      expectOptionError(() => new MemoryAdapter({ maxEntries: NaN }), /got NaN/);
      expectOptionError(() => new MemoryAdapter({ maxEntries: '10' as unknown as number }), /got "10"/);
    });

    it('rejects a now or onDrop that is not a function', () => {
      expectOptionError(() => new MemoryAdapter({ now: 5 as unknown as () => number }), /now must be a function, got 5/);
      expectOptionError(() => new MemoryAdapter({ onDrop: 'x' as unknown as () => void }), /onDrop must be a function, got "x"/);
    });

    it('rejects unknown options and non-object options', () => {
      expectOptionError(() => new MemoryAdapter({ maxEntry: 5 } as MemoryAdapterOptions), /unknown option "maxEntry"/);
      expectOptionError(() => new MemoryAdapter(null as unknown as MemoryAdapterOptions), /options must be an object, got null/);
      expectOptionError(() => new MemoryAdapter(7 as unknown as MemoryAdapterOptions), /options must be an object, got 7/);
    });

    it('rejects calls when the injected clock returns a non-finite number', async () => {
      const broken = new MemoryAdapter({ now: () => NaN });
      await expectRejection(broken.save('k', 'v'), 'ERR_REPRISE_ADAPTER', /now\(\) must return a finite number/);
    });
  });

  describe('argument validation', () => {
    it('rejects (never throws synchronously) an invalid ttlMs', async () => {
      for (const ttl of [0, -1, NaN, Infinity, -Infinity, '100', null]) {
        const call = (): Promise<void> => adapter.save('k', 'v', ttl as number);
        expect(call).not.to.throw();
        await expectRejection(call(), 'ERR_REPRISE_ADAPTER', /ttlMs must be undefined or a positive finite number/);
      }
      expect(adapter.size).to.equal(0);
    });

    it('rejects a non-string key or value', async () => {
      await expectRejection(adapter.save(1 as unknown as string, 'v'), 'ERR_REPRISE_ADAPTER', /key must be a string, got 1/);
      await expectRejection(
        adapter.save('k', { a: 1 } as unknown as string),
        'ERR_REPRISE_ADAPTER',
        /value must be a string, got an object/,
      );
      await expectRejection(adapter.load(undefined as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string/);
      await expectRejection(adapter.take(null as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string/);
      await expectRejection(adapter.delete(Symbol('s') as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string/);
      expect(adapter.size).to.equal(0);
    });
  });

  describe('close', () => {
    it('drops everything and makes later calls reject', async () => {
      await adapter.save('k', 'v');
      await adapter.close();
      expect(adapter.size).to.equal(0);
      for (const call of [() => adapter.save('k', 'v'), () => adapter.load('k'), () => adapter.take('k'), () => adapter.delete('k')]) {
        expect(call).not.to.throw();
        await expectRejection(call(), 'ERR_REPRISE_ADAPTER', /^MemoryAdapter: the adapter is closed$/);
      }
    });

    it('is idempotent', async () => {
      await adapter.close();
      await adapter.close();
    });
  });
});
