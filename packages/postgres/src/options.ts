import type { Pool } from 'pg';
import type { RepriseError } from '@reprise/core';
import { MAX_TIMER_DELAY } from '@reprise/core/adapter-kit';
import { optionError, show } from './errors.js';
import { parseTableName } from './identifiers.js';
import type { TableName } from './identifiers.js';

/**
 * Where the adapter's connections come from: a connection string (the adapter creates, owns and
 * ends its own `pg.Pool`) or a `pg.Pool` you own (the adapter never ends it).
 */
export type PostgresConnection = { readonly connectionString: string } | { readonly pool: Pool };

/** Options of {@link PostgresAdapter}. Every option is optional; `undefined` means the default. */
export interface PostgresAdapterOptions {
  /**
   * The table, `'name'` or `'schema.name'`. Each part is used exactly as written (quoted: case and
   * any characters other than NUL are kept, so `'Sessions'` is not `sessions`) and must be 1 to 63
   * bytes in UTF-8. Without a schema, Postgres's `search_path` decides. Default `'reprise_snapshots'`.
   */
  table?: string | undefined;
  /**
   * Whether the first call creates the table and its expiry index when they are missing (under a
   * transaction-scoped advisory lock, so processes starting at once are safe). With `false` the
   * adapter runs no DDL and the table must exist (create it with the DDL in the README). Default `true`.
   */
  createTable?: boolean | undefined;
  /**
   * Mean ms between sweeps of expired rows, or `false` for no sweep timer (then call `sweep()`
   * yourself, or let rows be deleted as they are read). Each delay is drawn between 50% and 150% of
   * this, so processes sharing a table do not sweep together. The timer is unref'd. Default 5 min.
   */
  sweepInterval?: number | false | undefined;
  /** Rows deleted per statement of a sweep (a sweep repeats until a statement deletes fewer). Default 1000. */
  sweepBatchSize?: number | undefined;
  /**
   * ms to wait for a new connection of the adapter's own pool (`connectionTimeoutMillis`), so an
   * unreachable server is a rejection, never a hang. Only with `{ connectionString }`: give your own
   * pool a `connectionTimeoutMillis` instead. Default 5000.
   */
  connectTimeout?: number | undefined;
  /**
   * ms one statement may wait for the server's answer before its call rejects with a transient
   * `ERR_REPRISE_ADAPTER` (pg's `query_timeout`, given with every query, so it holds on your pool
   * too): the bound for a server that stops answering on an open connection. The connection it
   * waited on is then discarded. The statement may still have run on the server. Positive number
   * of ms up to 2^31 - 1; default 5000.
   */
  queryTimeout?: number | undefined;
  /**
   * Called with failures that no call can reject with: a background sweep that failed, or (own pool
   * only) an idle connection that broke. Each is a `RepriseError` with code `ERR_REPRISE_ADAPTER`
   * and the original error as `cause`. Default: `process.emitWarning` with code `'REPRISE_POSTGRES'`.
   */
  onError?: ((error: RepriseError) => void) | undefined;
}

/** Code of the process warning the default `onError` emits. */
export const WARNING_CODE = 'REPRISE_POSTGRES';

function warn(error: RepriseError): void {
  process.emitWarning(error.message, { code: WARNING_CODE });
}

/** Normalized options, frozen once per adapter. */
export interface ResolvedOptions {
  readonly table: TableName;
  readonly createTable: boolean;
  readonly sweepInterval: number | false;
  readonly sweepBatchSize: number;
  readonly connectTimeout: number;
  readonly queryTimeout: number;
  readonly onError: (error: RepriseError) => void;
}

/** The defaults, as documented. */
export const DEFAULTS = Object.freeze({
  table: 'reprise_snapshots',
  createTable: true,
  sweepInterval: 5 * 60e3,
  sweepBatchSize: 1000,
  connectTimeout: 5000,
  queryTimeout: 5000,
  onError: warn,
} as const satisfies Required<PostgresAdapterOptions>);

const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULTS));

/** The validated connection: a string for an own pool, or the caller's pool. */
export type ResolvedConnection =
  | { readonly kind: 'own'; readonly connectionString: string }
  | { readonly kind: 'caller'; readonly pool: Pool };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validates the first constructor argument. */
export function resolveConnection(connection: unknown): ResolvedConnection {
  if (!isPlainObject(connection)) {
    throw optionError(`the first argument must be { connectionString } or { pool }, got ${show(connection)}`);
  }
  const names = Object.keys(connection);
  const hasString = names.includes('connectionString');
  const hasPool = names.includes('pool');
  if (hasString === hasPool) {
    throw optionError('the first argument must have exactly one of connectionString and pool');
  }
  for (const name of names) {
    if (name !== 'connectionString' && name !== 'pool') {
      throw optionError(
        `unknown connection setting ${JSON.stringify(name)} (for other pg settings, pass your own { pool })`,
      );
    }
  }
  if (hasString) {
    const { connectionString } = connection;
    if (typeof connectionString !== 'string' || connectionString.length === 0) {
      throw optionError(`connectionString must be a non-empty string, got ${show(connectionString)}`);
    }
    return Object.freeze({ kind: 'own', connectionString });
  }
  const { pool } = connection;
  const candidate = pool as { query?: unknown; connect?: unknown } | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.query !== 'function' ||
    typeof candidate.connect !== 'function'
  ) {
    throw optionError(`pool must be a pg.Pool, got ${show(pool)}`);
  }
  return Object.freeze({ kind: 'caller', pool: pool as Pool });
}

function isPositiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** Validates the options against the connection; throws `ERR_REPRISE_OPTION`. */
export function resolveOptions(options: unknown, connection: ResolvedConnection): ResolvedOptions {
  if (options !== undefined && !isPlainObject(options)) {
    throw optionError(`options must be an object, got ${show(options)}`);
  }
  const given: Record<string, unknown> = options ?? {};
  for (const name of Object.keys(given)) {
    if (!OPTION_NAMES.has(name)) throw optionError(`unknown option ${JSON.stringify(name)}`);
  }
  const {
    table = DEFAULTS.table,
    createTable = DEFAULTS.createTable,
    sweepInterval = DEFAULTS.sweepInterval,
    sweepBatchSize = DEFAULTS.sweepBatchSize,
    connectTimeout,
    queryTimeout = DEFAULTS.queryTimeout,
    onError = DEFAULTS.onError,
  } = given;
  if (typeof table !== 'string') throw optionError(`table must be a string, got ${show(table)}`);
  if (typeof createTable !== 'boolean') throw optionError(`createTable must be a boolean, got ${show(createTable)}`);
  if (sweepInterval !== false && !isPositiveNumber(sweepInterval)) {
    throw optionError(`sweepInterval must be a positive number of ms or false, got ${show(sweepInterval)}`);
  }
  if (typeof sweepBatchSize !== 'number' || !Number.isSafeInteger(sweepBatchSize) || sweepBatchSize < 1) {
    throw optionError(`sweepBatchSize must be a positive integer, got ${show(sweepBatchSize)}`);
  }
  if (connectTimeout !== undefined) {
    if (connection.kind === 'caller') {
      throw optionError('connectTimeout applies to the adapter\'s own pool only: set connectionTimeoutMillis on your pool');
    }
    if (!isPositiveNumber(connectTimeout)) {
      throw optionError(`connectTimeout must be a positive number of ms, got ${show(connectTimeout)}`);
    }
  }
  if (!isPositiveNumber(queryTimeout) || queryTimeout > MAX_TIMER_DELAY) {
    throw optionError(`queryTimeout must be a positive number of ms up to ${MAX_TIMER_DELAY}, got ${show(queryTimeout)}`);
  }
  if (typeof onError !== 'function') throw optionError(`onError must be a function, got ${show(onError)}`);
  return Object.freeze({
    table: parseTableName(table),
    createTable,
    sweepInterval,
    sweepBatchSize,
    connectTimeout: connectTimeout ?? DEFAULTS.connectTimeout,
    queryTimeout,
    onError: onError as (error: RepriseError) => void,
  });
}
