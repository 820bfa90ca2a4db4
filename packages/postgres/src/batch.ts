import type { VersionedWrite } from '@reprise/core';
import { checkTtl } from './arguments.js';
import { keyId, keyLabel } from './codec.js';

/**
 * Most value bytes one statement of a batch carries: 32 MiB. Postgres refuses a parameter over
 * 1 GB, and a statement holds its parameters in memory while it runs, so 1,000 snapshots of 1 MiB
 * (core's default `maxSnapshotBytes`) go in two statements; batches of ordinary snapshots (a few kB
 * each) always fit in one.
 */
export const MAX_STATEMENT_VALUE_BYTES = 32 * 1024 * 1024;

/** The parameters of one `saveManyIfNewer` statement, one element per entry, and where each entry came from. */
export interface BatchStatement {
  /** Index in the caller's batch of each row, in the order of the arrays. */
  readonly indexes: number[];
  /** SHA-256 of each key (the row identity). */
  readonly ids: Buffer[];
  /** `ids` in hex, as the statement returns them. */
  readonly hexIds: string[];
  readonly labels: string[];
  /** Each value (well-formed: its UTF-8 form is exact). */
  readonly values: string[];
  /** The length of each value in UTF-8 bytes. */
  readonly lengths: number[];
  /** Versions as decimal text (`bigint` in the statement). */
  readonly versions: string[];
  /** TTLs in ms, cut to `MAX_TTL_MS`; `null`: no expiry. */
  readonly ttls: Array<number | null>;
  /** Sum of the value bytes. */
  bytes: number;
}

function emptyStatement(): BatchStatement {
  return { indexes: [], ids: [], hexIds: [], labels: [], values: [], lengths: [], versions: [], ttls: [], bytes: 0 };
}

/**
 * Splits checked entries into statements, in order: one statement for the whole batch, unless its
 * values pass {@link MAX_STATEMENT_VALUE_BYTES} (a new statement starts before the entry that would
 * pass it), or two of its distinct keys share a SHA-256 (then the second starts a new statement,
 * so that, run one after the other, they behave as two `saveIfNewer` calls on that row would).
 * @param maxBytes the bound on value bytes per statement; default {@link MAX_STATEMENT_VALUE_BYTES}.
 * @param identify the row identity of a key; default `keyId` (SHA-256), replaced only by tests.
 */
export function planBatch(
  writes: readonly VersionedWrite[],
  maxBytes = MAX_STATEMENT_VALUE_BYTES,
  identify: (key: string) => Buffer = keyId,
): BatchStatement[] {
  const statements: BatchStatement[] = [];
  let current = emptyStatement();
  let seen = new Set<string>();
  writes.forEach(({ key, value, version, ttlMs }, index) => {
    const id = identify(key);
    const hex = id.toString('hex');
    const bytes = Buffer.byteLength(value, 'utf8');
    if (current.indexes.length > 0 && (seen.has(hex) || current.bytes + bytes > maxBytes)) {
      statements.push(current);
      current = emptyStatement();
      seen = new Set();
    }
    seen.add(hex);
    current.indexes.push(index);
    current.ids.push(id);
    current.hexIds.push(hex);
    current.labels.push(keyLabel(key));
    current.values.push(value);
    current.lengths.push(bytes);
    current.versions.push(String(version));
    current.ttls.push(checkTtl(ttlMs));
    current.bytes += bytes;
  });
  if (current.indexes.length > 0) statements.push(current);
  return statements;
}

/**
 * The parameters of the `saveManyIfNewer` statement for `statement`: ids (`bytea[]`), key labels
 * (`text[]`), every value's bytes one after the other in **one** `bytea` (pg sends a `Buffer`
 * parameter as raw bytes, while a `bytea[]` array would go as hex text, twice the size, and be parsed
 * character by character: measured twice as slow for 4 kB values), the 1-based start and the length
 * of each value in it (`int[]`), versions (`bigint[]` as text) and TTLs in ms (`float8[]`, null for none).
 */
export function statementParams(statement: BatchStatement): unknown[] {
  const all = Buffer.allocUnsafe(statement.bytes);
  const starts: number[] = [];
  let at = 0;
  statement.values.forEach((value, i) => {
    starts.push(at + 1);
    at += all.write(value, at, statement.lengths[i] ?? 0, 'utf8');
  });
  return [statement.ids, statement.labels, all, starts, statement.lengths, statement.versions, statement.ttls];
}
