/**
 * Key patterns: a glob over adapter keys (the part after the Redis prefix, the `key` column in
 * Postgres) where `*` matches any run of characters, `\*` a literal star and `\\` a backslash; every
 * other character stands for itself (`?` and `[` too, unlike Redis's own globs). The same pattern is
 * sent to the store (`SCAN … MATCH` in Redis, `LIKE` in Postgres) and checked again here, so both
 * stores select exactly the same keys.
 */
export interface KeyPattern {
  /** The glob as the user wrote it. */
  readonly glob: string;
  /** The pattern's parts between unescaped stars, unescaped. */
  readonly parts: readonly string[];
  /** The whole-key regular expression of the pattern. */
  readonly regex: RegExp;
}

function compile(glob: string, parts: string[]): KeyPattern {
  const source = parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*');
  return Object.freeze({ glob, parts: Object.freeze(parts), regex: new RegExp(`^${source}$`) });
}

/** Every key. */
export const ANY_KEY: KeyPattern = parsePattern('*');

/** Parses a glob (see the module comment). A trailing lone backslash stands for itself. */
export function parsePattern(glob: string): KeyPattern {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i]!;
    const next = glob[i + 1];
    if (char === '\\' && next !== undefined) {
      current += next;
      i += 1;
    } else if (char === '*') {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return compile(glob, parts);
}

/** The pattern of every key that starts with `prefix` (taken literally). */
export function prefixPattern(prefix: string): KeyPattern {
  return compile(`${escapeGlob(prefix)}*`, [prefix, '']);
}

/** `text` with `*` and `\` escaped, for {@link parsePattern}. */
export function escapeGlob(text: string): string {
  return text.replace(/[*\\]/g, '\\$&');
}

/** Whether `key` matches the pattern. */
export function matches(pattern: KeyPattern, key: string): boolean {
  return pattern.regex.test(key);
}

/** The Redis `MATCH` pattern of `prefix` + the pattern (Redis's glob metacharacters escaped). */
export function redisMatch(prefix: string, pattern: KeyPattern): string {
  const literal = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');
  return literal(prefix) + pattern.parts.map(literal).join('*');
}

/** The SQL `LIKE … ESCAPE '\'` pattern (`%` and `_` escaped). */
export function sqlLike(pattern: KeyPattern): string {
  return pattern.parts.map((part) => part.replace(/[%_\\]/g, '\\$&')).join('%');
}
