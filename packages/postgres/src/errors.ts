import { OptionError, RepriseError, describeOptionValue } from '@reprise/core';

/** A short description of any value, for error messages (never the value of a long string). */
export const show = describeOptionValue;

/** An `ERR_REPRISE_OPTION` error of the constructor. */
export function optionError(message: string): OptionError {
  return new OptionError(`PostgresAdapter: ${message}`);
}

/** An `ERR_REPRISE_ADAPTER` error, with the underlying failure (when there is one) as `cause`. */
export function adapterError(message: string, cause?: unknown): RepriseError {
  return new RepriseError(
    'ERR_REPRISE_ADAPTER',
    `PostgresAdapter: ${message}`,
    cause === undefined ? undefined : { cause },
  );
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
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `${message} (${code})` : message;
}
