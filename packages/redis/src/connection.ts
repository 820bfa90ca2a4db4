import { unsentError } from './arguments.js';
import { connectionError } from './failures.js';
import { createOwnedClient } from './client.js';
import type { ClientSettings, ReconnectControl } from './client.js';
import type { RedisClient } from './options.js';

/** What the connection uses of a node-redis 5 client. */
interface ClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Where the client's connect loop is (tracked for the client the adapter owns):
 * `connecting` (a TCP/TLS connect in flight), `handshaking` (connected, HELLO/SETINFO in flight),
 * `ready`, `waiting` (a failed attempt, node-redis waits out the backoff delay on a timer), `idle`.
 */
type Phase = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'waiting';

/** A promise and the function that resolves it (Node 20 has no Promise.withResolvers). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Extra ms allowed past a known bound (connect timeout, backoff delay) before close() gives up waiting. */
const GRACE_MS = 100;

/**
 * The adapter's view of its Redis client: whether commands may be sent now, fast rejection while
 * Redis is down, and a close that leaves nothing running.
 *
 * Readiness: a command is sent only while the client is ready. The first call on a client that was
 * never opened starts the connection and waits for its first outcome; once an attempt has failed,
 * every call rejects at once with `ERR_REPRISE_ADAPTER` (cause: the last connection error) until
 * the client is ready again, which it becomes by itself. A client closed by someone else (a
 * caller's client its owner closed) is never reopened.
 */
export class Connection {
  readonly #client: ClientLike;
  /** Settings of the client this connection created; `undefined` for a caller's client. */
  readonly #owned: ClientSettings | undefined;
  #phase: Phase = 'idle';
  /** Whether an attempt failed (or the socket broke) since the client was last ready. */
  #failed = false;
  #lastError: unknown;
  #stopping = false;
  /** Whether connect() was called: a client is opened once at most, never reopened after someone closed it. */
  #started = false;
  #closed: Promise<void> | undefined;
  /** When the backoff timer node-redis is waiting on fires (ms since the epoch). */
  #waitEnd = 0;
  /** Listeners this connection added, removed from a borrowed client at close. */
  readonly #listeners: Array<[string, (...args: unknown[]) => void]> = [];
  #changed = signal();

  private constructor(client: ClientLike, owned: ClientSettings | undefined) {
    this.#client = client;
    this.#owned = owned;
    this.#listen('connect', () => this.#setPhase('handshaking'));
    this.#listen('ready', () => {
      this.#failed = false;
      this.#lastError = undefined;
      this.#setPhase('ready');
    });
    this.#listen('reconnecting', () => this.#setPhase(this.#stopping ? 'idle' : 'connecting'));
    this.#listen('end', () => this.#notify());
    this.#listen('error', (error) => {
      this.#lastError = error;
      if (!this.#client.isReady) this.#failed = true;
      this.#notify();
    });
    if (client.isReady) this.#phase = 'ready';
    this.#started = client.isOpen;
  }

  /** A connection over a client it creates from `settings`, owns, and destroys at close. */
  static owned(settings: ClientSettings): Connection {
    let connection: Connection | undefined;
    const control: ReconnectControl = {
      stopping: () => connection!.#onStrategy(undefined),
      willWait: (delay) => void connection!.#onStrategy(delay),
    };
    connection = new Connection(createOwnedClient(settings, control) as unknown as ClientLike, settings);
    return connection;
  }

  /** A connection over the caller's client: connected if needed, never closed. */
  static borrowed(client: RedisClient): Connection {
    return new Connection(client as unknown as ClientLike, undefined);
  }

  /** The node-redis client. */
  get client(): RedisClient {
    return this.#client as unknown as RedisClient;
  }

  /** Whether a command may be sent now (the client is ready and the connection is not closing): {@link ready} would resolve at once. */
  get isReady(): boolean {
    return !this.#stopping && this.#client.isReady;
  }

  /**
   * Resolves once the client is ready. Starts the connection when the client was never opened; waits
   * for the outcome of an attempt in flight when none has failed yet; otherwise rejects at once. A
   * client that was closed after it was opened (a caller's client its owner closed) is not reopened.
   * @throws AdapterError `ERR_REPRISE_ADAPTER` ("Redis is unreachable", cause: the connection error;
   *   "Redis refused the connection", `transient: false`, when the server refused the credentials).
   */
  async ready(): Promise<void> {
    for (;;) {
      if (this.#stopping) throw unsentError('the adapter is closing');
      if (this.#client.isReady) return;
      if (!this.#client.isOpen) {
        if (this.#started) {
          throw unsentError(
            this.#owned ? 'Redis is unreachable (the client stopped)' : 'the Redis client was closed by its owner',
            this.#lastError,
          );
        }
        this.#start();
      } else if (this.#failed) {
        throw this.#unreachable();
      }
      await this.#changed.promise;
    }
  }

  /**
   * Stops the connection. For the client it owns: lets a connect attempt in flight finish (at most
   * `connectTimeout`), destroys the client, and waits out a pending backoff timer (at most
   * `maxReconnectDelay`), so no socket and no timer outlives the returned promise. A caller's client
   * is left open; only the listeners this adapter added to it are removed. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    this.#notify();
    const owned = this.#owned;
    if (owned === undefined) {
      for (const [event, listener] of this.#listeners) this.#client.off(event, listener);
      return;
    }
    // Destroying during a TCP connect would not reach the socket being connected (node-redis only
    // holds it once connected), so let that attempt end first: it fails (the strategy now says stop)
    // or connects (then destroy() below closes it).
    if (this.#phase === 'connecting') await this.#waitWhile(() => this.#phase === 'connecting', owned.connectTimeout + GRACE_MS);
    if (this.#client.isOpen) this.#client.destroy();
    // node-redis waits out its backoff on a timer it does not cancel: wait for it to fire.
    if (this.#phase === 'waiting')
      await this.#waitWhile(() => this.#phase === 'waiting', Math.max(0, this.#waitEnd - Date.now()) + GRACE_MS);
    // A destroyed socket's handle is released in the event loop's close phase: two check-phase
    // turns guarantee that phase has run once, whichever phase this continuation runs in.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // The owned client keeps our 'error' listener: a late error with no listener would crash the process.
  }

  #start(): void {
    this.#started = true;
    this.#failed = false;
    this.#lastError = undefined;
    this.#setPhase('connecting');
    this.#client.connect().catch((error: unknown) => {
      // The loop gave up (a caller's strategy returned false, or the client was destroyed meanwhile).
      this.#lastError ??= error;
      this.#failed = true;
      this.#notify();
    });
  }

  /** The reconnect strategy's hook: `undefined` asks whether to stop, a number is the coming delay. */
  #onStrategy(delay: number | undefined): boolean {
    if (this.#stopping) {
      this.#setPhase('idle');
      return true;
    }
    if (delay !== undefined) {
      this.#waitEnd = Date.now() + delay;
      this.#setPhase('waiting');
    }
    return false;
  }

  /** Why the client cannot be used: refused credentials (not transient) or unreachable (transient). */
  #unreachable(): Error {
    return connectionError(this.#lastError);
  }

  #listen(event: string, listener: (...args: unknown[]) => void): void {
    this.#client.on(event, listener);
    this.#listeners.push([event, listener]);
  }

  #setPhase(phase: Phase): void {
    this.#phase = phase;
    this.#notify();
  }

  /** Wakes everything awaiting a change of the client's state. */
  #notify(): void {
    const changed = this.#changed;
    this.#changed = signal();
    changed.resolve();
  }

  /** Waits while `condition()` holds, re-checking at every change, for at most `ms`. */
  async #waitWhile(condition: () => boolean, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    let expired = false;
    void timedOut.then(() => {
      expired = true;
    });
    try {
      while (condition() && !expired) await Promise.race([this.#changed.promise, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
