import { createHash } from 'node:crypto';
import type { CustomTypesConfig } from 'pg';

/**
 * How keys and values are stored. Values are the UTF-8 bytes of the string in a `bytea` column:
 * Postgres `text` refuses U+0000, and bytes need no escaping, so NUL characters and every other
 * code point come back intact. Keys are identified by the SHA-256 of their UTF-8 bytes (any length
 * fits the primary key's btree, whose entries are capped near 2.7 kB), and kept as text for people.
 */

/** Whether `text` has no lone surrogate (only such strings have an exact UTF-8 form). */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** The row identity of `key`: SHA-256 of its UTF-8 bytes (32 bytes). `key` must be well-formed. */
export function keyId(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The `key` column: the key itself, with each NUL (which `text` refuses) shown as U+FFFD. For people only. */
export function keyLabel(key: string): string {
  return key.includes('\u0000') ? key.replaceAll('\u0000', '\uFFFD') : key;
}

/** The `value` column: the UTF-8 bytes of `value`, which must be well-formed. */
export function encodeValue(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

/** Strict: a byte sequence that is not UTF-8 throws; a leading U+FEFF is part of the value, not a BOM. */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The string stored in the `value` column, read as `encode(value, 'base64')`; throws a `TypeError`
 * on bytes that are not UTF-8 (a row written by something else).
 *
 * Why base64 text and not the `bytea` itself: pg parses a `bytea` in text format according to the
 * server's `bytea_output` and the pool's type parsers (both the pool owner's to change), and pg's
 * binary result format is not a way out: pg-protocol decodes every field as UTF-8 text before
 * handing it over, so bytes that are not UTF-8 would silently become U+FFFD. base64 is plain ASCII,
 * 4/3 of the size on the wire, and decodes to the exact bytes.
 */
export function decodeValue(base64: string): string {
  return decoder.decode(Buffer.from(base64, 'base64'));
}

/**
 * Per-query type parsing that ignores pg's global parsers (which the owner of a shared pool may
 * have changed): every column arrives as the server's text.
 */
export const RAW_TYPES = Object.freeze({
  getTypeParser: () => (raw: unknown) => raw,
}) as unknown as CustomTypesConfig;
