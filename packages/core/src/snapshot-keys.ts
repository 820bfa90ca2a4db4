import { timingSafeEqual } from 'node:crypto';
import { types } from 'node:util';
import { OptionError } from './errors.js';
import { assertKnownOptions, describeOptionValue } from './option-schema.js';

/**
 * One key of the `snapshotKeys` option (encryption of snapshots at rest, see `docs/encryption.md`).
 * Never log it: it is a secret.
 */
export interface SnapshotKey {
  /**
   * Names the key in every record it seals, so that a record says which key opens it: 1 to 32
   * characters of `A-Z a-z 0-9 _ -`, for example `'2026-01'`. Not secret. Never give an id to other
   * key material once records were sealed under it.
   */
  readonly id: string;
  /**
   * 32 random bytes (AES-256): a `Buffer` or `Uint8Array` of length 32, or those bytes in base64 or
   * base64url (43 characters, or 44 with the `=`; for example from `openssl rand -base64 32`; ASCII
   * whitespace around it is ignored). Not a password: nothing stretches a short secret.
   */
  readonly key: Uint8Array | string;
}

/** Characters of a key id: they never include the `.` that separates the fields of a sealed record. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Bytes of an AES-256 key. */
export const KEY_BYTES = 32;

const KEY_FIELDS: ReadonlySet<string> = new Set(['id', 'key']);
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_KEY = /^[A-Za-z0-9_-]{43}=?$/;

/**
 * The normalized `snapshotKeys`: the key that seals new records (the first) and every key that
 * opens records, by id. The key bytes are copies (changing the caller's buffers later changes
 * nothing here) held in private fields, which `util.inspect` and `JSON.stringify` never show.
 */
export class SnapshotKeyring {
  /** The id of the key that seals: the first of `snapshotKeys`. */
  readonly currentId: string;
  readonly #current: Buffer;
  readonly #byId: ReadonlyMap<string, Buffer>;

  /** @param keys 32-byte keys by id, the sealing one first (not copied: the caller gives fresh ones). */
  constructor(keys: ReadonlyMap<string, Buffer>) {
    const first = keys.entries().next();
    if (first.done === true) throw new OptionError('snapshotKeys must hold at least one key');
    [this.currentId, this.#current] = first.value;
    this.#byId = keys;
  }

  /** The key that seals. */
  get current(): Buffer {
    return this.#current;
  }

  /** The key named `id`, or `undefined`. */
  get(id: string): Buffer | undefined {
    return this.#byId.get(id);
  }

  /** The ids of every key, the current one first. */
  get ids(): string[] {
    return [...this.#byId.keys()];
  }
}

/**
 * Validates and normalizes `snapshotKeys`: `undefined` (encryption off) or an array of
 * {@link SnapshotKey} (the first seals, all open). Refused with an {@link OptionError} whose message
 * never shows key material: not an array, empty, an entry that is not `{ id, key }` (or has other
 * fields), an id outside {@link KEY_ID_PATTERN}, an id twice, a key that is not 32 bytes (or base64
 * of 32 bytes), a key of all zero bytes, the same key under two ids.
 * @param name the option's name in messages.
 */
export function normalizeSnapshotKeys(value: unknown, name = 'snapshotKeys'): SnapshotKeyring | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    const hint = typeof value === 'object' && value !== null ? ' (one key goes in an array too: [{ id, key }])' : '';
    throw new OptionError(
      `${name} must be an array of { id, key } (the first encrypts, all decrypt), got ${describeOptionValue(value)}${hint}`,
    );
  }
  if (value.length === 0) throw new OptionError(`${name} must hold at least one key (leave ${name} out to store snapshots in plaintext)`);
  const keys = new Map<string, Buffer>();
  value.forEach((entry: unknown, index) => {
    const where = `${name}[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new OptionError(`${where} must be an object { id, key }, got ${describeOptionValue(entry)}`);
    }
    assertKnownOptions(entry, KEY_FIELDS, `${where}.`);
    const { id, key } = entry as { id?: unknown; key?: unknown };
    if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) {
      throw new OptionError(`${where}.id must be 1 to 32 characters of A-Z, a-z, 0-9, _ and -, got ${describeOptionValue(id)}`);
    }
    if (keys.has(id)) throw new OptionError(`${where}.id ${JSON.stringify(id)} is the id of an earlier key too: each key needs its own id`);
    const bytes = keyBytes(`${where}.key`, key);
    const same = [...keys.values()].findIndex((other) => timingSafeEqual(other, bytes));
    if (same !== -1) {
      throw new OptionError(`${where}.key is the same key as ${name}[${same}]: a new key needs new random bytes (randomBytes(32))`);
    }
    keys.set(id, bytes);
  });
  return new SnapshotKeyring(keys);
}

/** The 32 bytes of a key (a fresh copy), or an {@link OptionError} that does not show the value. */
function keyBytes(where: string, key: unknown): Buffer {
  let bytes: Buffer;
  if (typeof key === 'string') {
    bytes = base64Key(where, key.trim());
  } else if (types.isUint8Array(key)) {
    if (key.byteLength !== KEY_BYTES) throw new OptionError(`${where} must be ${KEY_BYTES} bytes, got ${key.byteLength} bytes`);
    bytes = Buffer.from(key);
  } else {
    throw new OptionError(
      `${where} must be ${KEY_BYTES} bytes: a Buffer or Uint8Array, or a base64 string of them, got ${describeKind(key)}`,
    );
  }
  if (bytes.every((byte) => byte === 0)) throw new OptionError(`${where} is all zero bytes: use random bytes (randomBytes(32))`);
  return bytes;
}

/** Decodes a base64 or base64url key of exactly 32 bytes, canonical (no stray characters or bits). */
function base64Key(where: string, text: string): Buffer {
  const alphabet = BASE64_KEY.test(text) ? 'base64' : BASE64URL_KEY.test(text) ? 'base64url' : undefined;
  const bytes = alphabet === undefined ? undefined : Buffer.from(text, alphabet);
  if (bytes === undefined || bytes.length !== KEY_BYTES || bytes.toString(alphabet).replace(/=+$/, '') !== text.replace(/=+$/, '')) {
    throw new OptionError(
      `${where} must be ${KEY_BYTES} bytes; as a string, their base64 or base64url (43 or 44 characters, for example from \`openssl rand -base64 32\`), got a string of ${text.length} characters that is not`,
    );
  }
  return bytes;
}

/** What a key option holds, without its value. */
function describeKind(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** The normalized encryption settings of a manager: the keys and the plaintext policy. */
export interface SnapshotEncryption {
  readonly keyring: SnapshotKeyring;
  /** Whether a plaintext record found in the store is read (`acceptPlaintextSnapshots`). */
  readonly acceptPlaintext: boolean;
}

/**
 * The encryption settings of the manager options `snapshotKeys` and `acceptPlaintextSnapshots`
 * (`undefined` without keys: snapshots are stored in plaintext, at no cost). Validated once, at
 * construction.
 */
export function normalizeSnapshotEncryption(options: {
  snapshotKeys?: unknown;
  acceptPlaintextSnapshots?: unknown;
}): SnapshotEncryption | undefined {
  const accept = options.acceptPlaintextSnapshots;
  if (accept !== undefined && typeof accept !== 'boolean') {
    throw new OptionError(`acceptPlaintextSnapshots must be a boolean, got ${describeOptionValue(accept)}`);
  }
  const keyring = normalizeSnapshotKeys(options.snapshotKeys);
  return keyring === undefined ? undefined : Object.freeze({ keyring, acceptPlaintext: accept === true });
}
