import { isSessionId } from './session-id.js';

/**
 * A session id is a credential: reports, warnings and logs name a session by the first 6 characters
 * of its id followed by an ellipsis (36 of its 144 bits), enough to tell sessions apart in a log and
 * never enough to present as a cookie.
 */
export function redactId(id: string): string {
  return id.length <= 6 ? '…' : `${id.slice(0, 6)}…`;
}

/** An adapter key for a message: a session id redacted, any other key JSON-quoted. */
export function describeKey(key: string): string {
  return isSessionId(key) ? redactId(key) : JSON.stringify(key);
}
