import pg from 'pg';
import type { Pool, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { RepriseError, assertKey, assertTtl, assertValue } from '@reprise/core';
import type { SessionAdapter } from '@reprise/core';
import { RAW_TYPES, decodeValue, encodeValue, isWellFormed, keyId, keyLabel } from './codec.js';
import { adapterError, describeFailure, show } from './errors.js';
import { resolveConnection, resolveOptions } from './options.js';
import type { PostgresAdapterOptions, PostgresConnection, ResolvedOptions } from './options.js';
import { ensureSchema } from './schema.js';
import { buildStatements } from './sql.js';
import type { Statements } from './sql.js';
import { Sweeper } from './sweeper.js';

/**
 * Longest TTL honoured, in ms (about 10,000 years); longer ones are cut to it, so that the deadline
 * stays within the range of `timestamptz`.
 */
export const MAX_TTL_MS = 10_000 * 365.25 * 24 * 3600e3;

function checkKey(key: unknown): asserts key is string {
  assertKey('PostgresAdapter', key);
  if (!isWellFormed(key)) throw adapterError('key is not well-formed Unicode (it has a lone surrogate)');
}

function checkValue(value: unknown): asserts value is string {
  assertValue('PostgresAdapter', value);
  if (!isWellFormed(value)) {
    throw adapterError('value is not well-formed Unicode (it has a lone surrogate), so it has no exact UTF-8 form');
  }
}

/**
 * The Postgres {@link SessionAdapter}, on `pg`.
 *
 * - Connections: `{ connectionString }` gives the adapter its own `pg.Pool` (connect timeout,
 *   TCP keep-alive, idle connections that do not keep the process alive), ended by `close()`;
 *   `{ pool }` uses yours, which `close()` never ends. There is no module-global pool.
 * - Storage: one row per key in its own table (see the README for the DDL): the key's SHA-256 as
 *   primary key, the value's UTF-8 bytes as `bytea` (NUL characters intact), and an indexed
 *   `expires_at` on the database clock.
 * - Lazy: nothing happens until the first call, which creates the table if missing (safe when
 *   several processes start together) and starts the sweep timer. A failed preparation is retried
 *   by the next call.
 * - `take` is one `DELETE … RETURNING`: under any concurrency, across processes, one caller gets the value.
 * - Expired rows are never returned; they are deleted by the sweep (an unref'd timer with jitter,
 *   in bounded batches) or when `take` or `delete` meets them.
 * - Every failure rejects with a `RepriseError` of code `ERR_REPRISE_ADAPTER` whose `cause` is
 *   the original error; an unreachable server is a prompt rejection, never a hang. No call retries:
 *   the core owns retries.
 */
export class PostgresAdapter implements SessionAdapter {
  /** `'postgres'`, for reports. */
  readonly name = 'postgres';
  /** `true`: `take` is a single `DELETE … RETURNING`, atomic across processes. */
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
   * Upserts `value` under `key`.
   * @param ttlMs positive finite number of ms the value stays readable, counted on the database
   *   clock from the statement's start; `undefined` = no expiry. Over {@link MAX_TTL_MS} it is cut to it.
   */
  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    checkKey(key);
    checkValue(value);
    assertTtl('PostgresAdapter', ttlMs);
    const ttl = ttlMs === undefined ? null : Math.min(ttlMs, MAX_TTL_MS);
    await this.#query('save', { text: this.#sql.save, values: [keyId(key), keyLabel(key), encodeValue(value), ttl] });
  }

  /** The value under `key`, or `undefined` when missing or expired. */
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
   * Reads and deletes `key` in one statement: exactly one of any number of concurrent callers gets
   * the value; `undefined` when missing or expired (an expired row is deleted too).
   */
  async take(key: string): Promise<string | undefined> {
    checkKey(key);
    const result = await this.#query<{ value: string | null }>('take', {
      text: this.#sql.take,
      values: [keyId(key)],
      types: RAW_TYPES,
    });
    return this.#decode('take', result.rows[0]?.value ?? undefined);
  }

  /** Deletes `key`; `true` when a readable (unexpired) value was deleted. An expired row is deleted too. */
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

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) throw adapterError(`${operation}: the adapter is closed`);
  }

  /** Runs the preparation once; concurrent callers share it; a failure is not kept. */
  #prepare(operation: string): Promise<void> {
    this.#ready ??= ensureSchema(this.#pool, this.#sql, this.#options.table, this.#options.createTable).then(
      () => {
        if (this.#closing === undefined) this.#sweeper.start();
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready.catch((error: unknown) => {
      throw error instanceof RepriseError && error.code === 'ERR_REPRISE_ADAPTER'
        ? error
        : adapterError(`${operation}: cannot prepare table ${this.#sql.table}: ${describeFailure(error)}`, error);
    });
  }

  async #query<R extends QueryResultRow>(operation: string, config: QueryConfig): Promise<QueryResult<R>> {
    this.#checkOpen(operation);
    await this.#prepare(operation);
    try {
      return await this.#pool.query<R>(config);
    } catch (error) {
      throw this.#wrap(operation, error);
    }
  }

  async #deleteBatch(limit: number): Promise<number> {
    const result = await this.#pool.query({ text: this.#sql.sweepBatch, values: [limit] });
    return result.rowCount ?? 0;
  }

  #decode(operation: string, base64: string | undefined): string | undefined {
    if (base64 === undefined) return undefined;
    try {
      return decodeValue(base64);
    } catch (error) {
      throw adapterError(`${operation}: the stored value is not UTF-8 (was the row written by something else?)`, error);
    }
  }

  #wrap(operation: string, error: unknown): RepriseError {
    return adapterError(`${operation} failed: ${describeFailure(error)}`, error);
  }

  #report(error: RepriseError): void {
    try {
      this.#options.onError(error);
    } catch (handlerError) {
      process.emitWarning(`PostgresAdapter: onError threw: ${String(handlerError)}`, { code: 'REPRISE_POSTGRES' });
    }
  }
}
