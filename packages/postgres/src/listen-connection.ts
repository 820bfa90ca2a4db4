import pg from 'pg';
import type { Notification, PoolClient } from 'pg';
import { quoteIdent } from './identifiers.js';
import type { ResolvedConnection } from './options.js';
import type { TimedQuery } from './schema.js';

/** Timing of a {@link ListenConnection}, in ms. */
export interface ListenTiming {
  /** Each statement on the connection (`LISTEN`, the health check, `UNLISTEN`) waits at most this long. */
  readonly queryTimeout: number;
  /** A new connection of its own may take this long to open. */
  readonly connectTimeout: number;
  /** A health check (`SELECT 1`) runs this often while listening; `false`: none. */
  readonly checkInterval: number | false;
}

/** A new connection and how to give it up. */
interface Connected {
  readonly client: pg.Client;
  /** Gives the connection up: back to the caller's pool when `error` is undefined, else closed. */
  discard(error: Error | undefined): Promise<void>;
}

/** The listening connection: removes this object's event handlers (a no-op `'error'` handler stays while the connection is not the pool's again). */
interface Open extends Connected {
  detach(): void;
}

/** First and longest delay (ms) between attempts to open the connection again after it broke. */
const RELISTEN_FIRST_MS = 100;
const RELISTEN_MAX_MS = 5_000;

const ignore = (): void => {};

/**
 * The dedicated connection that `LISTEN`s on one channel, kept open: with `{ connectionString }` a
 * `pg.Client` of its own, with `{ pool }` one of the caller's connections held until {@link stop}.
 *
 * A connection that breaks (`'error'`, `'end'`: a server restart) is opened again after 100 ms, then
 * doubling up to 5 s. A connection that stalls without breaking (a network partition, a half-open
 * TCP connection after the server's host died) never says so: notifications simply stop coming. So a
 * health check (`SELECT 1`, bounded by the query timeout) runs every `checkInterval` ms, and one that
 * fails or times out counts as a break. Notifications sent while no connection listens are lost
 * (their senders time out and try again).
 */
export class ListenConnection {
  readonly #connection: ResolvedConnection;
  readonly #channel: string;
  readonly #timing: ListenTiming;
  readonly #onNotification: (payload: string) => void;
  #open: Open | undefined;
  /** The first `LISTEN` of {@link start}, or a later one after a break, while in progress. */
  #opening: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #checkTimer: ReturnType<typeof setInterval> | undefined;
  #checking = false;
  #stopping = false;
  /** Connections opened so far (the first one included). */
  #opened = 0;

  constructor(connection: ResolvedConnection, channel: string, timing: ListenTiming, onNotification: (payload: string) => void) {
    this.#connection = connection;
    this.#channel = channel;
    this.#timing = timing;
    this.#onNotification = onNotification;
  }

  /** How many connections were opened and listened on (more than 1: it broke and was opened again). */
  get opened(): number {
    return this.#opened;
  }

  /** Opens the connection and listens; rejects (the raw error) when that fails, and nothing stays open. */
  async start(): Promise<void> {
    const opening = this.#listen();
    this.#opening = opening;
    try {
      await opening;
    } finally {
      if (this.#opening === opening) this.#opening = undefined;
    }
    if (this.#timing.checkInterval !== false) {
      this.#checkTimer = setInterval(() => void this.#check(), this.#timing.checkInterval);
      this.#checkTimer.unref(); // never keeps the process alive
    }
  }

  /**
   * Stops listening: `UNLISTEN *`, then the connection is given back to the pool or closed.
   * Resolves the error of `UNLISTEN`, if any (the connection is then destroyed rather than pooled).
   */
  async stop(): Promise<Error | undefined> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#checkTimer);
    await this.#opening?.catch(ignore);
    const open = this.#open;
    this.#open = undefined;
    if (open === undefined) return undefined;
    open.detach();
    let failed: Error | undefined;
    await open.client.query({ text: 'UNLISTEN *', query_timeout: this.#timing.queryTimeout } as TimedQuery).catch((error: unknown) => {
      failed = error instanceof Error ? error : new Error(String(error));
    });
    await open.discard(failed);
    return failed;
  }

  /** Opens a connection, listens on the channel there, and makes it the open one. */
  async #listen(): Promise<void> {
    const connected = await this.#connect();
    const { client } = connected;
    const onNotification = (notification: Notification): void => {
      if (notification.channel === this.#channel) this.#onNotification(notification.payload ?? '');
    };
    const open: Open = {
      client,
      discard: connected.discard,
      detach: () => {
        client.removeListener('notification', onNotification);
        client.removeListener('error', onError);
        client.removeListener('end', onEnd);
      },
    };
    const onError = (error: Error): void => this.#broken(open, error);
    const onEnd = (): void => this.#broken(open, new Error('the LISTEN connection ended'));
    client.on('notification', onNotification);
    client.on('error', onError);
    client.on('end', onEnd);
    try {
      await client.query({ text: `LISTEN ${quoteIdent(this.#channel)}`, query_timeout: this.#timing.queryTimeout } as TimedQuery);
    } catch (error) {
      open.detach();
      await open.discard(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    this.#opened += 1;
    this.#open = open;
  }

  /** A new connection (its own, or one of the caller's pool), not listening yet. */
  async #connect(): Promise<Connected> {
    if (this.#connection.kind === 'own') {
      const own = new pg.Client({
        connectionString: this.#connection.connectionString,
        connectionTimeoutMillis: this.#timing.connectTimeout,
        keepAlive: true,
      });
      own.on('error', ignore); // stays: this client is never anybody else's
      await own.connect();
      return {
        client: own,
        discard: async (error) => {
          if (error === undefined) await own.end().catch(ignore);
          else destroy(own); // a broken or stalled connection may never report its end
        },
      };
    }
    const pooled: PoolClient = await this.#connection.pool.connect();
    pooled.on('error', ignore); // while checked out: pg requires a listener
    return {
      client: pooled,
      discard: async (error) => {
        if (error === undefined) pooled.removeListener('error', ignore);
        else destroy(pooled);
        pooled.release(error); // an error makes the pool drop the connection instead of reusing it
      },
    };
  }

  /** The health check: a `SELECT 1` that fails or times out counts as a break. */
  async #check(): Promise<void> {
    const open = this.#open;
    if (open === undefined || this.#checking || this.#stopping) return;
    this.#checking = true;
    try {
      await open.client.query({ text: 'SELECT 1', query_timeout: this.#timing.queryTimeout } as TimedQuery);
    } catch (error) {
      this.#broken(open, error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#checking = false;
    }
  }

  /** The connection broke: it is given up, and a new one is opened after a delay. */
  #broken(open: Open, error: Error): void {
    if (this.#open !== open) return;
    this.#open = undefined;
    open.detach();
    void open.discard(error);
    if (!this.#stopping) this.#retry(0);
  }

  #retry(attempt: number): void {
    const delay = Math.min(RELISTEN_FIRST_MS * 2 ** Math.min(attempt, 16), RELISTEN_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#stopping) return;
      const opening = this.#listen();
      this.#opening = opening;
      opening
        .catch(() => {
          if (!this.#stopping) this.#retry(attempt + 1);
        })
        .finally(() => {
          if (this.#opening === opening) this.#opening = undefined;
        });
    }, delay);
    this.#retryTimer.unref(); // never keeps the process alive
  }
}

/**
 * Closes the socket of a connection given up after an error, at once: `end()` sends a goodbye and
 * waits for the server, which a stalled connection never answers, so it would stay open.
 */
function destroy(client: pg.Client | PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy?(): void } } }).connection?.stream?.destroy?.();
}
