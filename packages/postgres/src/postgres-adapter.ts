import pg from 'pg';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { AdapterError, type RepriseError } from '@reprise/core';
import type { Fence, SessionAdapter, VersionedValue, VersionedWrite } from '@reprise/core';
import { checkFence, checkKey, checkTtl, checkValue, checkVersion, checkWrites } from './arguments.js';
import { planBatch, statementParams } from './batch.js';
import type { BatchStatement } from './batch.js';
import { RAW_TYPES, decodeValue, encodeValue, keyId, keyLabel } from './codec.js';
import { adapterError, describeFailure, failure, unsentError } from './errors.js';
import { resolveConnection, resolveOptions } from './options.js';
import type { PostgresAdapterOptions, PostgresConnection, ResolvedOptions } from './options.js';
import { ensureSchema } from './schema.js';
import type { TimedQuery } from './schema.js';
import { buildStatements } from './sql.js';
import type { Statements } from './sql.js';
import { Sweeper } from './sweeper.js';

export { MAX_TTL_MS } from './arguments.js';

/**
 * How many times `takeVersioned` runs its statement when a concurrent first write of the key keeps
 * appearing after the statement's snapshot (each retry finds the row, so one is the usual most).
 */
const MAX_TAKE_ATTEMPTS = 5;

/** A query without its timeout (added by the adapter). */
type Query = Omit<TimedQuery, 'query_timeout'>;

/**
 * The Postgres {@link SessionAdapter}, on `pg`.
 *
 * - Connections: `{ connectionString }` gives the adapter its own `pg.Pool` (connect timeout,
 *   TCP keep-alive, idle connections that do not keep the process alive), ended by `close()`;
 *   `{ pool }` uses yours, which `close()` never ends. There is no module-global pool.
 * - Storage: one row per key in its own table (see the README for the DDL): the key's SHA-256 as
 *   primary key, the value's UTF-8 bytes as `bytea` (NUL characters intact; `NULL` for a floor),
 *   the `version` of ordered writes as `bigint`, and an indexed `expires_at` on the database clock.
 * - Ordered (see "Ordered writes" on {@link SessionAdapter}): `saveIfNewer` is one
 *   `INSERT … ON CONFLICT DO UPDATE … WHERE`, `takeVersioned` one statement that locks the row,
 *   and the batch `saveManyIfNewer` one statement for all its entries (`INSERT … SELECT … FROM
 *   unnest(…)` with the same condition).
 * - Lazy: nothing happens until the first call, which creates the table if missing (safe when
 *   several processes start together) and starts the sweep timer. A failed preparation is retried
 *   by the next call.
 * - `take` is one statement that locks the row: under any concurrency, across processes, one caller
 *   gets the value (it leaves a floor at the value's version, or no row for version 0).
 * - Expired rows are never returned; they are deleted by the sweep (an unref'd timer with jitter,
 *   in bounded batches) or when `take` or `delete` meets them.
 * - Every failure rejects with an `AdapterError` of code `ERR_REPRISE_ADAPTER` whose `cause` is
 *   the original error; an unreachable server is a prompt rejection, and a server that stops
 *   answering on an open connection one after `queryTimeout`, never a hang. Refused credentials,
 *   missing privileges and an unknown database are `transient: false`. No call retries: the core
 *   owns retries.
 */
export class PostgresAdapter implements SessionAdapter {
  /** `'postgres'`, for reports. */
  readonly name = 'postgres';
  /** `true`: `take` is one statement that locks the row, atomic across processes. */
  readonly atomic = true;

  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #options: ResolvedOptions;
  readonly #sql: Statements;
  readonly #sweeper: Sweeper;
  /** The preparation (DDL check) in progress or done; reset when it fails, so the next call retries. */
  #ready: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param connection `{ connectionString }` (an own pool) or `{ pool }` (yours).
   * @param options see {@link PostgresAdapterOptions}.
   * @throws RepriseError `ERR_REPRISE_OPTION` when an argument has a wrong type or value, or is unknown.
   */
  constructor(connection: PostgresConnection, options?: PostgresAdapterOptions) {
    const resolved = resolveConnection(connection);
    this.#options = resolveOptions(options, resolved);
    this.#sql = buildStatements(this.#options.table);
    if (resolved.kind === 'own') {
      this.#ownsPool = true;
      this.#pool = new pg.Pool({
        connectionString: resolved.connectionString,
        connectionTimeoutMillis: this.#options.connectTimeout,
        query_timeout: this.#options.queryTimeout,
        keepAlive: true,
        allowExitOnIdle: true,
      });
      // An idle connection that breaks (a server restart) makes the pool emit 'error'; with no
      // listener that would crash the process. The pool drops that connection by itself.
      this.#pool.on('error', (error) => this.#report(adapterError(`an idle connection failed: ${describeFailure(error)}`, error)));
    } else {
      this.#ownsPool = false;
      this.#pool = resolved.pool;
    }
    this.#sweeper = new Sweeper({
      deleteBatch: (limit) => this.#deleteBatch(limit),
      interval: this.#options.sweepInterval,
      batchSize: this.#options.sweepBatchSize,
      onError: (error) => this.#report(this.#wrap('sweep', error)),
    });
  }

  /** The table as SQL (`"name"` or `"schema"."name"`). */
  get table(): string {
    return this.#sql.table;
  }

  /**
   * Upserts `value` under `key` at version 0 (replacing a floor).
   * @param ttlMs positive finite number of ms the value stays readable, counted on the database
   *   clock from the statement's start; `undefined` = no expiry. Over {@link MAX_TTL_MS} it is cut to it.
   */
  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    checkKey(key);
    checkValue(value);
    const ttl = checkTtl(ttlMs);
    await this.#query('save', { text: this.#sql.save, values: [keyId(key), keyLabel(key), encodeValue(value), ttl] });
  }

  /**
   * Stores `value` at `version` when the key holds a value of a lower version, or no value and a
   * version at most `version` (an expired row counts as none); resolves whether it stored.
   * @param version non-negative safe integer (stored as `bigint`).
   * @param ttlMs as for {@link save}.
   */
  async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    checkKey(key);
    checkValue(value);
    checkVersion(version);
    const ttl = checkTtl(ttlMs);
    const result = await this.#query('saveIfNewer', {
      text: this.#sql.saveIfNewer,
      values: [keyId(key), keyLabel(key), encodeValue(value), String(version), ttl],
    });
    return result.rowCount === 1;
  }

  /**
   * A batch of conditional writes in one statement: every entry is stored exactly as
   * `saveIfNewer(key, value, version, ttlMs)` would store it (same condition, an expired row
   * counting as absent), each row decided on its own (not a transaction of all or nothing).
   * Resolves one boolean per entry, in the order given: whether it was stored. An empty batch
   * resolves `[]` without a statement. Values over 32 MiB in all (`MAX_STATEMENT_VALUE_BYTES`) are
   * split over several statements, run one after the other.
   * @param writes `{ key, value, version, ttlMs? }` each, no key twice; `ttlMs` as for {@link save}.
   * Rejects as a whole with `ERR_REPRISE_ADAPTER`: naming the index of the first bad entry (nothing
   * sent); like `saveIfNewer` otherwise (`unsent` when no connection could be had, a `queryTimeout`
   * not `unsent`: the statement may have run).
   */
  async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    const operation = 'saveManyIfNewer';
    this.#checkOpen(operation);
    const checked = checkWrites(writes);
    const stored = new Array<boolean>(checked.length).fill(false);
    for (const [n, statement] of planBatch(checked).entries()) {
      const rows = await this.#storeMany(operation, statement, n > 0);
      for (const [i, hex] of statement.hexIds.entries()) stored[statement.indexes[i]!] = rows.has(hex);
    }
    return stored;
  }

  /** The value under `key`, or `undefined` when missing, expired or only a floor. */
  async load(key: string): Promise<string | undefined> {
    checkKey(key);
    const result = await this.#query<{ value: string }>('load', {
      text: this.#sql.load,
      values: [keyId(key)],
      types: RAW_TYPES,
    });
    return this.#decode('load', result.rows[0]?.value);
  }

  /**
   * Reads and removes the value of `key` in one statement, leaving a floor at its version (see
   * {@link takeVersioned}): exactly one of any number of concurrent callers gets the value;
   * `undefined` when missing or expired (an expired row is deleted too).
   */
  async take(key: string): Promise<string | undefined> {
    return (await this.#take('take', key, undefined))?.value;
  }

  /**
   * Takes the value of `key` with its version, leaving a floor; with `fence`, takes only a value of
   * a version up to `fence.version` and raises the key's version to at least it (a floor it creates
   * lives `fence.ttlMs` ms on the database clock; `undefined`: until `delete`). One statement.
   */
  async takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    return this.#take('takeVersioned', key, fence);
  }

  /** Deletes `key` (a floor too); `true` when a readable (unexpired) value was deleted. An expired row is deleted too. */
  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const result = await this.#query<{ live: string }>('delete', {
      text: this.#sql.delete,
      values: [keyId(key)],
      types: RAW_TYPES,
    });
    return result.rows[0]?.live === 't';
  }

  /**
   * Deletes every expired row now, in batches of `sweepBatchSize`, and resolves to how many it
   * deleted. Joins the sweep already running, if any (sweeps never overlap).
   */
  async sweep(): Promise<number> {
    this.#checkOpen('sweep');
    await this.#prepare('sweep');
    try {
      return await this.#sweeper.sweep();
    } catch (error) {
      throw this.#wrap('sweep', error);
    }
  }

  /**
   * Stops the sweep timer, waits for a running sweep, and ends the pool if the adapter created it
   * (a pool you passed stays open). Later calls reject. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#sweeper.stop();
      if (this.#ownsPool) {
        try {
          await this.#pool.end();
        } catch (error) {
          throw this.#wrap('close', error);
        }
      }
    })();
    return this.#closing;
  }

  async #take(operation: string, key: string, fence: unknown): Promise<VersionedValue | undefined> {
    checkKey(key);
    const checked = checkFence(fence);
    const values = [
      keyId(key),
      keyLabel(key),
      checked === undefined ? null : String(checked.version),
      checked === undefined ? null : checkTtl(checked.ttlMs),
    ];
    for (let attempt = 1; attempt <= MAX_TAKE_ATTEMPTS; attempt++) {
      const result = await this.#query<{ value: string | null; version: string; retry: string }>(operation, {
        text: this.#sql.take,
        values,
        types: RAW_TYPES,
      });
      const row = result.rows[0]!;
      if (row.retry === 't') continue;
      if (row.value === null) return undefined;
      return { value: this.#decode(operation, row.value)!, version: this.#version(operation, row.version) };
    }
    throw adapterError(`${operation}: the key was written concurrently ${MAX_TAKE_ATTEMPTS} times in a row; try again`);
  }

  /**
   * Runs one statement of a batch; resolves the hex ids of the rows it stored. A statement after
   * the first (`followsOthers`) that could not be sent is not `unsent`: the batch's earlier
   * statements were carried out.
   */
  async #storeMany(operation: string, statement: BatchStatement, followsOthers: boolean): Promise<Set<string>> {
    try {
      const result = await this.#query<{ id: string }>(operation, {
        text: this.#sql.saveManyIfNewer,
        values: statementParams(statement),
        types: RAW_TYPES,
      });
      return new Set(result.rows.map((row) => row.id));
    } catch (error) {
      if (!followsOthers || !(error instanceof AdapterError) || !error.unsent) throw error;
      throw adapterError(
        `${error.message.replace(/^PostgresAdapter: /, '')} (earlier statements of the batch were carried out)`,
        error.cause,
      );
    }
  }

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) throw unsentError(`${operation}: the adapter is closed`);
  }

  /** Runs the preparation once; concurrent callers share it; a failure is not kept. */
  #prepare(operation: string): Promise<void> {
    this.#ready ??= ensureSchema(this.#pool, this.#sql, this.#options.table, this.#options.createTable, this.#options.queryTimeout).then(
      () => {
        if (this.#closing === undefined) this.#sweeper.start();
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    // The operation's own statement is never sent when the preparation fails: a transient failure is unsent.
    return this.#ready.catch((error: unknown) => {
      if (!(error instanceof AdapterError))
        throw failure(`${operation}: cannot prepare table ${this.#sql.table}`, error, this.#options.queryTimeout, true);
      throw error.transient && !error.unsent ? unsentError(error.message.replace(/^PostgresAdapter: /, ''), error.cause) : error;
    });
  }

  /**
   * Runs one statement with `queryTimeout`, after the preparation; every failure becomes
   * `ERR_REPRISE_ADAPTER`, `unsent` when no connection could be had (the statement was never sent).
   */
  async #query<R extends QueryResultRow>(operation: string, query: Query): Promise<QueryResult<R>> {
    this.#checkOpen(operation);
    await this.#prepare(operation);
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw failure(`${operation} failed`, error, this.#options.queryTimeout, true);
    }
    let failed: Error | undefined;
    // A connection lost mid-statement also emits 'error' on the lent client; the statement's own
    // rejection reports it, so the event only needs a listener (as pool.query() gives it).
    const onError = (error: Error): void => {
      failed ??= error;
    };
    client.on('error', onError);
    try {
      return await client.query<R>({ ...query, query_timeout: this.#options.queryTimeout } as TimedQuery);
    } catch (error) {
      failed = error instanceof Error ? error : new Error(String(error));
      throw this.#wrap(operation, error);
    } finally {
      client.removeListener('error', onError);
      // A failed connection is destroyed rather than reused (as pool.query() does).
      client.release(failed);
    }
  }

  async #deleteBatch(limit: number): Promise<number> {
    const query: TimedQuery = { text: this.#sql.sweepBatch, values: [limit], query_timeout: this.#options.queryTimeout };
    const result = await this.#pool.query(query);
    return result.rowCount ?? 0;
  }

  /** A version read as text from a `bigint` column, as a number: exact for every safe integer. */
  #version(operation: string, text: string): number {
    const version = /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(version)) {
      throw adapterError(
        `${operation}: the stored version is not a non-negative safe integer (was the row written by something else?)`,
        undefined,
        false,
      );
    }
    return version;
  }

  #decode(operation: string, base64: string | undefined): string | undefined {
    if (base64 === undefined) return undefined;
    try {
      return decodeValue(base64);
    } catch (error) {
      throw adapterError(`${operation}: the stored value is not UTF-8 (was the row written by something else?)`, error);
    }
  }

  #wrap(operation: string, error: unknown): AdapterError {
    return failure(`${operation} failed`, error, this.#options.queryTimeout);
  }

  #report(error: RepriseError): void {
    try {
      this.#options.onError(error);
    } catch (handlerError) {
      process.emitWarning(`PostgresAdapter: onError threw: ${String(handlerError)}`, { code: 'REPRISE_POSTGRES' });
    }
  }
}
