import { OptionError } from '@reprise/core';
import type { Keyv } from 'keyv';

/** What {@link checkKeyv} learned about the store behind a Keyv. */
export interface StoreTraits {
  /**
   * The store reports atomically whether *its* `delete` removed the entry (a `Map`'s `delete`,
   * Redis `UNLINK`), so of several concurrent takes exactly one sees `true`: `take` is atomic.
   */
  readonly atomicDelete: boolean;
  /**
   * The store expires entries by itself (Redis `PX`), so what it holds is what is readable.
   * Other stores keep expired entries until Keyv reads them (Keyv checks the expiry on `get`).
   */
  readonly nativeExpiry: boolean;
  /** A short name of the store kind, for `KeyvAdapter.name`: `'map'`, `'redis'`, `'postgres'` or `'store'`. */
  readonly kind: 'map' | 'redis' | 'postgres' | 'store';
}

type Loose = Record<string | symbol, unknown>;

function refuse(message: string): never {
  throw new OptionError(`KeyvAdapter: ${message}`);
}

function isObject(value: unknown): value is Loose {
  return value !== null && (typeof value === 'object' || typeof value === 'function');
}

function hasMethods(value: Loose, names: readonly string[]): boolean {
  return names.every((name) => typeof value[name] === 'function');
}

/** @keyv/redis: `opts.dialect` is `'redis'` and it wraps a node-redis client. */
function isKeyvRedis(store: Loose): boolean {
  const opts = store.opts;
  return isObject(opts) && opts.dialect === 'redis' && isObject(store.client);
}

/** @keyv/postgres: `opts.dialect` is `'postgres'`. */
function isKeyvPostgres(store: Loose): boolean {
  const opts = store.opts;
  return isObject(opts) && opts.dialect === 'postgres';
}

/**
 * Checks that `keyv` is a Keyv 5 (>= 5.6) instance whose settings cannot lose snapshots silently,
 * and describes its store. It never changes the Keyv: a setting that would lose data is refused with
 * the option that fixes it, because the Keyv may be shared with other code that relies on its
 * current behaviour (turning `throwOnErrors` on behind its back would make its calls start throwing).
 *
 * Refused:
 * - anything that is not a Keyv 5 (no `throwOnErrors`/`useKeyPrefix` accessors: Keyv 4 or another object);
 * - a Keyv built with `store: undefined`: its `get()` reads the missing store, fails and returns
 *   `undefined` for every key although `set()` reports success;
 * - `throwOnErrors` off on the Keyv: `set` then reports a failed write as `false` or not at all,
 *   and `get` turns a store failure into a miss;
 * - `throwOnErrors: false` or `throwOnConnectError: false` on the store (@keyv/redis): the store then
 *   swallows the error itself, so Keyv sees a successful write that never happened;
 * - no `serialize`/`deserialize` with a store other than a `Map`: the store would be handed the
 *   `{ value, expires }` object itself (Redis stores it as `"[object Object]"`);
 * - Keyv and its store both prefixing keys (`new Keyv(new KeyvRedis(url))` stores `keyv::keyv:k`):
 *   the fix is `useKeyPrefix: false` on the Keyv (what `createKeyv` from @keyv/redis does).
 *
 * @throws OptionError (`ERR_REPRISE_OPTION`) naming the setting and its fix.
 */
export function checkKeyv(keyv: unknown): StoreTraits {
  if (!isObject(keyv) || !hasMethods(keyv, ['get', 'set', 'delete']) || !isObject(keyv.opts)) {
    refuse(`expects a Keyv instance (keyv ^5.6.0), got ${keyv === null ? 'null' : typeof keyv}`);
  }
  if (typeof keyv.throwOnErrors !== 'boolean' || typeof keyv.useKeyPrefix !== 'boolean') {
    refuse('expects a Keyv 5 instance (keyv ^5.6.0): this one has no throwOnErrors/useKeyPrefix settings');
  }
  const opts = keyv.opts as Loose;
  const store = opts.store;
  if (store === undefined || store === null) {
    refuse(
      'the Keyv has no store (it was created with `store: undefined`, so its get() always misses while set() ' +
        'reports success). Pass a store, or no `store` key at all for the in-memory Map',
    );
  }
  if (!isObject(store) || !(store instanceof Map || hasMethods(store, ['get', 'set', 'delete']))) {
    refuse('the Keyv store has no get/set/delete methods');
  }
  if (keyv.throwOnErrors !== true) {
    refuse(
      'the Keyv swallows store errors (a failed write would look like a success and a failed read like a miss): ' +
        'create it with `new Keyv(store, { throwOnErrors: true })`',
    );
  }
  if (store.throwOnErrors === false) {
    refuse(
      'the Keyv store swallows its own errors (`throwOnErrors: false`), so a failed write reaches Keyv as a success: ' +
        'create the store with `throwOnErrors: true` (for @keyv/redis: `new KeyvRedis(client, { throwOnErrors: true })`)',
    );
  }
  if (store.throwOnConnectError === false) {
    refuse(
      'the Keyv store ignores connection failures (`throwOnConnectError: false`), so a write while disconnected ' +
        'is lost silently: leave `throwOnConnectError` at true',
    );
  }
  if ((typeof keyv.serialize !== 'function' || typeof keyv.deserialize !== 'function') && !(store instanceof Map)) {
    refuse(
      'the Keyv has no serialize/deserialize functions, so its store would receive objects instead of strings: keep the default serializer',
    );
  }
  const namespace = keyv.namespace;
  if (
    keyv.useKeyPrefix === true &&
    typeof namespace === 'string' &&
    namespace !== '' &&
    typeof store.keyPrefixSeparator === 'string' &&
    typeof store.namespace === 'string' &&
    store.namespace !== ''
  ) {
    refuse(
      `both the Keyv and its store prefix keys (a key k would be stored as ${JSON.stringify(
        `${store.namespace}${store.keyPrefixSeparator}${namespace}:k`,
      )}): create the Keyv with \`useKeyPrefix: false\` (createKeyv from @keyv/redis does)`,
    );
  }
  if (store instanceof Map) return { atomicDelete: true, nativeExpiry: false, kind: 'map' };
  if (isKeyvRedis(store)) return { atomicDelete: true, nativeExpiry: true, kind: 'redis' };
  if (isKeyvPostgres(store)) return { atomicDelete: false, nativeExpiry: false, kind: 'postgres' };
  return { atomicDelete: false, nativeExpiry: false, kind: 'store' };
}

/** The key Keyv writes to its store for `key`: `namespace:key` when Keyv prefixes, else `key`. */
export function keyvKey(keyv: Keyv, key: string): string {
  const namespace = keyv.namespace;
  // Keyv 5 leaves a key that already starts with `namespace:` unprefixed, so `x` and `ns:x` would
  // both land on `ns:x`. Prefixing here, always, makes Keyv's own prefixing a no-op and keeps one
  // prefix per key: `x` -> `ns:x`, `ns:x` -> `ns:ns:x`.
  return keyv.useKeyPrefix && namespace ? `${namespace}:${key}` : key;
}
