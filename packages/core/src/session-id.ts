import { randomBytes } from 'node:crypto';

/** Bytes of randomness in a session id: 144 bits, 24 base64url characters. */
const ID_BYTES = 18;
const ID_PATTERN = /^[A-Za-z0-9_-]{24}$/;

/** A new session id: 144 random bits from the CSPRNG, base64url (24 characters). */
export function newSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/** Whether `value` is a well-formed session id (24 base64url characters). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
