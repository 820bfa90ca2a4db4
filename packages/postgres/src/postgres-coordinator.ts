import pg from 'pg';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { AdapterError, OptionError } from '@reprise/core';
import { HandoverExchange, MAX_TIMER_DELAY } from '@reprise/core/adapter-kit';
import type { Claim, CoordinatorMember, HandoverOutcome, Lease, LeaseRenewal, SessionCoordinator } from '@reprise/core';
import type { HandoverMessage } from '@reprise/core/adapter-kit';
import { RAW_TYPES, isWellFormed } from './codec.js';
import { buildLeaseStatements, channelName } from './coordinator-sql.js';
import type { LeaseStatements } from './coordinator-sql.js';
import { failure, show } from './errors.js';
import { parseTableName } from './identifiers.js';
import type { TableName } from './identifiers.js';
import { DEFAULTS, resolveConnection, resolveCoordinatorOptions } from './options.js';
import type { PostgresConnection, PostgresCoordinatorOptions, ResolvedConnection } from './options.js';
import type { TimedQuery } from './schema.js';
import { ListenConnection } from './listen-connection.js';
import { Sweeper } from './sweeper.js';

const NAME = 'PostgresCoordinator';
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** ms each statement may wait for an answer (the adapter's default `queryTimeout`). */
const QUERY_TIMEOUT = DEFAULTS.queryTimeout;
/** ms the coordinator's own connections may take to open (the adapter's default `connectTimeout`). */
const CONNECT_TIMEOUT = DEFAULTS.connectTimeout;

/** Columns the coordinator reads and writes, with their types as `format_type` spells them. */
const COLUMNS: Readonly<Record<string, string>> = Object.freeze({
  session_id: 'text',
  owner: 'text',
  token: 'bigint',
  lease_until: 'timestamp with time zone',
  expires_at: 'timestamp with time zone',
  idle_deadline: 'bigint',
});

const ignore = (): void => {};

function optionError(message: string): OptionError {
  return new OptionError(`${NAME}: ${message}`);
}

/** An `ERR_REPRISE_ADAPTER` error whose message starts with `PostgresCoordinator: `. */
function coordinatorError(message: string, cause?: unknown, transient = true): AdapterError {
  return new AdapterError('ERR_REPRISE_ADAPTER', `${NAME}: ${message}`, { cause, transient });
}

/** An invalid call (`transient: false`: trying again cannot help). */
function callError(message: string): AdapterError {
  return coordinatorError(message, undefined, false);
}

function positiveMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_DELAY) {
    throw callError(`${name} must be a positive integer of ms up to ${MAX_TIMER_DELAY}, got ${show(value)}`);
  }
  return value;
}

function checkSessionId(sessionId: unknown, name = 'sessionId'): asserts sessionId is string {
  if (typeof sessionId !== 'string') throw callError(`${name} must be a string, got ${show(sessionId)}`);
  if (!isWellFormed(sessionId) || sessionId.includes('\u0000')) {
    throw callError(`${name} must be well-formed Unicode without NUL characters (a Postgres text cannot hold others)`);
  }
}

/** The most ids one `adoptable` call returns. */
const MAX_ADOPTABLE = 10_000;

/** A deadline as a statement parameter: ms since the epoch as text, or null for none. */
function deadlineParam(deadline: unknown, name: string): string | null {
  if (deadline === undefined) return null;
  if (typeof deadline !== 'number' || !Number.isSafeInteger(deadline) || deadline < 0)
    throw callError(`${name} must be ms since the epoch (a non-negative safe integer), got ${show(deadline)}`);
  return String(deadline);
}

function checkLease(lease: unknown, name: string): asserts lease is Lease {
  if (lease === null || typeof lease !== 'object') throw callError(`${name} must be a lease, got ${show(lease)}`);
  const { sessionId, token } = lease as Partial<Lease>;
  checkSessionId(sessionId, `${name}.sessionId`);
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 1)
    throw callError(`${name}.token must be a positive safe integer, got ${show(token)}`);
}

/**
 * The {@link SessionCoordinator} on Postgres: leases are rows of a table of their own, claimed,
 * renewed and released by single statements that compare on the database clock, and hand-over
 * requests travel by `NOTIFY`, one channel per instance, to a dedicated `LISTEN` connection.
 *
 * - Storage: one row per session (see the README for the DDL): `owner`, fencing `token`,
 *   `lease_until`, and `expires_at`, when the row may go. The row outlives the lease (release
 *   clears the owner, a lapse leaves it), so a session's tokens strictly increase across owners,
 *   lapses and releases for at least `tokenRetention` ms after its last lease ended. Rows past
 *   `expires_at` are deleted by a sweep (an unref'd timer, about every 5 min, with jitter, in
 *   batches of 1000), never a live lease's; until then an old row is reused (its token goes on).
 * - `claim` is one `INSERT … ON CONFLICT (session_id) DO UPDATE … RETURNING`; `renew` one `UPDATE …
 *   FROM unnest(…)` for the whole list; `release` one compare-and-clear `UPDATE`.
 * - `new PostgresCoordinator({ connectionString })` creates and owns a `pg.Pool` (pg's 10
 *   connections) and a dedicated `pg.Client` for `LISTEN`; `leave()` ends both.
 * - `new PostgresCoordinator({ pool })` uses the caller's pool, and holds one of its connections
 *   for `LISTEN` from `join()` to `leave()` (so the pool must have room for it); `leave()` gives
 *   that connection back (after `UNLISTEN *`) and never ends the pool.
 * - A `LISTEN` connection that breaks (a server restart) is opened again by itself (after 100 ms,
 *   then doubling up to 5 s); so is one that fails its health check (`listenCheckInterval`, a
 *   `SELECT 1` every 10 s by default: a stalled connection never reports itself). Hand-over requests
 *   sent meanwhile are lost (their senders time out).
 * - Failures are fast: an unreachable server rejects at once with a transient `ERR_REPRISE_ADAPTER`
 *   (classified as the adapter's), and each statement waits at most 5 s for an answer (the
 *   adapter's `queryTimeout` default), each new connection of its own at most 5 s.
 */
export class PostgresCoordinator implements SessionCoordinator {
  /** `'postgres'`, for reports. */
  readonly name = 'postgres';
  readonly #connection: ResolvedConnection;
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #table: TableName;
  readonly #sql: LeaseStatements;
  readonly #tokenRetention: number;
  readonly #sweeper: Sweeper;
  /** The table check and creation in progress or done; reset when it fails, so the next call retries. */
  #ready: Promise<void> | undefined;
  #instanceId: string | undefined;
  #member: CoordinatorMember | undefined;
  /** The `LISTEN` connection on this instance's channel, from `join()` to `leave()`. */
  #listener: ListenConnection | undefined;
  readonly #listenCheckInterval: number | false;
  /** Hand-over requests and answers, sent on the instances' channels. */
  readonly #exchange = new HandoverExchange(
    (to, message) => this.#notify('requestHandover', to, message),
    () => (this.#leaving ? undefined : this.#member),
  );
  #leaving = false;
  #left: Promise<void> | undefined;

  /**
   * @param connection `{ connectionString }` (own pool and `LISTEN` client) or `{ pool }` (yours), as `PostgresAdapter`'s.
   * @param options `{ table?, tokenRetention?, listenCheckInterval? }` (see {@link PostgresCoordinatorOptions}; defaults in `COORDINATOR_DEFAULTS`).
   * @throws RepriseError `ERR_REPRISE_OPTION` on a wrong or unknown option.
   */
  constructor(connection: PostgresConnection, options?: PostgresCoordinatorOptions) {
    if (
      connection !== null &&
      typeof connection === 'object' &&
      ('table' in connection || 'tokenRetention' in connection || 'listenCheckInterval' in connection)
    ) {
      throw optionError('give table, tokenRetention and listenCheckInterval in the second argument');
    }
    this.#connection = resolveConnection(connection, NAME);
    const { table, tokenRetention, listenCheckInterval } = resolveCoordinatorOptions(options);
    this.#listenCheckInterval = listenCheckInterval;
    this.#table = renamedOptionErrors(() => parseTableName(table));
    this.#sql = buildLeaseStatements(this.#table);
    this.#tokenRetention = tokenRetention;
    if (this.#connection.kind === 'own') {
      this.#ownsPool = true;
      this.#pool = new pg.Pool({
        connectionString: this.#connection.connectionString,
        connectionTimeoutMillis: CONNECT_TIMEOUT,
        query_timeout: QUERY_TIMEOUT,
        keepAlive: true,
        allowExitOnIdle: true,
      });
      // An idle connection that breaks makes the pool emit 'error' (a crash with no listener). The
      // pool drops it by itself, and the next call meets the outage and reports it.
      this.#pool.on('error', ignore);
    } else {
      this.#ownsPool = false;
      this.#pool = this.#connection.pool;
    }
    this.#sweeper = new Sweeper({
      deleteBatch: async (limit) => (await this.#query('sweep', this.#sql.sweepBatch, [limit])).rowCount ?? 0,
      interval: DEFAULTS.sweepInterval,
      batchSize: DEFAULTS.sweepBatchSize,
      // A failed background sweep changes nothing (the rows wait for the next one), and the outage
      // behind it is reported by the calls that meet it.
      onError: ignore,
    });
  }

  /** The lease table as SQL (`"name"` or `"schema"."name"`). */
  get table(): string {
    return this.#sql.table;
  }

  /**
   * Opens the `LISTEN` connection for `instanceId` (1 to 64 letters, digits, `-`, `_`) and takes
   * hand-over requests for it from then on. Rejects (transient) when Postgres cannot be reached;
   * the coordinator is then not joined, and `join()` may be called again.
   */
  async join(instanceId: string, member: CoordinatorMember): Promise<void> {
    if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId))
      throw callError(`instanceId must be 1 to 64 letters, digits, - or _, got ${show(instanceId)}`);
    if (this.#instanceId !== undefined) throw callError(`join() was already called (as ${this.#instanceId})`);
    if (this.#leaving) throw callError('join() after leave()');
    if (member === null || typeof member !== 'object' || typeof member.handover !== 'function')
      throw callError(`member must have a handover function, got ${show(member)}`);
    this.#instanceId = instanceId;
    this.#member = member;
    const listener = new ListenConnection(
      this.#connection,
      channelName(this.#table, instanceId),
      { queryTimeout: QUERY_TIMEOUT, connectTimeout: CONNECT_TIMEOUT, checkInterval: this.#listenCheckInterval },
      (payload) => this.#exchange.receive(payload),
    );
    this.#listener = listener;
    try {
      await listener.start();
    } catch (error) {
      // Not joined: a later join() may try again (SessionManager retries a failed join).
      if (!this.#leaving) [this.#instanceId, this.#member, this.#listener] = [undefined, undefined, undefined];
      throw this.#failure('join failed', error, true);
    }
  }

  /** How many `LISTEN` connections this coordinator opened (more than 1: one broke, or failed its health check, and was replaced). */
  get listenConnections(): number {
    return this.#listener?.opened ?? 0;
  }

  /**
   * @param leaseMs positive integer of ms up to 2^31 − 1, counted on the database clock from the
   *   statement's start. Resolves the lease (a new token, or this instance's lease extended with its
   *   token), or the instance holding a live lease.
   */
  async claim(sessionId: string, leaseMs: number, deadline?: number): Promise<Claim> {
    const owner = this.#me('claim');
    checkSessionId(sessionId);
    const ms = positiveMs('leaseMs', leaseMs);
    const indexed = deadlineParam(deadline, 'deadline');
    const result = await this.#query<{ owner: string; token: string }>('claim', this.#sql.claim, [
      sessionId,
      owner,
      ms,
      this.#tokenRetention,
      indexed,
    ]);
    const row = result.rows[0];
    if (row === undefined) throw coordinatorError('claim: Postgres returned no row');
    if (row.owner === owner) return { held: true, lease: { sessionId, owner, token: tokenOf(row.token) } };
    return { held: false, owner: row.owner };
  }

  /**
   * One statement for the whole list; resolves the ids of the leases not extended (released,
   * lapsed, or another instance's now). `leaseMs` as for {@link claim}; `[]` resolves `[]` at once.
   */
  async renew(leases: readonly LeaseRenewal[], leaseMs: number): Promise<string[]> {
    const owner = this.#me('renew');
    const ms = positiveMs('leaseMs', leaseMs);
    if (!Array.isArray(leases)) throw callError(`leases must be an array, got ${show(leases)}`);
    if (leases.length === 0) return [];
    for (const [i, lease] of leases.entries()) checkLease(lease, `leases[${i}]`);
    const ids = leases.map((lease) => lease.sessionId);
    const tokens = leases.map((lease) => String(lease.token));
    const deadlines = leases.map((lease, i) => deadlineParam(lease.deadline, `leases[${i}].deadline`));
    const result = await this.#query<{ session_id: string; token: string }>('renew', this.#sql.renew, [
      ids,
      tokens,
      owner,
      ms,
      this.#tokenRetention,
      deadlines,
    ]);
    const kept = new Set(result.rows.map((row) => `${row.token} ${row.session_id}`));
    return leases.filter((lease) => !kept.has(`${lease.token} ${lease.sessionId}`)).map((lease) => lease.sessionId);
  }

  /** Ends `lease` if this instance holds it live with that token; the row keeps the token. */
  async release(lease: Lease): Promise<boolean> {
    const owner = this.#me('release');
    checkLease(lease, 'lease');
    const result = await this.#query('release', this.#sql.release, [lease.sessionId, owner, String(lease.token)]);
    return result.rows.length === 1;
  }

  /** One indexed query: rows past their idle deadline (on the database clock) whose lease is not live, oldest first. */
  async adoptable(limit: number): Promise<string[]> {
    this.#me('adoptable');
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ADOPTABLE)
      throw callError(`limit must be an integer from 1 to ${MAX_ADOPTABLE}, got ${show(limit)}`);
    const result = await this.#query<{ session_id: string }>('adoptable', this.#sql.adoptable, [limit]);
    return result.rows.map((row) => row.session_id);
  }

  /** The live lease on `sessionId` (on the database clock), whoever holds it, or `undefined`. */
  async owner(sessionId: string): Promise<Lease | undefined> {
    this.#me('owner');
    checkSessionId(sessionId);
    const result = await this.#query<{ owner: string; token: string }>('owner', this.#sql.owner, [sessionId]);
    const row = result.rows[0];
    return row === undefined ? undefined : { sessionId, owner: row.owner, token: tokenOf(row.token) };
  }

  /** `timeoutMs`: positive integer of ms up to 2^31 − 1, measured on this process's clock. */
  async requestHandover(sessionId: string, owner: string, timeoutMs: number): Promise<HandoverOutcome> {
    const from = this.#me('requestHandover');
    checkSessionId(sessionId);
    if (typeof owner !== 'string' || !INSTANCE_ID.test(owner)) throw callError(`owner must be an instanceId, got ${show(owner)}`);
    return this.#exchange.request(sessionId, from, owner, positiveMs('timeoutMs', timeoutMs));
  }

  /**
   * Deletes now the rows past their `expires_at` (never a live lease's), in batches of 1000, and
   * resolves how many it deleted; joins a sweep already running. The timer does this by itself.
   */
  async sweep(): Promise<number> {
    if (this.#leaving) throw callError('sweep after leave()');
    await this.#prepare('sweep');
    try {
      return await this.#sweeper.sweep();
    } catch (error) {
      throw error instanceof AdapterError ? error : this.#failure('sweep failed', error);
    }
  }

  /**
   * Stops taking hand-over requests (`UNLISTEN *`, then the `LISTEN` connection is given back or
   * closed), stops the sweep, and ends the pool if the coordinator created it. Leases are left to
   * lapse. Idempotent.
   */
  leave(): Promise<void> {
    if (this.#left) return this.#left;
    this.#leaving = true;
    this.#left = (async () => {
      await this.#listener?.stop();
      await this.#sweeper.stop();
      if (this.#ownsPool) {
        try {
          await this.#pool.end();
        } catch (error) {
          throw this.#failure('leave failed', error);
        }
      }
    })();
    return this.#left;
  }

  /** An incoming message: a hand-over request for this instance, or the answer to one it sent. */
  async #notify(operation: string, instanceId: string, message: HandoverMessage): Promise<void> {
    await this.#query(operation, this.#sql.notify, [channelName(this.#table, instanceId), JSON.stringify(message)], false);
  }

  /** Runs the table check and creation once; concurrent callers share it; a failure is not kept. */
  #prepare(operation: string): Promise<void> {
    this.#ready ??= this.#ensureTable().then(
      () => {
        if (!this.#leaving) this.#sweeper.start();
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready.catch((error: unknown) => {
      throw error instanceof AdapterError ? error : this.#failure(`${operation}: cannot prepare table ${this.#sql.table}`, error, true);
    });
  }

  /**
   * Checks the table in the catalog (one query when all is there), creates it and its index when
   * missing (one text of three statements, under the adapter's advisory lock), and checks again.
   */
  async #ensureTable(): Promise<void> {
    let found = await this.#inspect();
    if (found.hasTable) this.#checkLayout(found);
    if (!found.hasTable || !found.hasIndex) {
      await this.#pool.query({ text: this.#sql.create, query_timeout: QUERY_TIMEOUT } as TimedQuery);
      found = await this.#inspect();
    }
    if (!found.hasTable) throw coordinatorError(`table ${this.#sql.table} does not exist after its creation`);
    this.#checkLayout(found);
  }

  async #inspect(): Promise<{ hasTable: boolean; hasIndex: boolean; hasUniqueId: boolean; columns: Record<string, string> }> {
    const result = await this.#pool.query<Record<string, string | null>>({
      text: this.#sql.inspect,
      values: [this.#sql.table],
      types: RAW_TYPES,
      query_timeout: QUERY_TIMEOUT,
    } as TimedQuery);
    const row = result.rows[0]!;
    return {
      hasTable: row.has_table === 't',
      hasIndex: row.has_index === 't',
      hasUniqueId: row.has_unique_id === 't',
      columns: row.columns == null ? {} : (JSON.parse(row.columns) as Record<string, string>),
    };
  }

  /** Throws a non-transient `ERR_REPRISE_ADAPTER` unless the table has the lease table's columns and a unique `session_id`. */
  #checkLayout(found: { hasUniqueId: boolean; columns: Record<string, string> }): void {
    const problems: string[] = [];
    for (const [column, type] of Object.entries(COLUMNS)) {
      const actual = found.columns[column];
      if (actual === undefined) problems.push(`column ${column} is missing`);
      else if (actual !== type) problems.push(`column ${column} is ${actual}, expected ${type}`);
    }
    if (problems.length === 0 && !found.hasUniqueId) problems.push('session_id has no primary key or unique index');
    if (problems.length > 0) {
      throw coordinatorError(`table ${this.#sql.table} is not a lease table of ${NAME}: ${problems.join('; ')}`, undefined, false);
    }
  }

  /**
   * Runs one statement with the query timeout (after the table check when `table`); every failure
   * becomes `ERR_REPRISE_ADAPTER`, classified as the adapter's.
   */
  async #query<R extends QueryResultRow>(operation: string, text: string, values: unknown[], table = true): Promise<QueryResult<R>> {
    if (table) await this.#prepare(operation);
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#failure(`${operation} failed`, error, true);
    }
    let failed: Error | undefined;
    // A connection lost mid-statement also emits 'error' on the lent client; the statement's own
    // rejection reports it, so the event only needs a listener.
    const onError = (error: Error): void => {
      failed ??= error;
    };
    client.on('error', onError);
    try {
      return await client.query<R>({ text, values, types: RAW_TYPES, query_timeout: QUERY_TIMEOUT } as TimedQuery);
    } catch (error) {
      failed = error instanceof Error ? error : new Error(String(error));
      throw this.#failure(`${operation} failed`, error);
    } finally {
      client.removeListener('error', onError);
      client.release(failed); // a failed connection is destroyed rather than reused
    }
  }

  /** The adapter's classification of a failure (`failure` in errors.ts), under this class's name. */
  #failure(what: string, error: unknown, unsent = false): AdapterError {
    const classified = failure(what, error, QUERY_TIMEOUT, unsent);
    return new AdapterError('ERR_REPRISE_ADAPTER', classified.message.replace(/^PostgresAdapter: /, `${NAME}: `), {
      cause: classified.cause,
      transient: classified.transient,
      unsent: classified.unsent,
    });
  }

  #me(operation: string): string {
    if (this.#leaving) throw callError(`${operation} after leave()`);
    if (this.#instanceId === undefined) throw callError(`${operation} before join()`);
    return this.#instanceId;
  }
}

/** Runs `resolve`, giving its `ERR_REPRISE_OPTION` errors this class's name. */
function renamedOptionErrors<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (error instanceof OptionError) throw optionError(error.message.replace(/^PostgresAdapter: /, ''));
    throw error;
  }
}

/** A token as the statements return it (`bigint` as text) as a number. */
function tokenOf(text: string): number {
  const token = /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(token))
    throw coordinatorError(
      'Postgres returned a lease token that is not a positive safe integer (was the row written by something else?)',
      undefined,
      false,
    );
  return token;
}
