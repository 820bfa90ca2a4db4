import { randomFillSync } from 'node:crypto';

/** Bytes of randomness in a session id: 144 bits, 24 base64url characters. */
const ID_BYTES = 18;
const ID_PATTERN = /^[A-Za-z0-9_-]{24}$/;
/** Ids drawn per refill of the random pool (one CSPRNG call serves this many ids). */
const IDS_PER_POOL = 256;

const pool = Buffer.allocUnsafe(ID_BYTES * IDS_PER_POOL);
let offset = pool.length;

/**
 * A new session id: 144 random bits from the CSPRNG, base64url (24 characters). The bytes come
 * from a pool refilled by one `randomFillSync` call per 256 ids (each call costs a system call), and
 * each byte is used once.
 */
export function newSessionId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}

/** Whether `value` is a well-formed session id (24 base64url characters). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
