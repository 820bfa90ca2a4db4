import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { preview } from './strings.js';

/** Whether `value` is a promise or any thenable. */
function isThenable(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * The shape of the adapter: `name` a non-empty string, the four methods present and returning
 * promises, `close` a method or absent, `atomic` a boolean or absent, `saveIfNewer` and
 * `takeVersioned` both methods (an *ordered* adapter) or both absent, returning promises, and
 * `saveManyIfNewer` absent or a method of an ordered adapter.
 */
export function interfaceTests(harness: Harness): void {
  harness.group('interface', (g) => {
    g.check('name is a non-empty string', () => {
      const { name } = g.adapter.raw;
      assert.ok(typeof name === 'string' && name.length > 0, `name must be a non-empty string, got ${preview(name)}`);
    });

    g.check('save, load, take and delete are methods', () => {
      const raw = g.adapter.raw as unknown as Record<string, unknown>;
      const missing = ['save', 'load', 'take', 'delete'].filter((method) => typeof raw[method] !== 'function');
      assert.deepEqual(missing, [], `missing methods: ${missing.join(', ')}`);
    });

    g.check('close is a method or absent', () => {
      const { close } = g.adapter.raw as { close?: unknown };
      assert.ok(close === undefined || typeof close === 'function', `close must be a method or undefined, got ${preview(close)}`);
    });

    g.check('atomic is a boolean or absent', () => {
      const { atomic } = g.adapter.raw as { atomic?: unknown };
      assert.ok(atomic === undefined || typeof atomic === 'boolean', `atomic must be a boolean or undefined, got ${preview(atomic)}`);
    });

    g.check('saveIfNewer and takeVersioned are both methods or both absent', () => {
      const raw = g.adapter.raw as unknown as Record<string, unknown>;
      const kinds = ['saveIfNewer', 'takeVersioned'].map((method) => typeof raw[method]);
      for (const [i, kind] of kinds.entries()) {
        assert.ok(
          kind === 'function' || kind === 'undefined',
          `${i === 0 ? 'saveIfNewer' : 'takeVersioned'} must be a method or undefined, got ${kind}`,
        );
      }
      assert.equal(
        kinds[0],
        kinds[1],
        `saveIfNewer is ${kinds[0] === 'function' ? 'a method' : 'absent'} but takeVersioned is ${kinds[1] === 'function' ? 'a method' : 'absent'}: an ordered adapter has both, an unordered one neither`,
      );
    });

    g.check('saveManyIfNewer is a method or absent, and a method only on an ordered adapter', () => {
      const raw = g.adapter.raw as unknown as Record<string, unknown>;
      const kind = typeof raw.saveManyIfNewer;
      assert.ok(kind === 'function' || kind === 'undefined', `saveManyIfNewer must be a method or undefined, got ${kind}`);
      assert.ok(
        kind === 'undefined' || g.adapter.ordered,
        'saveManyIfNewer is a method but the adapter is not ordered (it needs saveIfNewer and takeVersioned): a batch of conditional writes needs the versions they keep',
      );
    });

    g.orderedCheck('saveIfNewer and takeVersioned return promises', async () => {
      const key = g.key('versioned-promises');
      const { raw } = g.adapter;
      g.adapter.written.add(key);
      const calls: Array<[string, () => unknown]> = [
        ['saveIfNewer', () => raw.saveIfNewer!(key, 'value', 1)],
        ['takeVersioned', () => raw.takeVersioned!(key)],
      ];
      for (const [method, call] of calls) {
        const result = call();
        assert.ok(isThenable(result), `${method}() must return a promise, got ${preview(result)}`);
        await result;
      }
    });

    g.check('save, load, take and delete return promises', async () => {
      const key = g.key('promises');
      const { raw } = g.adapter;
      g.adapter.written.add(key);
      const calls: Array<[string, () => unknown]> = [
        ['save', () => raw.save(key, 'value')],
        ['load', () => raw.load(key)],
        ['take', () => raw.take(key)],
        ['delete', () => raw.delete(key)],
      ];
      for (const [method, call] of calls) {
        const result = call();
        assert.ok(isThenable(result), `${method}() must return a promise, got ${preview(result)}`);
        await result;
      }
    });
  });
}
