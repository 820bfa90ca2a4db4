import { OptionError } from '@reprise/core';
import { adapterError as coreAdapterError, unsentError as coreUnsentError, describeOptionValue } from '@reprise/core/adapter-kit';
import type { AdapterError } from '@reprise/core';

/** A short description of any value, for error messages (never the value of a long string). */
export const show = describeOptionValue;

/** An `ERR_REPRISE_OPTION` error of the constructor (of `what`: default the adapter). */
export function optionError(message: string, what = 'PostgresAdapter'): OptionError {
  return new OptionError(`${what}: ${message}`);
}

/**
 * An `ERR_REPRISE_ADAPTER` error, with the underlying failure (when there is one) as `cause`.
 * @param transient whether a later attempt may succeed; default `true` (`false` for configuration errors).
 */
export function adapterError(message: string, cause?: unknown, transient = true): AdapterError {
  return coreAdapterError('PostgresAdapter', message, cause, transient);
}

/** A transient `ERR_REPRISE_ADAPTER` error for a statement that was never sent (no connection could be had). */
export function unsentError(message: string, cause?: unknown): AdapterError {
  return coreUnsentError('PostgresAdapter', message, cause);
}

/** The SQLSTATE of a Postgres error (`'28P01'`), or `undefined` for any other failure. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * SQLSTATEs that say the configuration is wrong, not that the server is away: trying again later
 * gets the same answer, so these are `transient: false`, with what to check.
 */
const REFUSALS: Readonly<Record<string, string>> = Object.freeze({
  '28P01': 'Postgres refused the password (check the user and password of the connection)',
  '28000': 'Postgres refused the connection (check the user of the connection and pg_hba.conf)',
  '42501': "Postgres refused the statement: the connection's role lacks a privilege on the table (grant it, or create the table yourself)",
  '3D000': 'the database of the connection does not exist (check the connection string)',
});

/** Whether `error` is a refusal no retry can fix (see {@link REFUSALS}). */
export function isConfigurationError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && state in REFUSALS;
}

/** The message pg gives when a query passed its `query_timeout`. */
const QUERY_TIMEOUT = 'Query read timeout';

/** Whether `error` is pg's `query_timeout` expiring (the server did not answer in time). */
export function isQueryTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === QUERY_TIMEOUT;
}

/**
 * One line about a failure from pg or the network. A refused connection to a host name with
 * several addresses is an `AggregateError` with an empty message: its first inner error says more.
 * A Postgres error gets its SQLSTATE appended, like `(42P01)`.
 */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return show(error);
  let message = error.message;
  if (message === '' && error instanceof AggregateError && error.errors[0] instanceof Error) {
    message = error.errors[0].message;
  }
  if (message === '') message = error.name;
  const state = sqlState(error);
  return state === undefined ? message : `${message} (${state})`;
}

/**
 * The `ERR_REPRISE_ADAPTER` error of a failed call. `what` says what failed (`'load failed'`,
 * `'save: cannot prepare table "t"'`). A configuration refusal (authentication, privilege, unknown
 * database) is `transient: false` and says what to check; a query that passed `queryTimeout` says
 * so; anything else (connection refused or reset, a connect timeout, a server restart) is transient,
 * and `unsent` when the caller knows the statement was never sent (no connection was had).
 */
export function failure(what: string, error: unknown, queryTimeout: number, unsent = false): AdapterError {
  const state = sqlState(error);
  if (state !== undefined && state in REFUSALS) {
    return adapterError(`${what}: ${REFUSALS[state]}: ${describeFailure(error)}`, error, false);
  }
  if (isQueryTimeout(error)) {
    return adapterError(`${what}: Postgres did not answer within queryTimeout (${queryTimeout} ms); the connection was discarded`, error);
  }
  return unsent ? unsentError(`${what}: ${describeFailure(error)}`, error) : adapterError(`${what}: ${describeFailure(error)}`, error);
}
