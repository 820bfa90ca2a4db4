import assert from 'node:assert/strict';
import type { Group, Harness } from './harness.js';
import { LOOKALIKES, ODD_KEYS, VALUES } from './samples.js';
import { assertSameString, everyScalarValueSample, mixedWidthOfLength, mixedWidthString, preview, utf8Length } from './strings.js';

/** Saves `value`, then checks that two loads and a take return it exactly. */
async function roundTrip(g: Group, key: string, value: string): Promise<void> {
  const a = g.adapter;
  await a.save(key, value);
  assertSameString(await a.load(key), value, 'load()');
  assertSameString(await a.load(key), value, 'a second load() (load must not consume the value)');
  assertSameString(await a.take(key), value, 'take()');
}

/**
 * Round trip of arbitrary well-formed strings (values) through `save`, `load` and `take`, and of
 * values under keys with odd characters and long keys.
 */
export function roundTripTests(harness: Harness): void {
  const { largeValueBytes, maxKeyLength } = harness.options;

  harness.group('round trip', (g) => {
    for (const [label, value] of VALUES) {
      g.check(`round-trips ${label}`, () => roundTrip(g, g.key('value'), value));
    }

    g.check('round-trips strings that look like other types, without parsing them', async () => {
      for (const value of LOOKALIKES) {
        const key = g.key('lookalike');
        await g.adapter.save(key, value);
        assertSameString(await g.adapter.load(key), value, `load() of the string ${preview(value)}`);
      }
    });

    g.check('round-trips every Unicode scalar value of the BMP and a sample of the astral planes', () =>
      roundTrip(g, g.key('every-scalar'), everyScalarValueSample()),
    );

    if (largeValueBytes > 0) {
      let large: string | undefined;
      g.check(`round-trips a large value (${largeValueBytes} UTF-8 bytes of mixed widths)`, () => {
        large ??= mixedWidthString(largeValueBytes);
        assert.equal(utf8Length(large), largeValueBytes);
        return roundTrip(g, g.key('large'), large);
      });
    }

    for (const [label, suffix] of ODD_KEYS) {
      g.check(`round-trips under a key with ${label}`, () => roundTrip(g, g.key(suffix), `value under a key with ${label}`));
    }

    g.check(`round-trips under a key of ${maxKeyLength} ASCII characters`, () =>
      roundTrip(
        g,
        g.keyOfLength(maxKeyLength, (n) => 'k'.repeat(n)),
        'value under a long ASCII key',
      ),
    );

    g.check(`round-trips under a key of ${maxKeyLength} code units of mixed UTF-8 widths`, () =>
      roundTrip(
        g,
        g.keyOfLength(maxKeyLength, (n) => mixedWidthOfLength(n)),
        'value under a long non-ASCII key',
      ),
    );

    g.check('keeps keys apart that differ only in their last character', async () => {
      const long = g.keyOfLength(maxKeyLength, (n) => 'x'.repeat(n));
      const other = `${long.slice(0, -1)}y`;
      await g.adapter.save(long, 'first');
      await g.adapter.save(other, 'second');
      assertSameString(await g.adapter.load(long), 'first', 'load() of the first long key');
      assertSameString(await g.adapter.load(other), 'second', 'load() of the second long key (same but the last character)');
    });
  });
}
