/**
 * The strings the suite stores: values that must come back exactly (every kind of Unicode, control
 * characters, look-alikes of other types) and key suffixes with characters that stores treat
 * specially. Shared by the round-trip checks and the checks of batches.
 */

/** Values that must come back exactly, each checked by its own named check. */
export const VALUES: ReadonlyArray<readonly [label: string, value: string]> = [
  ['the empty string', ''],
  ['plain ASCII', 'hello, world'],
  ['Latin, Greek, Cyrillic and CJK characters', 'héllo wörld ß · Ωμέγα · Привет · 中文 · 日本語 · 한국어'],
  ['astral characters (surrogate pairs), emoji sequences and modifiers', '😀 𝄞 𠀀 𐍈 👍🏽 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷'],
  ['combining characters, unnormalized (NFD next to NFC)', 'e\u0301 = \u00e9, a\u0308 = \u00e4, \u1100\u1161 = \uac00, n\u0303\u0323'],
  ['NUL characters', '\u0000 leading, in\u0000the\u0000middle, and trailing \u0000\u0000'],
  ['only a NUL character', '\u0000'],
  ['a lone newline', '\n'],
  ['every kind of line break', 'lf\ncrlf\r\ncr\rnel\u0085ls\u2028ps\u2029vt\u000bff\u000c\n\n'],
  [
    'control characters (C0, DEL, C1)',
    Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i))
      .join('')
      .slice(1) +
      '\u007f' +
      Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)).join(''),
  ],
  [
    'a byte-order mark and invisible format characters',
    '\ufeffstarts with a BOM, zero\u200bwidth, \u200cjoiners\u200d, \u200eLTR \u200fRTL \u202eoverride\u202c, soft\u00adhyphen',
  ],
  ['noncharacters and the last code points', '\ufdd0 \ufffe \uffff \u{1fffe} \u{10fffe} \u{10ffff}'],
  ['whitespace only', ' \t  \u00a0\u3000 '],
  [
    'quotes, backslashes, escapes and format directives',
    `'single' "double" \`back\` \\ \\\\ \\u0000 \\n %s %d %% \${x} {{y}} $1 &amp; <b>`,
  ],
  ['JSON text', '{"version":1,"data":{"a":[1,2,{"b":null}]},"s":"\\u0000\\n"}'],
];

/** Strings that look like another type: an adapter must not parse them (each under its own key). */
export const LOOKALIKES: readonly string[] = [
  'null',
  'undefined',
  'true',
  'false',
  '0',
  '-0',
  '1e3',
  'NaN',
  '[]',
  '{}',
  '""',
  '[object Object]',
];

/** Key suffixes with characters that stores, key schemes and query languages treat specially. */
export const ODD_KEYS: ReadonlyArray<readonly [label: string, suffix: string]> = [
  ['spaces and tabs', '  leading, inner and trailing \t '],
  ['separators', 'a:b::c/d\\e|f.g-h_i,j;k=l'],
  ['glob and regular-expression characters', '*?[a-z]{1,2}(x|y)^$+.'],
  ['SQL and LIKE characters', `%_' " ;-- /* */ DROP TABLE x; \\`],
  ['Redis hash-tag braces', '{tag}user:42'],
  ['line breaks', 'line\nbreak\r\nand\rreturn'],
  ['non-ASCII characters', 'clé-ключ-鍵-🔑-e\u0301'],
  ['URL and JSON syntax', 'https://x.test/p?a=1&b=%20#h {"k":[1]}'],
];
