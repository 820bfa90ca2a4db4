import { RepriseError } from '@reprise/core';
import type { SessionAdapter } from '@reprise/core';
import type { Keyv } from 'keyv';
import { adapterError, checkKey, checkValue, describe, keyvTtl } from './arguments.js';
import { checkKeyv, keyvKey } from './check-keyv.js';
import type { StoreTraits } from './check-keyv.js';

/**
 * A {@link SessionAdapter} over any Keyv 5 instance, so every Keyv store can hold Reprise snapshots.
 *
 * The Keyv is checked at construction and refused (an `ERR_REPRISE_OPTION` error naming the fix)
 * when its settings could lose snapshots silently: `throwOnErrors` off, no store
 * (`store: undefined`), a store that swallows its own errors, no serializer, or a double key prefix.
 * The adapter never changes the Keyv it is given and never disconnects it: `close()` stops the
 * adapter, `keyv.disconnect()` stays the caller's.
 *
 * - Keys: the Keyv's namespace is the only prefix (`namespace:key`, or the store's own prefix when
 *   the Keyv has `useKeyPrefix: false`), applied once even to keys that already start with it.
 * - TTLs are rounded up to whole ms (at least 1); no TTL means no expiry even when the Keyv has a
 *   default `ttl`.
 * - `take` is a `get` followed by a `delete`, and returns the value only to the caller whose delete
 *   removed it. That is atomic (`atomic: true`) when the store's delete reports that atomically:
 *   Keyv's in-memory `Map` and @keyv/redis (`UNLINK`). Other stores (@keyv/postgres deletes with
 *   a SELECT then a DELETE) are `atomic: false`: two concurrent takes may both get the value.
 *   Even when atomic, a save racing a take of the same key can be lost (the take deletes the newer
 *   value and returns the older); `RedisAdapter` (GETDEL) has no such window.
 * - Every failure rejects with a `RepriseError` of code `ERR_REPRISE_ADAPTER` whose `cause` is the
 *   store's error. Messages never contain keys or values (a key may be a restorable session id).
 * - Not ordered: no `saveIfNewer`, `takeVersioned` or `saveManyIfNewer` (a Keyv store has no
 *   conditional write). The core falls back to single `save` and `take` calls.
 */
export class KeyvAdapter implements SessionAdapter {
  /** `'keyv'`, or `'keyv:<store>'` for a store it recognises (`keyv:map`, `keyv:redis`, `keyv:postgres`). */
  readonly name: string;
  /** Whether concurrent takes give a value to exactly one caller (see the class notes). */
  readonly atomic: boolean;

  readonly #keyv: Keyv;
  readonly #traits: StoreTraits;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  /**
   * @param keyv a Keyv 5 instance created with `throwOnErrors: true` (and, for @keyv/redis,
   *   `useKeyPrefix: false` and a store with `throwOnErrors: true`).
   * @throws RepriseError `ERR_REPRISE_OPTION` when the Keyv is refused (see {@link checkKeyv}).
   */
  constructor(keyv: Keyv) {
    this.#traits = checkKeyv(keyv);
    this.#keyv = keyv;
    this.name = this.#traits.kind === 'store' ? 'keyv' : `keyv:${this.#traits.kind}`;
    this.atomic = this.#traits.atomicDelete;
  }

  /**
   * Upserts `value` under `key`.
   * @param ttlMs positive finite ms the value stays readable (rounded up to whole ms); `undefined` = no expiry.
   */
  save(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#run('save', async () => {
      checkKey(key);
      checkValue(value);
      const ttl = keyvTtl(ttlMs);
      const written = await this.#keyv.set(keyvKey(this.#keyv, key), value, ttl);
      if (written === false) throw adapterError('save failed: the Keyv store reported that it did not write the value');
    });
  }

  /** The value under `key`, or `undefined` when missing or expired. */
  load(key: string): Promise<string | undefined> {
    return this.#run('load', async () => {
      checkKey(key);
      return this.#get(keyvKey(this.#keyv, key));
    });
  }

  /** Reads and deletes `key`: the value for the caller whose delete removed it, else `undefined`. */
  take(key: string): Promise<string | undefined> {
    return this.#run('take', async () => {
      checkKey(key);
      const stored = keyvKey(this.#keyv, key);
      const value = await this.#get(stored);
      if (value === undefined) return undefined;
      return (await this.#keyv.delete(stored)) ? value : undefined;
    });
  }

  /** Deletes `key`; `true` when a readable (unexpired) entry was deleted. */
  delete(key: string): Promise<boolean> {
    return this.#run('delete', async () => {
      checkKey(key);
      const stored = keyvKey(this.#keyv, key);
      // A store without its own expiry still holds expired entries: Keyv's get() deletes such an
      // entry and reports a miss, so only a readable entry gets to the delete below.
      if (!this.#traits.nativeExpiry && (await this.#get(stored)) === undefined) return false;
      return (await this.#keyv.delete(stored)) === true;
    });
  }

  /**
   * Waits for the calls in flight, then makes later calls reject with `ERR_REPRISE_ADAPTER`.
   * Does not disconnect the Keyv (it belongs to the caller: `await keyv.disconnect()`). Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #get(stored: string): Promise<string | undefined> {
    const value: unknown = await this.#keyv.get(stored);
    if (value === undefined || typeof value === 'string') return value;
    throw adapterError(`the Keyv store holds ${describe(value)} under this key, not a string`);
  }

  /** Runs one call: rejects after close, tracks it for close(), wraps every failure in ERR_REPRISE_ADAPTER. */
  #run<T>(operation: string, body: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(adapterError(`${operation} after close()`));
    const call = body().catch((error: unknown) => {
      if (error instanceof RepriseError) throw error;
      throw adapterError(`${operation} failed: ${error instanceof Error ? error.message : String(error)}`, error);
    });
    this.#inFlight.add(call);
    const forget = (): void => void this.#inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }
}
