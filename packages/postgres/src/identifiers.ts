import { createHash } from 'node:crypto';
import { optionError, show } from './errors.js';

/** Postgres's limit on identifiers (NAMEDATALEN - 1), in bytes; longer names are silently truncated by the server. */
export const MAX_IDENTIFIER_BYTES = 63;

/** A table name split into its parts, each exactly as the caller wrote it (unquoted). */
export interface TableName {
  /** `undefined`: resolved through the connection's `search_path`. */
  readonly schema: string | undefined;
  readonly name: string;
}

/** `"ident"`, with any `"` doubled: safe for every name (NUL excepted, which Postgres refuses). */
export function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function checkPart(part: string, what: string, input: string): void {
  if (part.length === 0) throw optionError(`table ${show(input)} has an empty ${what}`);
  if (part.includes('\u0000')) throw optionError(`table ${show(input)}: the ${what} contains a NUL character`);
  if (!isWellFormed(part)) throw optionError(`table ${show(input)}: the ${what} is not well-formed Unicode`);
  if (Buffer.byteLength(part, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw optionError(`table ${show(input)}: the ${what} is longer than ${MAX_IDENTIFIER_BYTES} bytes (Postgres would truncate it)`);
  }
}

/**
 * Parses the `table` option: `'name'` or `'schema.name'`. Names are taken literally (they will be
 * quoted), so a dot can only be the separator. Throws `ERR_REPRISE_OPTION`.
 */
export function parseTableName(input: string): TableName {
  const parts = input.split('.');
  if (parts.length > 2) throw optionError(`table must be "name" or "schema.name" (one dot at most), got ${show(input)}`);
  const [first, second] = parts as [string, string | undefined];
  if (second === undefined) {
    checkPart(first, 'name', input);
    return Object.freeze({ schema: undefined, name: first });
  }
  checkPart(first, 'schema', input);
  checkPart(second, 'name', input);
  return Object.freeze({ schema: first, name: second });
}

/** The table as SQL: `"name"` or `"schema"."name"`. */
export function qualifiedTable(table: TableName): string {
  return table.schema === undefined ? quoteIdent(table.name) : `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, cut at a code point boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

const INDEX_SUFFIX = '_expires_at_idx';

/**
 * Name of an index of `table`: `<table><suffix>` (by default the expiry index, `<table>_expires_at_idx`),
 * or, when that passes 63 bytes, the table name cut short plus 8 hex digits of its SHA-256, so that two
 * long names never share an index name. (Indexes live in their table's schema, so the name is unqualified.)
 */
export function indexName(table: TableName, suffix = INDEX_SUFFIX): string {
  const simple = `${table.name}${suffix}`;
  if (Buffer.byteLength(simple, 'utf8') <= MAX_IDENTIFIER_BYTES) return simple;
  const digest = createHash('sha256').update(table.name, 'utf8').digest('hex').slice(0, 8);
  const room = MAX_IDENTIFIER_BYTES - suffix.length - digest.length - 1;
  return `${truncateUtf8(table.name, room)}_${digest}${suffix}`;
}
