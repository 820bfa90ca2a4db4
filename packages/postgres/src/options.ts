import type { Pool } from 'pg';
import type { RepriseError } from '@reprise/core';
import {
  MAX_TIMER_DELAY,
  TIMER_LIMIT_REASON,
  anyStringField,
  booleanField,
  customField,
  functionField,
  msField,
  msOrOffField,
  notInThisForm,
  optionsSchema,
  parseOptions,
  positiveIntegerField,
  stringField,
  timerMsField,
  type ParsedOptions,
} from '@reprise/core/adapter-kit';
import { MAX_TTL_MS } from './arguments.js';
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
   * pool a `connectionTimeoutMillis` instead. At most 2^31 - 1; default 5000.
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

/**
 * Where a `PostgresCoordinator` keeps its leases, and how long tokens are remembered. Its connection
 * (the first argument) is a {@link PostgresConnection}, as the adapter's.
 */
export interface PostgresCoordinatorOptions {
  /**
   * The lease table, `'name'` or `'schema.name'`, quoted exactly as the adapter's `table` (each part
   * 1 to 63 bytes of UTF-8). Created with its index on first use when missing. Default
   * `'reprise_leases'` (not the adapter's table: the layouts differ).
   */
  table?: string | undefined;
  /**
   * ms a session's row, and with it its last fencing token, outlives the end of its last lease
   * (default 30 days: past the snapshots' life). A positive integer of ms up to `MAX_TTL_MS`
   * (about 10,000 years). Give every instance the same value.
   */
  tokenRetention?: number | undefined;
  /**
   * ms between health checks of the `LISTEN` connection (a `SELECT 1` on it; one that fails or gets
   * no answer within 5 s makes the coordinator open a new one), or `false` for none. A stalled
   * connection (a partition, a half-open TCP connection) drops hand-over requests silently until
   * then. Default 10,000; a positive integer of ms up to 2^31 − 1.
   */
  listenCheckInterval?: number | false | undefined;
}

/** Code of the process warning the default `onError` emits. */
export const WARNING_CODE = 'REPRISE_POSTGRES';

function warn(error: RepriseError): void {
  process.emitWarning(error.message, { code: WARNING_CODE });
}

/** The defaults, as documented (ms for durations). Frozen. */
export const DEFAULTS = Object.freeze({
  table: 'reprise_snapshots',
  createTable: true,
  sweepInterval: 5 * 60e3,
  sweepBatchSize: 1000,
  connectTimeout: 5000,
  queryTimeout: 5000,
  onError: warn,
});

/** Defaults of {@link PostgresCoordinatorOptions}: table `'reprise_leases'`, tokenRetention 30 days, listenCheckInterval 10 s (in ms). Frozen. */
export const COORDINATOR_DEFAULTS = Object.freeze({
  table: 'reprise_leases',
  tokenRetention: 30 * 24 * 3_600_000,
  listenCheckInterval: 10_000 as number | false,
});

/** The fields of the adapter's options; `connectTimeout` as given (its form decides). */
const ADAPTER_FIELDS = {
  table: anyStringField,
  createTable: booleanField,
  sweepInterval: msOrOffField(false),
  sweepBatchSize: positiveIntegerField,
  connectTimeout: timerMsField,
  queryTimeout: timerMsField,
  onError: functionField<(error: RepriseError) => void>(),
};

/** With `{ connectionString }`: the adapter's own pool. */
const OWN_POOL_OPTIONS = optionsSchema<PostgresAdapterOptions>()(ADAPTER_FIELDS, DEFAULTS);

/** With `{ pool }`: the caller's pool, whose connection timeout is the caller's. */
const CALLER_POOL_OPTIONS = optionsSchema<Omit<PostgresAdapterOptions, 'connectTimeout'> & { connectTimeout?: undefined }>()(
  { ...ADAPTER_FIELDS, connectTimeout: notInThisForm("applies to the adapter's own pool only: set connectionTimeoutMillis on your pool") },
  { ...DEFAULTS, connectTimeout: undefined },
);

/** Normalized options, frozen once per adapter. */
export type ResolvedOptions = Readonly<Omit<ParsedOptions<typeof OWN_POOL_OPTIONS>, 'table'> & { table: TableName }>;

/** The validated connection: a string for an own pool, or the caller's pool. */
export type ResolvedConnection =
  | { readonly kind: 'own'; readonly connectionString: string }
  | { readonly kind: 'caller'; readonly pool: Pool };

const poolField = customField<Pool>(
  (value) =>
    typeof (value as { query?: unknown } | null)?.query === 'function' && typeof (value as { connect?: unknown }).connect === 'function',
  (value) => `must be a pg.Pool, got ${show(value)}`,
);

const CONNECTION_CONTEXT = { name: 'the first argument', hint: 'for other pg settings, pass your own { pool }' } as const;
// A connection string is never echoed: only an empty one or a non-string fails.
const OWN_CONNECTION = optionsSchema<Extract<PostgresConnection, { connectionString: string }>>()(
  { connectionString: stringField({ nonEmpty: true }) },
  {},
);
const CALLER_CONNECTION = optionsSchema<Extract<PostgresConnection, { pool: Pool }>>()({ pool: poolField }, {});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validates the first constructor argument (`what` names the class in messages). */
export function resolveConnection(connection: unknown, what = 'PostgresAdapter'): ResolvedConnection {
  if (!isPlainObject(connection)) {
    throw optionError(`the first argument must be { connectionString } or { pool }, got ${show(connection)}`, what);
  }
  const hasString = Object.hasOwn(connection, 'connectionString');
  if (hasString === Object.hasOwn(connection, 'pool')) {
    throw optionError('the first argument must have exactly one of connectionString and pool', what);
  }
  if (hasString)
    return Object.freeze({
      kind: 'own',
      connectionString: parseOptions(OWN_CONNECTION, connection, { ...CONNECTION_CONTEXT, what }).connectionString,
    });
  return Object.freeze({ kind: 'caller', pool: parseOptions(CALLER_CONNECTION, connection, { ...CONNECTION_CONTEXT, what }).pool });
}

/** Validates the options against the connection; throws `ERR_REPRISE_OPTION`. */
export function resolveOptions(options: unknown, connection: ResolvedConnection): ResolvedOptions {
  const given = options === undefined ? {} : options;
  const context = { what: 'PostgresAdapter' };
  const parsed =
    connection.kind === 'own' ? parseOptions(OWN_POOL_OPTIONS, given, context) : parseOptions(CALLER_POOL_OPTIONS, given, context);
  return Object.freeze({
    ...parsed,
    table: parseTableName(parsed.table),
    connectTimeout: parsed.connectTimeout ?? DEFAULTS.connectTimeout,
  });
}

const COORDINATOR_OPTIONS = optionsSchema<PostgresCoordinatorOptions>()(
  {
    table: anyStringField,
    tokenRetention: msField({ integer: true, max: MAX_TTL_MS, limit: 'MAX_TTL_MS, about 10,000 years' }),
    listenCheckInterval: msOrOffField(false, { integer: true, max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON }),
  },
  COORDINATOR_DEFAULTS,
);

/** Validates the options of `new PostgresCoordinator(connection, options)` (`undefined`: every default). */
export function resolveCoordinatorOptions(options: unknown): Readonly<ParsedOptions<typeof COORDINATOR_OPTIONS>> {
  return Object.freeze(parseOptions(COORDINATOR_OPTIONS, options === undefined ? {} : options, { what: 'PostgresCoordinator' }));
}
