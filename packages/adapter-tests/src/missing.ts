import assert from 'node:assert/strict';
import type { Harness } from './harness.js';
import { assertSameString, preview } from './strings.js';

/**
 * Keys close to a stored key that must nonetheless be missing: `stored` is saved, `probe` is looked
 * up (both under the same fresh key prefix). Probes with `%`, `_`, `*` or `.` are patterns that
 * would match the stored key if an adapter passed keys to LIKE, a glob (Redis SCAN/KEYS) or a regular
 * expression; others catch stores that fold case, trim, normalize Unicode or match prefixes.
 */
const NEAR_MISSES: ReadonlyArray<readonly [label: string, stored: string, probe: string]> = [
  ['differs in letter case', 'Session', 'session'],
  ['is a prefix of the stored key', 'prefix-and-more', 'prefix'],
  ['extends the stored key', 'prefix', 'prefix-and-more'],
  ['adds a trailing space', 'spaced', 'spaced '],
  ['is the other Unicode normalization (NFD vs NFC)', 'caf\u00e9', 'cafe\u0301'],
  ['is a compatibility variant (full-width)', 'ABC', '\uff21\uff22\uff23'],
  ['is a LIKE pattern matching it (_ and %)', 'abcde', 'a_c%'],
  ['is a glob pattern matching it (* and ?)', 'glob-key', 'g*-ke?'],
  ['is a regular expression matching it', 'rex', 'r.x'],
];

/** `load`, `take` and `delete` of keys that were never written, or only resemble written ones. */
export function missingTests(harness: Harness): void {
  harness.group('missing keys', (g) => {
    g.check('load() of a missing key returns undefined', async () => {
      const result = await g.adapter.load(g.key('never-written'));
      assert.equal(result, undefined, `load() must return undefined (not null or ''), got ${preview(result)}`);
    });

    g.check('take() of a missing key returns undefined', async () => {
      const result = await g.adapter.take(g.key('never-written'));
      assert.equal(result, undefined, `take() must return undefined (not null or ''), got ${preview(result)}`);
    });

    g.check('delete() of a missing key returns false', async () => {
      const result = await g.adapter.delete(g.key('never-written'));
      assert.equal(result, false, `delete() must return false, got ${preview(result)}`);
    });

    for (const [label, stored, probe] of NEAR_MISSES) {
      g.check(`a key that ${label} is missing, and the stored key is untouched`, async () => {
        const base = g.key();
        const storedKey = base + stored;
        const probeKey = base + probe;
        const a = g.adapter;
        await a.save(storedKey, 'stored');
        assert.equal(await a.load(probeKey), undefined, `load(${preview(probe)}) found the value of ${preview(stored)}`);
        assert.equal(await a.take(probeKey), undefined, `take(${preview(probe)}) took the value of ${preview(stored)}`);
        assert.equal(await a.delete(probeKey), false, `delete(${preview(probe)}) returned true while only ${preview(stored)} exists`);
        assertSameString(await a.load(storedKey), 'stored', `load(${preview(stored)}) after the calls on ${preview(probe)}`);
      });
    }
  });
}
