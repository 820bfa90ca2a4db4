import type { AdapterError } from '@reprise/core';
import { adapterError, unsentError } from './arguments.js';

/**
 * Replies that say the configuration is wrong, not that Redis is away: no or wrong credentials
 * (`NOAUTH`, `WRONGPASS`, `AUTH` without a password set), an ACL user without the permission
 * (`NOPERM`), a database number the server does not have, a command the server does not offer
 * (renamed or disabled scripting). Trying again later gives the same answer.
 */
const CONFIGURATION_REPLY =
  /^(NOAUTH|WRONGPASS|NOPERM)\b|^ERR (AUTH\b|Client sent AUTH|invalid password|DB index is out of range|unknown command)/i;

/** The message of `error` (or of the first error in its `cause` chain that has one). */
function messageOf(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current.message !== '') return current.message;
  }
  return typeof error === 'string' ? error : '';
}

/** Whether `error` is a refusal no retry can fix (see {@link CONFIGURATION_REPLY}). */
export function isConfigurationError(error: unknown): boolean {
  return CONFIGURATION_REPLY.test(messageOf(error));
}

/**
 * `ERR_REPRISE_ADAPTER` for a failed `operation`: `transient: false` with "Redis refused …" for a
 * configuration error, else transient (a connection failure, a timeout, an error reply).
 */
export function operationError(operation: string, error: unknown): AdapterError {
  const message = messageOf(error) || String(error);
  if (isConfigurationError(error))
    return adapterError(
      `${operation} failed: Redis refused it (check the URL's credentials, the ACL user's permissions and the database): ${message}`,
      error,
      false,
    );
  if (isNotSent(error)) return unsentError(`${operation} failed: ${message}`, error);
  return adapterError(`${operation} failed: ${message}`, error);
}

/**
 * Whether node-redis refused the command before sending it: the client is offline (the adapter
 * disables the offline queue, so a command rejects at once while disconnected) or closed.
 */
export function isNotSent(error: unknown): boolean {
  const name = error instanceof Error ? error.constructor.name : '';
  return name === 'ClientOfflineError' || name === 'ClientClosedError' || /^The client is (offline|closed)$/.test(messageOf(error));
}

/**
 * `ERR_REPRISE_ADAPTER` for a connection that cannot be used, raised before any command is sent:
 * refused credentials (not transient) or unreachable (transient, unsent).
 */
export function connectionError(cause: unknown): AdapterError {
  const message = messageOf(cause) || 'not connected';
  if (isConfigurationError(cause))
    return adapterError(`Redis refused the connection (check the URL's credentials and database): ${message}`, cause, false);
  return unsentError(`Redis is unreachable (${message})`, cause ?? undefined);
}

/**
 * `ERR_REPRISE_ADAPTER` for a batch (a pipeline) some of whose commands failed, classified like a
 * single call's failure by the most telling error: one from a command that reached Redis, when any
 * did (a socket lost mid-pipeline, an error reply, a refused permission: not `unsent`). The batch is
 * `unsent` only when every command failed without being sent; when some entries ran and only the
 * others were never sent, it is not `unsent` either (part of the batch may have been stored).
 * @param reasons the errors of the failed commands, in order (at least one).
 * @param allFailed whether every command of the batch failed.
 */
export function batchError(operation: string, reasons: readonly unknown[], allFailed: boolean): AdapterError {
  const reason = reasons.find((error) => !isNotSent(error)) ?? reasons[0];
  const error = operationError(operation, reason);
  if (!error.unsent || allFailed) return error;
  return adapterError(
    `${operation} failed: ${messageOf(reason) || String(reason)} (other entries of the batch reached Redis and may have been stored)`,
    reason,
  );
}
