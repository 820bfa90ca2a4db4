import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** What Koa accepts as `app.keys` besides an array: a Keygrip-like object (`sign`, `index`). */
export interface Signer {
  /** The signature of `data` with the first key. */
  sign(data: string): string;
  /** The index of the key that signed `data` as `digest`, or -1 (constant-time per key). */
  index(data: string, digest: string): number;
}

/** Prepared HMAC keys, by key value: at most this many are kept (then the cache starts over). */
const MAX_PREPARED_KEYS = 64;
const prepared = new Map<unknown, KeyObject>();

function keyObject(key: string | Buffer): KeyObject {
  let found = prepared.get(key);
  if (found === undefined) {
    if (prepared.size >= MAX_PREPARED_KEYS) prepared.clear();
    found = createSecretKey(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
    prepared.set(key, found);
  }
  return found;
}

/**
 * Keygrip's signature of `data` with `key` (HMAC-SHA1, base64url without padding: what Koa's
 * cookies module writes and checks), with the key prepared once rather than at every call.
 */
function hmac(key: string | Buffer, data: string): string {
  return createHmac('sha1', keyObject(key)).update(data).digest('base64url');
}

/** Whether `a` and `b` are the same text, compared in constant time (their length is not secret). */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * {@link sameText} for short ASCII texts (a signature this middleware issued against the one a
 * cookie presents), without buffers: every character is compared, the differences OR-ed together
 * with no early exit, so the time depends on the length only (which is not secret).
 */
export function sameShortText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * A signer over `app.keys` given as an array, with Keygrip's exact signatures (the keys are read
 * at each call, so an array rotated in place is honoured, as Keygrip does). Verification computes
 * one HMAC per key tried and compares with `crypto.timingSafeEqual`: Keygrip's `tsscmp` adds two
 * more HMACs and a CSPRNG call per key, for the same guarantee.
 */
export function arraySigner(keys: readonly (string | Buffer)[]): Signer {
  return {
    sign: (data) => hmac(keys[0]!, data),
    index: (data, digest) => {
      for (let i = 0; i < keys.length; i++) if (sameText(hmac(keys[i]!, data), digest)) return i;
      return -1;
    },
  };
}

const signers = new WeakMap<object, Signer>();

/**
 * The signer of `keys` (Koa's `app.keys`): a Keygrip-compatible one for an array (one per array,
 * kept), the object itself otherwise (a Keygrip instance or any `sign`/`index` object, as Koa's
 * cookies module takes it), `undefined` when cookies are not signed.
 */
export function signerOf(keys: unknown): Signer | undefined {
  if (keys === undefined || keys === null) return undefined;
  if (!Array.isArray(keys)) return keys as Signer;
  let signer = signers.get(keys);
  if (signer === undefined) {
    signer = arraySigner(keys as (string | Buffer)[]);
    signers.set(keys, signer);
  }
  return signer;
}
