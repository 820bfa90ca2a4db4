import type { Pool, PoolClient } from 'pg';
import { RAW_TYPES } from './codec.js';
import { adapterError } from './errors.js';
import type { TableName } from './identifiers.js';
import type { Statements } from './sql.js';

/** Columns the adapter reads and writes, with their types as `format_type` spells them. */
const EXPECTED_COLUMNS: Readonly<Record<string, string>> = Object.freeze({
  id: 'bytea',
  key: 'text',
  value: 'bytea',
  expires_at: 'timestamp with time zone',
});

interface Inspection {
  readonly hasTable: boolean;
  readonly hasExpiryIndex: boolean;
  readonly hasUniqueId: boolean;
  readonly columns: Readonly<Record<string, string>>;
}

async function inspect(pool: Pool, sql: Statements): Promise<Inspection> {
  const result = await pool.query<Record<string, string | null>>({
    text: sql.inspect,
    values: [sql.table],
    types: RAW_TYPES,
  });
  const row = result.rows[0]!;
  return {
    hasTable: row['has_table'] === 't',
    hasExpiryIndex: row['has_expiry_index'] === 't',
    hasUniqueId: row['has_unique_id'] === 't',
    columns: row['columns'] === null || row['columns'] === undefined ? {} : JSON.parse(row['columns']),
  };
}

/**
 * Creates the table and its expiry index inside one transaction that first takes a
 * transaction-scoped advisory lock named after the table. `CREATE … IF NOT EXISTS` alone is not
 * safe when processes start together: each checks, then both insert the same catalog row, and the
 * loser fails with 23505 on pg_type or pg_class (measured: most of 150 concurrent attempts did).
 * Under the lock the first creates and the others find everything there. The lock ends with the
 * transaction, even when the connection dies, and works through transaction-mode poolers.
 */
async function createUnderLock(pool: Pool, sql: Statements, table: TableName): Promise<void> {
  const client: PoolClient = await pool.connect();
  // While checked out, a client whose connection breaks between statements emits 'error';
  // without a listener that would crash the process.
  let broken: Error | undefined;
  const onClientError = (error: Error): void => {
    broken ??= error;
  };
  client.on('error', onClientError);
  try {
    await client.query('BEGIN');
    await client.query({ text: sql.lock, values: [table.schema ?? null, table.name] });
    await client.query(sql.createTable);
    await client.query(sql.createIndex);
    await client.query('COMMIT');
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.removeListener('error', onClientError);
    client.release(broken); // a broken connection is destroyed, not returned to the pool
  }
}

/** Throws `ERR_REPRISE_ADAPTER` unless the table has the columns and the unique id the adapter needs. */
function checkLayout(found: Inspection, sql: Statements): void {
  const problems: string[] = [];
  for (const [column, type] of Object.entries(EXPECTED_COLUMNS)) {
    const actual = found.columns[column];
    if (actual === undefined) problems.push(`column ${column} is missing`);
    else if (actual !== type) problems.push(`column ${column} is ${actual}, expected ${type}`);
  }
  if (problems.length === 0 && !found.hasUniqueId) problems.push('id has no primary key or unique index');
  if (problems.length > 0) {
    throw adapterError(`table ${sql.table} does not have the layout of @reprise/postgres: ${problems.join('; ')}`);
  }
}

/**
 * Makes sure the table is ready: checks the layout of an existing table (before any DDL touches
 * it), creates the table and its expiry index when missing (if `createTable`), and checks again.
 * Costs one catalog query when everything exists, so it needs no DDL privilege then. Rejects with
 * pg's error, or with `ERR_REPRISE_ADAPTER` when the table is missing (and may not be created) or
 * has another layout.
 */
export async function ensureSchema(pool: Pool, sql: Statements, table: TableName, createTable: boolean): Promise<void> {
  let found = await inspect(pool, sql);
  if (found.hasTable) checkLayout(found, sql);
  if (createTable && !(found.hasTable && found.hasExpiryIndex)) {
    await createUnderLock(pool, sql, table);
    found = await inspect(pool, sql);
  }
  if (!found.hasTable) {
    throw adapterError(
      `table ${sql.table} does not exist${createTable ? '' : ' (createTable is false: create it with the DDL in the README)'}`,
    );
  }
  checkLayout(found, sql);
}
