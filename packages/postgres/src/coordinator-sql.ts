import { createHash } from 'node:crypto';
import { indexName, qualifiedTable, quoteIdent } from './identifiers.js';
import type { TableName } from './identifiers.js';

/**
 * The statements of `PostgresCoordinator`, built once per coordinator from its table name.
 *
 * Layout: one row per session that has ever been claimed (see {@link createLeaseTableSql}):
 * `session_id`, the `owner` (an `instanceId`; `NULL` once released), the fencing `token` of the
 * last lease (kept after a release or a lapse, so the next lease gets a greater one), the lease's
 * end `lease_until`, and `expires_at`, the moment the row may be deleted: the lease's end plus the
 * token retention, never moved earlier, and `idle_deadline`, the session's idle deadline in ms since
 * the epoch as its owner last reported it (indexed while the row has one; cleared by a release), read
 * by `adoptable`. A lease is live when `owner IS NOT NULL AND lease_until >
 * now()`. Every deadline is computed and compared with the database's `now()` (the start of the
 * statement's own transaction), never a process clock, so instances on several hosts agree.
 */
export interface LeaseStatements {
  /** `"name"` or `"schema"."name"`. */
  readonly table: string;
  /**
   * The advisory lock of the adapter's DDL, then the table and its index, as one text of three
   * statements: sent at once, they run as one implicit transaction, so the lock lasts until the DDL
   * committed (or rolled back) and the connection is left clean either way.
   */
  readonly create: string;
  /** The table's columns and indexes as the catalog sees them; param: the table as SQL text. */
  readonly inspect: string;
  /** Params: session id, owner, lease ms, retention ms, deadline (ms or null). Returns `owner`, `token` (text): held when `owner` is the caller. */
  readonly claim: string;
  /** Params: session ids (text[]), tokens (bigint[] as text), owner, lease ms, retention ms, deadlines (bigint[], nulls kept). Returns `session_id`, `token` of each lease extended. */
  readonly renew: string;
  /** Params: session id, owner, token. Returns one row when it released. */
  readonly release: string;
  /** Param: limit. Returns `session_id` of rows past their idle deadline whose lease is not live, oldest first. */
  readonly adoptable: string;
  /** Param: session id. Returns `owner`, `token` of the live lease, or no row. */
  readonly owner: string;
  /** Params: channel, payload. */
  readonly notify: string;
  /** Deletes at most $1 rows past `expires_at` whose lease is not live, skipping locked rows. */
  readonly sweepBatch: string;
}

/** `$n` ms from now, on the database clock. */
const after = (ms: string): string => `now() + ${ms}::float8 * interval '1 millisecond'`;

/** The DDL of a lease table, exactly as the README shows it for the default name. */
export function createLeaseTableSql(table: TableName): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualifiedTable(table)} (`,
    '  session_id  text PRIMARY KEY,',
    '  owner       text,',
    '  token       bigint NOT NULL,',
    '  lease_until timestamptz,',
    '  expires_at  timestamptz NOT NULL,',
    '  idle_deadline bigint',
    ');',
  ].join('\n');
}

/**
 * The index of the lease table's sweep, exactly as the README shows it for the default name. Its
 * name is the adapter's expiry index name for that table (`<table>_expires_at_idx`, shortened with
 * a hash when too long): the column plays the same part.
 */
export function createLeaseIndexSql(table: TableName): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(table))} ON ${qualifiedTable(table)} (expires_at);`;
}

/**
 * The partial index of adoption, exactly as the README shows it for the default name: the rows with an
 * idle deadline, in deadline order (`<table>_idle_deadline_idx`, shortened with a hash when too long).
 */
export function createLeaseDeadlineIndexSql(table: TableName): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(table, '_idle_deadline_idx'))} ON ${qualifiedTable(table)} (idle_deadline) WHERE idle_deadline IS NOT NULL;`;
}

/** A string as an SQL literal that means the same whatever `standard_conforming_strings` says. */
function literal(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * The channel of one instance's hand-over messages. One channel per instance, as on Redis: the
 * server delivers a notification only to the connections that listen on its channel, so each
 * instance receives its own messages only (one shared channel would bring every instance every
 * hand-over of the cluster, to parse and drop). A channel name is an identifier (at most 63 bytes)
 * while an `instanceId` alone may have 64 characters, and the channel must also differ between
 * coordinators on different tables: hence `reprise_` and 32 hex digits (128 bits) of the SHA-256
 * of both. Lowercase hex reads the same quoted (`LISTEN "…"`) and as `pg_notify`'s text argument.
 */
export function channelName(table: TableName, instanceId: string): string {
  const digest = createHash('sha256')
    .update(`${qualifiedTable(table)}\u0000${instanceId}`, 'utf8')
    .digest('hex');
  return `reprise_${digest.slice(0, 32)}`;
}

/** A live lease in SQL, on the row `cur`. */
const LIVE = '(cur.owner IS NOT NULL AND cur.lease_until IS NOT NULL AND cur.lease_until > now())';

/** The statements of a coordinator on `table` (see {@link LeaseStatements}). */
export function buildLeaseStatements(table: TableName): LeaseStatements {
  const t = qualifiedTable(table);
  // The transaction-scoped advisory lock the adapter takes around its own DDL (the key of sql.ts's
  // `lock`: the resolved schema and the table), so that processes starting together never race on
  // CREATE (see the README). The names are literals: a text of several statements takes no parameters.
  const schema = table.schema === undefined ? 'current_schema()' : literal(table.schema);
  const lock = `SELECT pg_advisory_xact_lock(hashtext(concat('@reprise/postgres ', quote_ident(${schema}), '.', quote_ident(${literal(table.name)}))))`;
  const taken = `(${LIVE} AND cur.owner <> EXCLUDED.owner)`;
  const mine = `(${LIVE} AND cur.owner = EXCLUDED.owner)`;
  return Object.freeze({
    table: t,
    create: [lock, createLeaseTableSql(table), createLeaseIndexSql(table), createLeaseDeadlineIndexSql(table)]
      .map((s) => s.replace(/;$/, ''))
      .join(';\n'),
    inspect: [
      'WITH target AS (SELECT (SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass($1::text)) AS oid)',
      'SELECT target.oid IS NOT NULL AS has_table,',
      '  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]',
      "          WHERE i.indrelid = target.oid AND a.attname = 'expires_at')",
      '  AND EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]',
      "          WHERE i.indrelid = target.oid AND a.attname = 'idle_deadline') AS has_index,",
      '  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]',
      "          WHERE i.indrelid = target.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = 'session_id') AS has_unique_id,",
      '  (SELECT json_object_agg(attname, format_type(atttypid, atttypmod)) FROM pg_attribute',
      '     WHERE attrelid = target.oid AND attnum > 0 AND NOT attisdropped) AS columns',
      'FROM target',
    ].join('\n'),
    // One statement, atomic under any concurrency: the upsert locks the row (or inserts it, token
    // 1), and the SET decides on its latest committed version. A live lease of another owner is
    // rewritten unchanged, so that RETURNING reports that owner as of the locked row; a second
    // SELECT in the same statement could not, since it would read the statement's older snapshot.
    claim: [
      `INSERT INTO ${t} AS cur (session_id, owner, token, lease_until, expires_at, idle_deadline)`,
      `VALUES ($1::text, $2::text, 1, ${after('$3')}, ${after('($3::float8 + $4::float8)')}, $5::bigint)`,
      'ON CONFLICT (session_id) DO UPDATE SET',
      `  owner = CASE WHEN ${taken} THEN cur.owner ELSE EXCLUDED.owner END,`,
      `  token = CASE WHEN ${taken} OR ${mine} THEN cur.token ELSE cur.token + 1 END,`,
      `  lease_until = CASE WHEN ${taken} THEN cur.lease_until ELSE EXCLUDED.lease_until END,`,
      `  expires_at = CASE WHEN ${taken} THEN cur.expires_at ELSE GREATEST(cur.expires_at, EXCLUDED.expires_at) END,`,
      `  idle_deadline = CASE WHEN ${taken} THEN cur.idle_deadline ELSE COALESCE(EXCLUDED.idle_deadline, cur.idle_deadline) END`,
      'RETURNING cur.owner, cur.token::text AS token',
    ].join('\n'),
    renew: [
      `UPDATE ${t} AS cur SET lease_until = ${after('$4')},`,
      `  expires_at = GREATEST(cur.expires_at, ${after('($4::float8 + $5::float8)')}),`,
      '  idle_deadline = COALESCE(r.deadline, cur.idle_deadline)',
      'FROM unnest($1::text[], $2::bigint[], $6::bigint[]) AS r(session_id, token, deadline)',
      `WHERE cur.session_id = r.session_id AND cur.token = r.token AND cur.owner = $3::text AND cur.lease_until > now()`,
      'RETURNING cur.session_id, cur.token::text AS token',
    ].join('\n'),
    // The row stays, with its token and `expires_at` (at least now + retention: the lease was live).
    release: [
      `UPDATE ${t} AS cur SET owner = NULL, lease_until = NULL, idle_deadline = NULL`,
      `WHERE cur.session_id = $1::text AND cur.owner = $2::text AND cur.token = $3::bigint AND ${LIVE}`,
      'RETURNING 1 AS released',
    ].join('\n'),
    owner: `SELECT cur.owner, cur.token::text AS token FROM ${t} AS cur WHERE cur.session_id = $1::text AND ${LIVE}`,
    // The partial index in deadline order; rows with a live lease (their owner expires them itself) are skipped.
    adoptable: [
      `SELECT cur.session_id FROM ${t} AS cur`,
      `WHERE cur.idle_deadline IS NOT NULL AND cur.idle_deadline <= (extract(epoch FROM now()) * 1000)::bigint AND NOT ${LIVE}`,
      'ORDER BY cur.idle_deadline LIMIT $1',
    ].join('\n'),
    notify: 'SELECT pg_notify($1::text, $2::text)',
    sweepBatch: [
      `DELETE FROM ${t} WHERE session_id IN (`,
      `  SELECT cur.session_id FROM ${t} AS cur WHERE cur.expires_at <= now() AND NOT ${LIVE} LIMIT $1 FOR UPDATE SKIP LOCKED`,
      ')',
    ].join('\n'),
  });
}
