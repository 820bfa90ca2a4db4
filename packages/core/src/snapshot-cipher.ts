/**
 * Encryption of records at rest (`snapshotKeys`): the one place where a record (snapshot, checkpoint
 * or pointer, as the codec wrote it) is sealed before it reaches the adapter and opened after it
 * comes back. Format (see `docs/encryption.md`):
 *
 *     E1.<key id>.<base64url(iv)>.<base64url(ciphertext ‖ tag)>
 *
 * AES-256-GCM, a random 96-bit IV per record (from the CSPRNG, drawn 256 at a time into a pool whose
 * bytes are each used once), a 128-bit tag; the plaintext is the codec's text
 * (`R2:…`) in UTF-8; the additional authenticated data is the UTF-8 of `E1.<key id>.<store key>`,
 * where the store key is the key the record is stored under (a `persistKey` or a session id, as the
 * core names it, without an adapter's prefix). So a record opens only under the key it was written
 * for, with the key id it names: one altered in the store, or copied or moved to another key, is
 * refused. A plaintext record starts with `R<digits>:` and a sealed one with `E<digits>.`: the two
 * can never be mistaken for each other.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CodecError } from './errors.js';
import { KEY_ID_PATTERN, normalizeSnapshotKeys, type SnapshotKeyring, type SnapshotEncryption, type SnapshotKey } from './snapshot-keys.js';

/** The marker of a sealed record of format 1. */
export const SEALED_PREFIX = 'E1.';
/** Any sealed record's marker (`E`, a format version, `.`), this format or a later one. */
const SEALED_PATTERN = /^E(\d+)\./;
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** IVs drawn per refill of the random pool (one CSPRNG call, a system call, serves this many records). */
const IVS_PER_POOL = 256;

const ivPool = Buffer.allocUnsafe(IV_BYTES * IVS_PER_POOL);
let ivOffset = ivPool.length;

/** A fresh random IV: 12 bytes from the CSPRNG, each byte of the pool used once. */
function nextIv(): Buffer {
  if (ivOffset === ivPool.length) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/**
 * Seals the record `text` for the store key `storeKey` with the keyring's current key.
 * @returns `E1.<key id>.<iv>.<ciphertext and tag>`; about 4/3 of `text`'s UTF-8 length plus 60 characters.
 */
export function sealRecord(text: string, storeKey: string, keyring: SnapshotKeyring): string {
  const iv = nextIv();
  const cipher = createCipheriv(ALGORITHM, keyring.current, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(keyring.currentId, storeKey));
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_PREFIX}${keyring.currentId}.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/**
 * Opens a value read from the store under `storeKey`: the record's text, for the codec.
 * A plaintext value is returned as it is when `encryption.acceptPlaintext`, else refused.
 * @throws CodecError `ERR_REPRISE_SNAPSHOT_AUTH` (path `''`) when the value is refused: a plaintext
 *   one not accepted, a sealed one of an unknown format, malformed, naming a key id the keyring
 *   does not hold, or that does not authenticate (altered, or sealed for another store key).
 */
export function openRecord(value: string, storeKey: string, encryption: SnapshotEncryption): string {
  if (!SEALED_PATTERN.test(value)) {
    if (encryption.acceptPlaintext) return value;
    throw refused(
      'a plaintext record, and snapshotKeys is set (acceptPlaintextSnapshots is off: anyone who can write to the store could have written it)',
    );
  }
  return openSealed(value, storeKey, encryption.keyring);
}

/**
 * Opens a record as an adapter stores it, for tools (an inspector) that hold the application's keys:
 * returns the codec's text, which `decodeRecord` reads. A value that is not sealed (a plaintext
 * record, written without keys) is returned as it is; {@link sealedKeyId} tells them apart.
 * The keys are validated at each call, as the `snapshotKeys` option is.
 *
 * @param value the value the adapter holds.
 * @param key the key it is stored under, as the core names it: the `persistKey` or session id,
 *   without an adapter's prefix (a `RedisAdapter`'s `'reprise:'`).
 * @param keys the application's `snapshotKeys` (`[{ id, key }, ...]`; any order opens).
 * @throws OptionError when `keys` is not a valid `snapshotKeys` value.
 * @throws CodecError `ERR_REPRISE_SNAPSHOT_AUTH` when a sealed value does not open (see {@link openRecord}).
 */
export function openSealedRecord(value: string, key: string, keys: readonly SnapshotKey[]): string {
  const keyring = normalizeSnapshotKeys(keys, 'keys');
  if (keyring === undefined) throw new TypeError('openSealedRecord: keys are required');
  return openRecord(value, key, { keyring, acceptPlaintext: true });
}

/**
 * The key id a sealed record names (not verified: only opening it proves it), or `undefined` when
 * `value` is not a sealed record. For tools: which key a stored value needs.
 */
export function sealedKeyId(value: string): string | undefined {
  if (!value.startsWith(SEALED_PREFIX)) return undefined;
  const end = value.indexOf('.', SEALED_PREFIX.length);
  const id = end === -1 ? '' : value.slice(SEALED_PREFIX.length, end);
  return KEY_ID_PATTERN.test(id) ? id : undefined;
}

/** Why the codec cannot read a sealed record without keys; `undefined` when `text` is not sealed. */
export function sealedWithoutKeys(text: string): CodecError | undefined {
  const format = SEALED_PATTERN.exec(text);
  if (format === null) return undefined;
  const id = sealedKeyId(text);
  const named = id === undefined ? '' : ` with key id ${JSON.stringify(id)}`;
  return refused(`an encrypted record (format E${format[1]}${named}), and no snapshotKeys are set to decrypt it`);
}

function openSealed(value: string, storeKey: string, keyring: SnapshotKeyring): string {
  if (!value.startsWith(SEALED_PREFIX)) throw refused(`an encrypted record of an unknown format (E${SEALED_PATTERN.exec(value)?.[1]})`);
  const idEnd = value.indexOf('.', SEALED_PREFIX.length);
  const ivEnd = idEnd === -1 ? -1 : value.indexOf('.', idEnd + 1);
  if (ivEnd === -1) throw refused('a malformed encrypted record (it lacks a field)');
  const id = value.slice(SEALED_PREFIX.length, idEnd);
  if (!KEY_ID_PATTERN.test(id)) throw refused('a malformed encrypted record (its key id is not one)');
  const iv = base64url(value.slice(idEnd + 1, ivEnd));
  const body = base64url(value.slice(ivEnd + 1));
  if (iv?.length !== IV_BYTES || body === undefined || body.length < TAG_BYTES) {
    throw refused('a malformed encrypted record (its IV or ciphertext is not canonical base64url of the right length)');
  }
  const key = keyring.get(id);
  if (key === undefined) {
    throw refused(
      `an encrypted record sealed with key id ${JSON.stringify(id)}, which snapshotKeys does not hold (it holds ${keyring.ids.map((known) => JSON.stringify(known)).join(', ')})`,
    );
  }
  return decrypt(key, id, iv, body, storeKey);
}

function decrypt(key: Buffer, id: string, iv: Buffer, body: Buffer, storeKey: string): string {
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(id, storeKey));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw refused(
      `an encrypted record that does not authenticate under key id ${JSON.stringify(id)} for this key (altered in the store, or written under another key)`,
      cause,
    );
  }
}

/** The additional authenticated data: the format, the key id and the store key. */
function additionalData(id: string, storeKey: string): Buffer {
  return Buffer.from(`${SEALED_PREFIX}${id}.${storeKey}`, 'utf8');
}

/** The bytes of canonical base64url text (no padding, no stray characters or bits), else `undefined`. */
function base64url(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function refused(what: string, cause?: unknown): CodecError {
  const message = `Refused snapshot: ${what}`;
  return cause === undefined
    ? new CodecError('ERR_REPRISE_SNAPSHOT_AUTH', '', message)
    : new CodecError('ERR_REPRISE_SNAPSHOT_AUTH', '', message, { cause });
}
