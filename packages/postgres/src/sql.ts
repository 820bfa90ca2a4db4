import { indexName, qualifiedTable, quoteIdent } from './identifiers.js';
import type { TableName } from './identifiers.js';

/**
 * Every statement the adapter runs, built once per adapter from its table name.
 *
 * Layout: `id` is the SHA-256 of the key's UTF-8 bytes (the identity: fixed size, so keys of any
 * length fit the primary key's btree), `key` the key for people, `value` the value's UTF-8 bytes
 * (`bytea`, because Postgres `text` refuses NUL characters), `expires_at` the deadline on the
 * database clock (`NULL`: never), indexed for the sweep.
 *
 * Clock: every deadline is computed and compared with the server's `now()` (the start of the
 * statement's own transaction; each statement here runs in its own), never with a process clock,
 * so processes on several hosts agree, like Redis's PX.
 */
export interface Statements {
  /** `"name"` or `"schema"."name"`. */
  readonly table: string;
  /** Unqualified, unquoted name of the expiry index. */
  readonly index: string;
  readonly createTable: string;
  readonly createIndex: string;
  /** Takes a transaction-scoped advisory lock named after the resolved table; params: schema | null, name. */
  readonly lock: string;
  /** One row: has_table, has_expiry_index, has_unique_id, columns (JSON name → type); param: the table as SQL text. */
  readonly inspect: string;
  /** Upsert; params: id, key label, value bytes, ttl ms (float8, null = no expiry). */
  readonly save: string;
  /** The live value, base64 (see codec.ts); param: id. */
  readonly load: string;
  /** Deletes the row, returning its value (base64) when it was live, NULL when it had expired; param: id. */
  readonly take: string;
  /** Deletes the row, returning whether it was live; param: id. */
  readonly delete: string;
  /** Deletes at most $1 expired rows, skipping rows other sessions hold locked; returns nothing. */
  readonly sweepBatch: string;
}

/** The expiry test, in SQL: true for a row that may still be read. */
const LIVE = '(expires_at IS NULL OR expires_at > now())';

/** The DDL of a table, exactly as the README shows it for the default name. */
export function createTableSql(table: TableName): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualifiedTable(table)} (`,
    '  id         bytea PRIMARY KEY,',
    '  key        text NOT NULL,',
    '  value      bytea NOT NULL,',
    '  expires_at timestamptz',
    ');',
  ].join('\n');
}

/** The expiry index DDL, exactly as the README shows it for the default name. */
export function createIndexSql(table: TableName): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(table))} ON ${qualifiedTable(table)} (expires_at);`;
}

export function buildStatements(table: TableName): Statements {
  const t = qualifiedTable(table);
  return Object.freeze({
    table: t,
    index: indexName(table),
    createTable: createTableSql(table),
    createIndex: createIndexSql(table),
    lock: `SELECT pg_advisory_xact_lock(hashtext(concat('@reprise/postgres ', quote_ident(coalesce($1::text, current_schema())), '.', quote_ident($2::text))))`,
    inspect: [
      // to_regclass reads the catalog as of now, the scans below as of the statement's start: a
      // table committed in between would look like a table without columns. Keeping its oid only
      // when its pg_class row is visible to the statement makes the whole answer one snapshot's.
      'WITH target AS (SELECT (SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass($1::text)) AS oid)',
      'SELECT target.oid IS NOT NULL AS has_table,',
      '  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]',
      "          WHERE i.indrelid = target.oid AND a.attname = 'expires_at') AS has_expiry_index,",
      '  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]',
      "          WHERE i.indrelid = target.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = 'id') AS has_unique_id,",
      '  (SELECT json_object_agg(attname, format_type(atttypid, atttypmod)) FROM pg_attribute',
      '     WHERE attrelid = target.oid AND attnum > 0 AND NOT attisdropped) AS columns',
      'FROM target',
    ].join('\n'),
    save: [
      `INSERT INTO ${t} (id, key, value, expires_at)`,
      "VALUES ($1, $2, $3, now() + $4::float8 * interval '1 millisecond')",
      'ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, value = EXCLUDED.value, expires_at = EXCLUDED.expires_at',
    ].join('\n'),
    load: `SELECT encode(value, 'base64') AS value FROM ${t} WHERE id = $1 AND ${LIVE}`,
    take: `DELETE FROM ${t} WHERE id = $1 RETURNING CASE WHEN ${LIVE} THEN encode(value, 'base64') END AS value`,
    delete: `DELETE FROM ${t} WHERE id = $1 RETURNING ${LIVE} AS live`,
    sweepBatch: [
      `DELETE FROM ${t} WHERE id IN (`,
      `  SELECT id FROM ${t} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED`,
      ')',
    ].join('\n'),
  });
}
