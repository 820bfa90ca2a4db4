import type { Pool, PoolClient, QueryConfig } from 'pg';
import { RAW_TYPES } from './codec.js';
import { adapterError, isQueryTimeout } from './errors.js';
import type { TableName } from './identifiers.js';
import type { Statements } from './sql.js';

/** Columns the adapter reads and writes, with their types as `format_type` spells them. */
const EXPECTED_COLUMNS: Readonly<Record<string, string>> = Object.freeze({
  id: 'bytea',
  key: 'text',
  value: 'bytea',
  expires_at: 'timestamp with time zone',
  version: 'bigint',
});

/** A column as the catalog describes it. */
interface Column {
  readonly type: string;
  readonly notNull: boolean;
}

interface Inspection {
  readonly hasTable: boolean;
  readonly hasExpiryIndex: boolean;
  readonly hasUniqueId: boolean;
  readonly columns: Readonly<Record<string, Column>>;
}

/** A query config with pg's per-query `query_timeout` (which its types do not declare). */
export type TimedQuery = QueryConfig & { query_timeout: number };

async function inspect(pool: Pool, sql: Statements, queryTimeout: number): Promise<Inspection> {
  const result = await pool.query<Record<string, string | null>>({
    text: sql.inspect,
    values: [sql.table],
    types: RAW_TYPES,
    query_timeout: queryTimeout,
  } as TimedQuery);
  const row = result.rows[0]!;
  return {
    hasTable: row.has_table === 't',
    hasExpiryIndex: row.has_expiry_index === 't',
    hasUniqueId: row.has_unique_id === 't',
    columns: row.columns === null || row.columns === undefined ? {} : (JSON.parse(row.columns) as Record<string, Column>),
  };
}

/**
 * Creates the table and its expiry index, and upgrades a table of @reprise/postgres 0.1 when
 * `migrate` (see `migrateTableSql`), inside one transaction that first takes a
 * transaction-scoped advisory lock named after the table. `CREATE … IF NOT EXISTS` alone is not
 * safe when processes start together: each checks, then both insert the same catalog row, and the
 * loser fails with 23505 on pg_type or pg_class (measured: most of 150 concurrent attempts did).
 * Under the lock the first creates and the others find everything there. The lock ends with the
 * transaction, even when the connection dies, and works through transaction-mode poolers.
 */
async function createUnderLock(pool: Pool, sql: Statements, table: TableName, migrate: boolean, queryTimeout: number): Promise<void> {
  const client: PoolClient = await pool.connect();
  // While checked out, a client whose connection breaks between statements emits 'error';
  // without a listener that would crash the process.
  let broken: Error | undefined;
  const onClientError = (error: Error): void => {
    broken ??= error;
  };
  client.on('error', onClientError);
  const run = (text: string, values?: unknown[]): Promise<unknown> =>
    client.query({ text, values, query_timeout: queryTimeout } as TimedQuery).catch((error: unknown) => {
      // A connection that did not answer is in an unknown state: it is discarded, not rolled back.
      if (isQueryTimeout(error)) broken ??= error as Error;
      throw error;
    });
  try {
    await run('BEGIN');
    await run(sql.lock, [table.schema ?? null, table.name]);
    await run(sql.createTable);
    await run(sql.createIndex);
    if (migrate) for (const statement of sql.migrate) await run(statement);
    await run('COMMIT');
  } catch (error) {
    try {
      if (broken === undefined) await run('ROLLBACK');
    } catch (rollbackError) {
      broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.removeListener('error', onClientError);
    client.release(broken); // a broken connection is destroyed, not returned to the pool
  }
}

/**
 * Whether the table is one of @reprise/postgres 0.1, which `migrateTableSql` upgrades: no
 * `version` column, or a `value` that may not be NULL.
 */
function needsMigration(found: Inspection): boolean {
  return found.columns.version === undefined || found.columns.value?.notNull === true;
}

/**
 * Throws `ERR_REPRISE_ADAPTER` (`transient: false`: someone must change the table) unless the table
 * has the columns and the unique id the adapter needs. Before the upgrade (`upgraded` false), a
 * table of 0.1 passes: its missing `version` and `value NOT NULL` are what the upgrade changes.
 */
function checkLayout(found: Inspection, sql: Statements, upgraded: boolean): void {
  const problems: string[] = [];
  for (const [column, type] of Object.entries(EXPECTED_COLUMNS)) {
    const actual = found.columns[column];
    if (actual === undefined) {
      if (column !== 'version' || upgraded || problems.length > 0) problems.push(`column ${column} is missing`);
    } else if (actual.type !== type) problems.push(`column ${column} is ${actual.type}, expected ${type}`);
  }
  if (problems.length === 0 && !found.hasUniqueId) problems.push('id has no primary key or unique index');
  if (problems.length > 0) {
    throw adapterError(`table ${sql.table} does not have the layout of @reprise/postgres: ${problems.join('; ')}`, undefined, false);
  }
}

/**
 * Makes sure the table is ready: checks the layout of an existing table (before any DDL touches
 * it), creates the table and its expiry index when missing and upgrades a table of 0.1 (if
 * `createTable`), and checks again. Costs one catalog query when everything is in place, so it
 * needs no DDL privilege then. Every query waits at most `queryTimeout` ms for an answer. Rejects
 * with pg's error, or with `ERR_REPRISE_ADAPTER` when the table is missing (and may not be
 * created), needs the upgrade (and may not be changed), or has another layout.
 */
export async function ensureSchema(
  pool: Pool,
  sql: Statements,
  table: TableName,
  createTable: boolean,
  queryTimeout: number,
): Promise<void> {
  let found = await inspect(pool, sql, queryTimeout);
  if (found.hasTable) checkLayout(found, sql, false);
  const migrate = found.hasTable && needsMigration(found);
  if (createTable && !(found.hasTable && found.hasExpiryIndex && !migrate)) {
    await createUnderLock(pool, sql, table, migrate, queryTimeout);
    found = await inspect(pool, sql, queryTimeout);
  }
  if (!found.hasTable) {
    throw adapterError(
      `table ${sql.table} does not exist${createTable ? '' : ' (createTable is false: create it with the DDL in the README)'}`,
    );
  }
  if (needsMigration(found)) {
    throw adapterError(
      `table ${sql.table} was created by @reprise/postgres 0.1 and needs the upgrade in the README (createTable is false, so the adapter runs no DDL): ${sql.migrate.join(' ')}`,
      undefined,
      false,
    );
  }
  checkLayout(found, sql, true);
}
