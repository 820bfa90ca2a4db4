import assert from 'node:assert/strict';

/** Number of UTF-8 bytes of a well-formed string. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** One code point of `text` at UTF-16 index `index`, as `U+XXXX 'c'`, or `end of string`. */
function codePointAt(text: string, index: number): string {
  const cp = text.codePointAt(index);
  if (cp === undefined) return 'end of string';
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0) ? `${hex} ${JSON.stringify(String.fromCodePoint(cp))}` : hex;
}

/**
 * A short printable rendering of a value for failure messages: strings are JSON-escaped (so NUL,
 * newlines and other invisible characters show) and cut to about 60 characters.
 */
export function preview(value: unknown): string {
  if (typeof value !== 'string') return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
  const escaped = JSON.stringify(value).replace(
    /[\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return escaped.length <= 64 ? escaped : `${escaped.slice(0, 60)}…" (${value.length} code units)`;
}

/**
 * Asserts that `actual` is exactly `expected`. Unlike `assert.equal`, the failure message stays short
 * for a 1 MiB value: lengths in code units and UTF-8 bytes, and the first differing code point.
 * @param what what produced `actual`, for example `load()`.
 */
export function assertSameString(actual: unknown, expected: string, what: string): void {
  if (actual === expected) return;
  if (typeof actual !== 'string') {
    assert.fail(`${what} returned ${preview(actual)} instead of the saved string ${preview(expected)}`);
  }
  let index = 0;
  while (index < actual.length && index < expected.length && actual.charCodeAt(index) === expected.charCodeAt(index)) index++;
  // Report whole code points: step back to the lead surrogate of a pair split by the comparison.
  if (index > 0 && /[\ud800-\udbff]/.test(expected[index - 1] ?? '')) index--;
  assert.fail(
    `${what} returned a different string: ${actual.length} code units (${utf8Length(actual)} UTF-8 bytes) ` +
      `instead of ${expected.length} (${utf8Length(expected)}); first difference at index ${index}: ` +
      `expected ${codePointAt(expected, index)}, got ${codePointAt(actual, index)}`,
  );
}

/**
 * A deterministic pseudo-random generator (xorshift32): the same `seed` gives the same sequence,
 * so a failure reproduces. Returns integers in `[0, bound)`.
 */
export function randomInts(seed: number): (bound: number) => number {
  let state = seed | 0 || 1;
  return (bound) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % bound;
  };
}

/**
 * A code point of UTF-8 width `width` (1 to 4 bytes), picked by `next`. Width 1 gives printable ASCII,
 * width 3 avoids the surrogate range, so every result is a Unicode scalar value.
 */
function codePointOfWidth(width: 1 | 2 | 3 | 4, next: (bound: number) => number): number {
  switch (width) {
    case 1:
      return 0x20 + next(0x5f);
    case 2:
      return 0x80 + next(0x800 - 0x80);
    case 3: {
      const cp = 0x800 + next(0x10000 - 0x800 - 0x800);
      return cp >= 0xd800 ? cp + 0x800 : cp;
    }
    case 4:
      return 0x10000 + next(0x110000 - 0x10000);
  }
}

/** Writes code point `cp` as UTF-8 into `out` at `at`; returns the index after it. */
function writeUtf8(out: Uint8Array, at: number, cp: number): number {
  if (cp < 0x80) {
    out[at] = cp;
    return at + 1;
  }
  if (cp < 0x800) {
    out[at] = 0xc0 | (cp >> 6);
    out[at + 1] = 0x80 | (cp & 0x3f);
    return at + 2;
  }
  if (cp < 0x10000) {
    out[at] = 0xe0 | (cp >> 12);
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    out[at + 2] = 0x80 | (cp & 0x3f);
    return at + 3;
  }
  out[at] = 0xf0 | (cp >> 18);
  out[at + 1] = 0x80 | ((cp >> 12) & 0x3f);
  out[at + 2] = 0x80 | ((cp >> 6) & 0x3f);
  out[at + 3] = 0x80 | (cp & 0x3f);
  return at + 4;
}

/** Strings made by {@link mixedWidthString}, by size and seed: a run makes its 1 MiB value once. */
const mixedWidthCache = new Map<string, string>();

/**
 * A string of exactly `bytes` UTF-8 bytes mixing characters of every UTF-8 width, in a
 * pseudo-random but reproducible order (so a truncated, reordered or re-encoded copy differs).
 * Built as UTF-8 bytes and decoded once (1 MiB in a few ms).
 */
export function mixedWidthString(bytes: number, seed = 0x5eed): string {
  const cacheKey = `${bytes}:${seed}`;
  const cached = mixedWidthCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const next = randomInts(seed);
  const out = new Uint8Array(bytes);
  let at = 0;
  while (at < bytes) {
    const width = Math.min(bytes - at, 1 + next(4)) as 1 | 2 | 3 | 4;
    at = writeUtf8(out, at, codePointOfWidth(width, next));
  }
  const text = Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('utf8');
  mixedWidthCache.set(cacheKey, text);
  return text;
}

/**
 * A string of exactly `length` UTF-16 code units mixing 1- to 4-byte UTF-8 characters (for long keys).
 * Astral characters (2 code units) are used only while they fit.
 */
export function mixedWidthOfLength(length: number, seed = 0xcafe): string {
  const next = randomInts(seed);
  const parts: string[] = [];
  let left = length;
  while (left > 0) {
    const width = (1 + next(left >= 2 ? 4 : 3)) as 1 | 2 | 3 | 4;
    const char = String.fromCodePoint(codePointOfWidth(width, next));
    parts.push(char);
    left -= char.length;
  }
  return parts.join('');
}

/** Every Unicode scalar value of the BMP (U+0000 to U+FFFF without the surrogates), then every 97th astral one. */
export function everyScalarValueSample(): string {
  const parts: string[] = [];
  for (let cp = 0; cp <= 0xffff; cp++) if (cp < 0xd800 || cp > 0xdfff) parts.push(String.fromCharCode(cp));
  for (let cp = 0x10000; cp <= 0x10ffff; cp += 97) parts.push(String.fromCodePoint(cp));
  parts.push(String.fromCodePoint(0x10ffff));
  return parts.join('');
}
