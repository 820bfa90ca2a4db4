import KeyvRedis from '@keyv/redis';
import type { RedisClientConnectionType } from '@keyv/redis';
import { RepriseError } from '@reprise/core';
import type { SessionAdapter } from '@reprise/core';
import { adapterError, checkKey, checkValue, redisTtl, replyToString } from './arguments.js';
import { Connection } from './connection.js';
import { withDeadline } from './deadline.js';
import { resolveOptions } from './options.js';
import type { RedisAdapterOptions, ResolvedOptions } from './options.js';

/** What the adapter calls on the client for `take` (GETDEL is not a @keyv/redis operation). */
interface GetDelClient {
  getDel(key: string): Promise<unknown>;
}

/** Redis answers a command it does not know (GETDEL before 6.2) with `ERR unknown command 'GETDEL'`. */
function isUnknownCommand(error: unknown): boolean {
  return error instanceof Error && /unknown command/i.test(error.message);
}

/**
 * The Redis {@link SessionAdapter}, on @keyv/redis and its node-redis 5 client. Needs Redis 6.2 or
 * newer (`take` is one `GETDEL`).
 *
 * - `new RedisAdapter({ url })` creates its own client: offline queue disabled, a connect timeout,
 *   and reconnection forever with capped, jittered backoff. `close()` destroys it and returns only
 *   when no socket and no timer of it is left.
 * - `new RedisAdapter({ client })` uses the caller's client, connects it if it is not open, and
 *   never closes it (`close()` only removes the listeners the adapter added).
 * - Keys are `prefix + key` (default prefix `'reprise:'`), one prefix: the @keyv/redis store has no
 *   namespace of its own. Values are stored as they are (no Keyv envelope), so `GETDEL` returns them.
 * - `save` is `SET key value [PX ttl]` through @keyv/redis, with the TTL rounded up to whole ms
 *   (at least 1): exact, and never the `PX 1500.5` that Redis refuses. `load` is `GET`, `delete` is
 *   `UNLINK`, `take` is `GETDEL` (atomic: of concurrent takes exactly one gets the value).
 * - Failure is fast and typed: while Redis is down every call rejects at once with a `RepriseError`
 *   of code `ERR_REPRISE_ADAPTER` (`cause`: the connection error); a server that accepts but does
 *   not answer is cut off by `commandTimeout`. No call ever waits for Redis to come back, and the
 *   same adapter works again once it is back. Messages never contain keys or values.
 */
export class RedisAdapter implements SessionAdapter {
  /** `'redis'`, for reports. */
  readonly name = 'redis';
  /** `true`: `take` is one GETDEL. */
  readonly atomic = true;

  readonly #options: ResolvedOptions;
  readonly #connection: Connection;
  readonly #store: KeyvRedis<string>;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  /**
   * @param options `{ url, prefix?, commandTimeout?, connectTimeout?, maxReconnectDelay? }` or
   *   `{ client, prefix?, commandTimeout? }`; see {@link RedisAdapterOptions}. Opens no connection:
   *   the first call does.
   * @throws RepriseError `ERR_REPRISE_OPTION` on a wrong, unknown or conflicting option.
   */
  constructor(options: RedisAdapterOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.#connection = resolved.kind === 'url' ? Connection.owned(resolved) : Connection.borrowed(resolved.client);
    // No namespace on the store: the adapter's prefix is the only one. throwOnErrors so that a
    // failed SET rejects instead of being reported as a success.
    this.#store = this.#connection.adopt(
      () => new KeyvRedis<string>(this.#connection.client as unknown as RedisClientConnectionType, { throwOnErrors: true, throwOnConnectError: true }),
    );
  }

  /** The key prefix in use (default `'reprise:'`). */
  get prefix(): string {
    return this.#options.prefix;
  }

  /**
   * `SET prefix+key value [PX ceil(ttlMs)]`.
   * @param ttlMs positive finite ms the value stays readable (rounded up to whole ms); `undefined` = no expiry.
   */
  save(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#run('save', () => {
      checkKey(key);
      checkValue(value);
      const ttl = redisTtl(ttlMs);
      return async () => {
        await this.#store.set(this.#options.prefix + key, value, ttl);
      };
    });
  }

  /** `GET prefix+key`: the value, or `undefined` when missing or expired. */
  load(key: string): Promise<string | undefined> {
    return this.#run('load', () => {
      checkKey(key);
      return async () => replyToString(await this.#store.get(this.#options.prefix + key));
    });
  }

  /** `GETDEL prefix+key` (Redis >= 6.2): of concurrent takes exactly one gets the value. */
  take(key: string): Promise<string | undefined> {
    return this.#run('take', () => {
      checkKey(key);
      return async () => {
        const client = this.#connection.client as unknown as GetDelClient;
        try {
          return replyToString(await client.getDel(this.#options.prefix + key));
        } catch (error) {
          if (isUnknownCommand(error)) throw adapterError('take needs Redis 6.2 or newer (GETDEL): this server does not know GETDEL', error);
          throw error;
        }
      };
    });
  }

  /** `UNLINK prefix+key`; `true` when something was deleted. */
  delete(key: string): Promise<boolean> {
    return this.#run('delete', () => {
      checkKey(key);
      return async () => this.#store.delete(this.#options.prefix + key);
    });
  }

  /**
   * Waits for the calls in flight (each bounded by `commandTimeout`), then stops: the client of
   * `{ url }` is destroyed and its reconnect timer waited out; a caller's `{ client }` stays open.
   * Later calls reject with `ERR_REPRISE_ADAPTER`. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#inFlight]);
      await this.#connection.close();
    })();
    return this.#closed;
  }

  /**
   * One call: validates synchronously (`prepare` throws on bad arguments and returns the command),
   * waits for a ready client, sends the command in the same tick as the readiness check (so
   * @keyv/redis never sees a closed client and never connects or destroys it by itself), bounds the
   * whole call by `commandTimeout`, and turns every failure into `ERR_REPRISE_ADAPTER`. A call that
   * times out before its command was sent never sends it; one that times out after (a server that
   * stopped answering) may still be carried out by the server if it ever answers.
   */
  #run<T>(operation: string, prepare: () => () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(adapterError(`${operation} after close()`));
    let command: () => Promise<T>;
    try {
      command = prepare();
    } catch (error) {
      return Promise.reject(error);
    }
    const call = withDeadline(
      async (signal) => {
        await this.#connection.ready();
        // Timed out while waiting for the connection: the caller has its rejection, so the command
        // must not go out now (a late GETDEL would consume a value nobody receives).
        if (signal.aborted) throw adapterError(`${operation} abandoned after its deadline`);
        return command();
      },
      this.#options.commandTimeout,
      () => adapterError(`${operation} timed out after ${this.#options.commandTimeout} ms (Redis did not answer)`),
    ).catch((error: unknown) => {
      if (error instanceof RepriseError) throw error;
      throw adapterError(`${operation} failed: ${error instanceof Error ? error.message : String(error)}`, error);
    });
    this.#inFlight.add(call);
    const forget = (): void => void this.#inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }
}
