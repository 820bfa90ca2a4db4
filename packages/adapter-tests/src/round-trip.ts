import assert from 'node:assert/strict';
import type { Group, Harness } from './harness.js';
import { assertSameString, everyScalarValueSample, mixedWidthOfLength, mixedWidthString, preview, utf8Length } from './strings.js';

/** Values that must come back exactly, each checked by its own named check. */
const VALUES: ReadonlyArray<readonly [label: string, value: string]> = [
  ['the empty string', ''],
  ['plain ASCII', 'hello, world'],
  ['Latin, Greek, Cyrillic and CJK characters', 'héllo wörld ß · Ωμέγα · Привет · 中文 · 日本語 · 한국어'],
  ['astral characters (surrogate pairs), emoji sequences and modifiers', '😀 𝄞 𠀀 𐍈 👍🏽 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷'],
  ['combining characters, unnormalized (NFD next to NFC)', 'e\u0301 = \u00e9, a\u0308 = \u00e4, \u1100\u1161 = \uac00, n\u0303\u0323'],
  ['NUL characters', '\u0000 leading, in\u0000the\u0000middle, and trailing \u0000\u0000'],
  ['only a NUL character', '\u0000'],
  ['a lone newline', '\n'],
  ['every kind of line break', 'lf\ncrlf\r\ncr\rnel\u0085ls\u2028ps\u2029vt\u000bff\u000c\n\n'],
  ['control characters (C0, DEL, C1)', Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('').slice(1) + '\u007f' + Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)).join('')],
  ['a byte-order mark and invisible format characters', '\ufeffstarts with a BOM, zero\u200bwidth, \u200cjoiners\u200d, \u200eLTR \u200fRTL \u202eoverride\u202c, soft\u00adhyphen'],
  ['noncharacters and the last code points', '\ufdd0 \ufffe \uffff \u{1fffe} \u{10fffe} \u{10ffff}'],
  ['whitespace only', ' \t  \u00a0\u3000 '],
  ['quotes, backslashes, escapes and format directives', `'single' "double" \`back\` \\ \\\\ \\u0000 \\n %s %d %% \${x} {{y}} $1 &amp; <b>`],
  ['JSON text', '{"version":1,"data":{"a":[1,2,{"b":null}]},"s":"\\u0000\\n"}'],
];

/** Strings that look like another type: an adapter must not parse them (each under its own key). */
const LOOKALIKES: readonly string[] = ['null', 'undefined', 'true', 'false', '0', '-0', '1e3', 'NaN', '[]', '{}', '""', '[object Object]'];

/** Key suffixes with characters that stores, key schemes and query languages treat specially. */
const ODD_KEYS: ReadonlyArray<readonly [label: string, suffix: string]> = [
  ['spaces and tabs', '  leading, inner and trailing \t '],
  ['separators', 'a:b::c/d\\e|f.g-h_i,j;k=l'],
  ['glob and regular-expression characters', '*?[a-z]{1,2}(x|y)^$+.'],
  ['SQL and LIKE characters', `%_' " ;-- /* */ DROP TABLE x; \\`],
  ['Redis hash-tag braces', '{tag}user:42'],
  ['line breaks', 'line\nbreak\r\nand\rreturn'],
  ['non-ASCII characters', 'clé-ключ-鍵-🔑-e\u0301'],
  ['URL and JSON syntax', 'https://x.test/p?a=1&b=%20#h {"k":[1]}'],
];

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
      roundTrip(g, g.keyOfLength(maxKeyLength, (n) => 'k'.repeat(n)), 'value under a long ASCII key'),
    );

    g.check(`round-trips under a key of ${maxKeyLength} code units of mixed UTF-8 widths`, () =>
      roundTrip(g, g.keyOfLength(maxKeyLength, (n) => mixedWidthOfLength(n)), 'value under a long non-ASCII key'),
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
