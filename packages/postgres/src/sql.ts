import { indexName, qualifiedTable, quoteIdent } from './identifiers.js';
import type { TableName } from './identifiers.js';

/**
 * Every statement the adapter runs, built once per adapter from its table name.
 *
 * Layout: `id` is the SHA-256 of the key's UTF-8 bytes (the identity: fixed size, so keys of any
 * length fit the primary key's btree), `key` the key for people, `value` the value's UTF-8 bytes
 * (`bytea`, because Postgres `text` refuses NUL characters; `NULL` for a *floor*: a key that keeps
 * only its version after a take), `version` the version of ordered writes (`bigint`, so every safe
 * integer fits; 0 for a plain `save`), `expires_at` the deadline on the database clock (`NULL`:
 * never), indexed for the sweep. A floor at version 0 is never kept (it would mean nothing): the
 * row is deleted instead.
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
  /** The upgrade of a table created by @reprise/postgres 0.1 (no `version`, `value NOT NULL`); idempotent. */
  readonly migrate: readonly string[];
  /** Takes a transaction-scoped advisory lock named after the resolved table; params: schema | null, name. */
  readonly lock: string;
  /** One row: has_table, has_expiry_index, has_unique_id, columns (JSON name → { type, notNull }); param: the table as SQL text. */
  readonly inspect: string;
  /** Upsert at version 0; params: id, key label, value bytes, ttl ms (float8, null = no expiry). */
  readonly save: string;
  /**
   * Conditional upsert; params: id, key label, value bytes, version (bigint as text), ttl ms.
   * Returns one row when it stored, none when it refused.
   */
  readonly saveIfNewer: string;
  /**
   * The conditional upsert of many rows in one statement (see {@link saveManyIfNewerSql}); params:
   * ids (bytea[]), key labels (text[]), the values' bytes one after the other (one bytea), each
   * value's 1-based start and length in it (int[], int[]), versions (bigint[] as text), ttls ms
   * (float8[], null = no expiry); one element per entry and no id twice. Returns the id (hex) of
   * each row it stored.
   */
  readonly saveManyIfNewer: string;
  /** The live value, base64 (see codec.ts); param: id. */
  readonly load: string;
  /** The versioned take (see {@link takeSql}); params: id, key label, fence version | null, fence ttl ms | null. */
  readonly take: string;
  /** Deletes the row (a floor too), returning whether it held a live value; param: id. */
  readonly delete: string;
  /** Deletes at most $1 expired rows (floors included), skipping rows other sessions hold locked; returns nothing. */
  readonly sweepBatch: string;
}

/** The expiry test, in SQL: true for a row that may still be read. */
const LIVE = '(expires_at IS NULL OR expires_at > now())';

/** A deadline `$n` ms from now in SQL (`NULL` stays `NULL`: no expiry). */
const deadline = (param: string): string => `now() + ${param}::float8 * interval '1 millisecond'`;

/** The upsert of a conditional write: the whole row, replaced (key label, value, version, deadline). */
const UPSERT =
  'ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at';

/**
 * When a conditional write replaces the row `cur` with `EXCLUDED` (one condition for `saveIfNewer`
 * and its batch): an expired row counts as absent; else a value must be older, a floor at most as new.
 */
const NEWER = [
  'WHERE cur.expires_at <= now()',
  '   OR (cur.value IS NOT NULL AND cur.version < EXCLUDED.version)',
  '   OR (cur.value IS NULL AND cur.version <= EXCLUDED.version)',
];

/**
 * `saveManyIfNewer` as one statement: the rows of the arrays (`unnest` zips them, one row per
 * entry; each value cut out of the one `bytea` of all values by its start and length) inserted with the upsert and the condition of `saveIfNewer`, so each row is stored exactly
 * as its own `saveIfNewer` would store it, and each is decided on its locked, latest version. The
 * rows go in `id` order, so concurrent batches lock the rows they share in the same order and never
 * deadlock one another (without the `ORDER BY`, 50 concurrent batches over 5 shared keys in
 * shuffled orders failed with deadlocks, 40P01). `RETURNING` gives the id of each row stored; a
 * refused row gives none. An id may appear once per statement (Postgres cannot upsert one row twice
 * in a statement, 21000): the adapter never sends one twice (see batch.ts).
 */
function saveManyIfNewerSql(t: string): string {
  return [
    `INSERT INTO ${t} AS cur (id, key, value, version, expires_at)`,
    `SELECT w.id, w.key, substring($3::bytea FROM w.start FOR w.length), w.version, ${deadline('w.ttl')}`,
    'FROM unnest($1::bytea[], $2::text[], $4::int[], $5::int[], $6::bigint[], $7::float8[]) AS w(id, key, start, length, version, ttl)',
    'ORDER BY w.id',
    UPSERT,
    ...NEWER,
    "RETURNING encode(cur.id, 'hex') AS id",
  ].join('\n');
}

/** The DDL of a table, exactly as the README shows it for the default name. */
export function createTableSql(table: TableName): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualifiedTable(table)} (`,
    '  id         bytea PRIMARY KEY,',
    '  key        text NOT NULL,',
    '  value      bytea,',
    '  version    bigint NOT NULL DEFAULT 0,',
    '  expires_at timestamptz',
    ');',
  ].join('\n');
}

/** The expiry index DDL, exactly as the README shows it for the default name. */
export function createIndexSql(table: TableName): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(table))} ON ${qualifiedTable(table)} (expires_at);`;
}

/**
 * The upgrade of a table created by @reprise/postgres 0.1, as the README shows it: adds `version`
 * (existing rows get 0: what a plain `save` writes) and lets `value` be `NULL` (floors). Both are
 * catalog-only changes on Postgres 11 and later (no table rewrite), and idempotent.
 */
export function migrateTableSql(table: TableName): string[] {
  const t = qualifiedTable(table);
  return [
    `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0;`,
    `ALTER TABLE ${t} ALTER COLUMN value DROP NOT NULL;`,
  ];
}

/**
 * \`takeVersioned\` as one statement. \`old\` locks the row (FOR UPDATE: concurrent takes, writes and
 * fences of the key queue here, and each sees the row as the one before it left it). \`cur\` is the
 * key as the rules see it: an expired row counts as absent (no value, version 0, no time left);
 * a key without a row too. \`next\` applies the rules (see "Ordered writes" on SessionAdapter):
 * - a value is taken when there is no fence, or its version is at most the fence ($3);
 * - a value the fence leaves (a newer one) stays as it is;
 * - otherwise the key keeps a floor at max(version, fence); without a fence it keeps the taken
 *   value's deadline, with one the later of its own deadline and now + $4 ms ($4 NULL: none).
 * Then exactly one of: the row is deleted (nothing left: a floor at version 0), updated (when
 * something changed), or a floor row inserted (a fence on a key without a row). The insert uses
 * ON CONFLICT DO NOTHING: a row that appeared after the statement's snapshot (a concurrent first
 * write of the key) is left alone, and \`retry\` tells the adapter to run the statement again, which
 * then finds and locks that row. Returns one row: the taken value (base64) or NULL, its version,
 * and \`retry\`.
 */
function takeSql(t: string): string {
  return `WITH old AS (
  SELECT id, value, version, expires_at FROM ${t} WHERE id = $1 FOR UPDATE
),
cur AS (
  SELECT o.id, true AS existed,
    CASE WHEN o.live THEN o.value END AS value,
    CASE WHEN o.live THEN o.version ELSE 0 END AS version,
    CASE WHEN NOT o.live THEN '-infinity'::timestamptz ELSE coalesce(o.expires_at, 'infinity') END AS deadline
  FROM (SELECT old.*, ${LIVE} AS live FROM old) o
  UNION ALL
  SELECT $1::bytea, false, NULL::bytea, 0::bigint, '-infinity'::timestamptz WHERE NOT EXISTS (SELECT 1 FROM old)
),
plan AS (
  SELECT c.*, c.value IS NOT NULL AND ($3::bigint IS NULL OR c.version <= $3::bigint) AS taken
  FROM cur c
),
next AS (
  SELECT p.*,
    CASE WHEN p.taken THEN NULL ELSE p.value END AS new_value,
    CASE WHEN p.value IS NOT NULL AND NOT p.taken THEN p.version ELSE GREATEST(p.version, coalesce($3::bigint, 0)) END AS new_version,
    CASE WHEN $3::bigint IS NULL OR (p.value IS NOT NULL AND NOT p.taken) THEN p.deadline
      ELSE GREATEST(p.deadline, coalesce(${deadline('$4')}, 'infinity')) END AS new_deadline
  FROM plan p
),
removed AS (
  DELETE FROM ${t} USING next n
  WHERE ${t}.id = n.id AND n.existed AND n.new_value IS NULL AND n.new_version = 0
  RETURNING 1
),
updated AS (
  UPDATE ${t} SET value = n.new_value, version = n.new_version, expires_at = nullif(n.new_deadline, 'infinity')
  FROM next n
  WHERE ${t}.id = n.id AND n.existed AND NOT (n.new_value IS NULL AND n.new_version = 0)
    AND (n.taken OR n.new_version <> n.version OR n.new_deadline <> n.deadline)
  RETURNING 1
),
inserted AS (
  INSERT INTO ${t} (id, key, value, version, expires_at)
  SELECT n.id, $2::text, NULL, n.new_version, nullif(n.new_deadline, 'infinity') FROM next n
  WHERE NOT n.existed AND n.new_version > 0
  ON CONFLICT (id) DO NOTHING
  RETURNING 1
)
SELECT CASE WHEN n.taken THEN encode(n.value, 'base64') END AS value,
  n.version::text AS version,
  (NOT n.existed AND n.new_version > 0 AND NOT EXISTS (SELECT 1 FROM inserted)) AS retry
FROM next n`;
}

export function buildStatements(table: TableName): Statements {
  const t = qualifiedTable(table);
  return Object.freeze({
    table: t,
    index: indexName(table),
    createTable: createTableSql(table),
    createIndex: createIndexSql(table),
    migrate: Object.freeze(migrateTableSql(table)),
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
      "  (SELECT json_object_agg(attname, json_build_object('type', format_type(atttypid, atttypmod), 'notNull', attnotnull)) FROM pg_attribute",
      '     WHERE attrelid = target.oid AND attnum > 0 AND NOT attisdropped) AS columns',
      'FROM target',
    ].join('\n'),
    save: [
      `INSERT INTO ${t} (id, key, value, version, expires_at)`,
      `VALUES ($1, $2, $3, 0, ${deadline('$4')})`,
      'ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, value = EXCLUDED.value, version = 0, expires_at = EXCLUDED.expires_at',
    ].join('\n'),
    saveIfNewer: [
      `INSERT INTO ${t} AS cur (id, key, value, version, expires_at)`,
      `VALUES ($1, $2, $3, $4::bigint, ${deadline('$5')})`,
      UPSERT,
      ...NEWER,
      'RETURNING 1 AS stored',
    ].join('\n'),
    saveManyIfNewer: saveManyIfNewerSql(t),
    load: `SELECT encode(value, 'base64') AS value FROM ${t} WHERE id = $1 AND value IS NOT NULL AND ${LIVE}`,
    take: takeSql(t),
    delete: `DELETE FROM ${t} WHERE id = $1 RETURNING value IS NOT NULL AND ${LIVE} AS live`,
    sweepBatch: [
      `DELETE FROM ${t} WHERE id IN (`,
      `  SELECT id FROM ${t} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED`,
      ')',
    ].join('\n'),
  });
}
