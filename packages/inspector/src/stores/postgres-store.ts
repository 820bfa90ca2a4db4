import pg from 'pg';
import type { TableName } from '@reprise/postgres';
import { storeError } from '../errors.js';
import { matches, sqlLike } from '../pattern.js';
import type { KeyPattern } from '../pattern.js';
import type { SnapshotStore, StoredEntry } from './store.js';

/** Rows per page of a scan (values are read whole, up to `maxSnapshotBytes` each). */
const PAGE_ROWS = 100;

/** The columns of a `PostgresAdapter` table, with their types as `format_type` spells them. */
const SNAPSHOT_COLUMNS: Readonly<Record<string, string>> = Object.freeze({
  id: 'bytea',
  key: 'text',
  value: 'bytea',
  version: 'bigint',
  expires_at: 'timestamp with time zone',
});

/** Every column as the server's text: the client's (or anyone's) type parsers play no part. */
const RAW_TYPES = { getTypeParser: () => (raw: string) => raw };

/** Where to connect and what to read. */
export interface PostgresStoreOptions {
  /** A `postgres://` or `postgresql://` connection string. */
  readonly url: string;
  readonly table: TableName;
  /** ms to connect, and for each statement. */
  readonly timeout: number;
  /** The URL for messages (password hidden). */
  readonly safeUrl: string;
}

/** A row as the queries below return it (every column as text). */
interface Row {
  id: string;
  key: string;
  value: string | null;
  version: string;
  expires_at: string | null;
  ttl_ms: string | null;
}

/** `"ident"` with `"` doubled. */
function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/**
 * Reads the table of `PostgresAdapter` (`id` = SHA-256 of the key, `key`, `value` bytes or `NULL`
 * for a floor, `version`, `expires_at`). The table has no index on `key`, so a scan walks the primary
 * key in keyset pages of {@link PAGE_ROWS} rows, each filtered by `key LIKE` (no long transaction,
 * no lock held, no offset); a lookup by key uses the primary key (`id = sha256(key)`).
 * Rows past `expires_at` that the adapter's sweep has not deleted yet are returned with `ttlMs <= 0`.
 */
export class PostgresStore implements SnapshotStore {
  readonly description: string;
  readonly #client: pg.Client;
  readonly #options: PostgresStoreOptions;
  readonly #table: string;
  #closed = false;

  private constructor(client: pg.Client, options: PostgresStoreOptions) {
    this.#client = client;
    this.#options = options;
    const { schema, name } = options.table;
    this.#table = schema === undefined ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`;
    this.description = `Postgres ${options.safeUrl}, table ${this.#table}`;
  }

  /**
   * Connects and checks that the table exists and has the adapter's layout.
   * @throws InspectorError `ERR_REPRISE_INSPECTOR_STORE` when Postgres cannot be reached, or the table is missing or another table.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const client = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.timeout,
      query_timeout: options.timeout,
    });
    client.on('error', () => {}); // a broken connection also rejects the query that meets it
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw storeError(`cannot reach Postgres at ${options.safeUrl}`, error);
    }
    const store = new PostgresStore(client, options);
    try {
      await store.#checkLayout();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async *scan(pattern: KeyPattern): AsyncIterable<StoredEntry[]> {
    const like = sqlLike(pattern);
    let after = '';
    for (;;) {
      const rows = await this.#query(
        `${this.#select()} WHERE id > decode($1, 'hex') AND key LIKE $2 ESCAPE '\\' ORDER BY id LIMIT ${PAGE_ROWS}`,
        [after, like],
      );
      const entries = rows.filter((row) => matches(pattern, row.key)).map(toEntry);
      if (entries.length > 0) yield entries;
      if (rows.length < PAGE_ROWS) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const rows = await this.#query(`${this.#select()} WHERE id = sha256(convert_to($1, 'UTF8'))`, [key]);
    return rows[0] === undefined ? undefined : toEntry(rows[0]);
  }

  async delete(entries: readonly StoredEntry[]): Promise<number> {
    let deleted = 0;
    for (let start = 0; start < entries.length; start += PAGE_ROWS) {
      const ids = entries.slice(start, start + PAGE_ROWS).map((entry) => entry.ref);
      const rows = await this.#query(
        `DELETE FROM ${this.#table} WHERE id IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h) RETURNING 1 AS deleted`,
        [ids],
      );
      deleted += rows.length;
    }
    return deleted;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.end().catch(() => {});
  }

  #select(): string {
    return [
      "SELECT encode(id, 'hex') AS id, key, encode(value, 'base64') AS value, version,",
      '  (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at,',
      '  (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ttl_ms',
      `FROM ${this.#table}`,
    ].join('\n');
  }

  async #checkLayout(): Promise<void> {
    const rows = await this.#query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
       WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
      [this.#table],
    );
    if (rows.length === 0) throw storeError(`table ${this.#table} does not exist at ${this.#options.safeUrl}`);
    const columns = new Map(rows.map((row) => [row.name, row.type]));
    const problems = Object.entries(SNAPSHOT_COLUMNS)
      .filter(([name, type]) => columns.get(name) !== type)
      .map(([name, type]) => (columns.has(name) ? `${name} is ${columns.get(name)}, expected ${type}` : `no column ${name}`));
    if (problems.length === 0) return;
    const hint = columns.has('lease_until')
      ? 'it looks like the lease table of PostgresCoordinator, which holds no snapshots'
      : columns.has('key') && !columns.has('version')
        ? 'a table of @reprise/postgres 0.1: upgrade it as its README says (any 0.2 adapter does it at start)'
        : 'give the table of PostgresAdapter with --table';
    throw storeError(`table ${this.#table} is not a Reprise snapshot table (${problems.join('; ')}): ${hint}`);
  }

  async #query<R extends object = Row>(text: string, values: unknown[]): Promise<R[]> {
    try {
      const result = await this.#client.query<R>({ text, values, types: RAW_TYPES } as pg.QueryConfig);
      return result.rows;
    } catch (error) {
      throw storeError(`Postgres at ${this.#options.safeUrl} failed`, error);
    }
  }
}

/** A row as an entry: a `NULL` value is a floor. */
function toEntry(row: Row): StoredEntry {
  const value = row.value === null ? undefined : Buffer.from(row.value, 'base64');
  return {
    key: row.key,
    ref: row.id,
    layout: value === undefined ? 'floor' : 'value',
    value,
    bytes: value?.length ?? 0,
    version: row.version,
    expiresAt: row.expires_at === null ? undefined : Math.round(Number(row.expires_at)),
    ttlMs: row.ttl_ms === null ? undefined : Math.round(Number(row.ttl_ms)),
    detail: value === undefined ? `version ${row.version}, no value (taken by a restore)` : undefined,
  };
}
