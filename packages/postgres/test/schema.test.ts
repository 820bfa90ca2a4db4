import { expect } from 'chai';
import type pg from 'pg';
import type { PoolClient, QueryConfig } from 'pg';
import { PostgresAdapter, createIndexSql, createTableSql, parseTableName } from '../src/index.js';
import { buildStatements } from '../src/sql.js';
import { POSTGRES_URL, expectRejection, tableFixture, uniqueName } from './helpers.js';

/**
 * A stand-in for a caller's pool that records the text of every statement, sent through it or through
 * a client it lent (the client's own `query` is restored at release, so the shared pool's clients are
 * left as they were); `transactions()` counts the BEGINs.
 */
function recordingPool(pool: pg.Pool): { pool: pg.Pool; texts: string[]; transactions: () => number } {
  const texts: string[] = [];
  const record = (config: unknown): void => void texts.push(typeof config === 'string' ? config : (config as QueryConfig).text);
  const fake = {
    query: (config: QueryConfig | string, values?: unknown[]) => {
      record(config);
      return pool.query(config as QueryConfig, values);
    },
    connect: async (): Promise<PoolClient> => {
      const client = await pool.connect();
      const patched = client as unknown as { query: (...args: unknown[]) => unknown; release: (...args: unknown[]) => void };
      const { query, release } = patched;
      patched.query = (...args) => {
        record(args[0]);
        return query.apply(client, args);
      };
      patched.release = (...args) => {
        patched.query = query;
        patched.release = release;
        release.apply(client, args);
      };
      return client;
    },
  };
  return { pool: fake as unknown as pg.Pool, texts, transactions: () => texts.filter((text) => /^\s*BEGIN/i.test(text)).length };
}

async function indexesOf(admin: pg.Pool, schema: string, table: string): Promise<string[]> {
  const result = await admin.query<{ indexdef: string }>(
    'SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname',
    [schema, table],
  );
  return result.rows.map((row) => row.indexdef);
}

describe('PostgresAdapter: table', () => {
  const { admin: adminOf, freshTable, track, onCleanup } = tableFixture();
  const schemas: string[] = [];
  let admin: pg.Pool;

  before(() => {
    admin = adminOf();
  });

  onCleanup(async (pool) => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });

  it('does nothing before the first call, then creates the table and its expiry index', async () => {
    const table = freshTable();
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
    const before = await admin.query('SELECT to_regclass($1) AS oid', [`"${table}"`]);
    expect(before.rows[0].oid).to.equal(null);
    await adapter.save('k', 'v');
    expect(await indexesOf(admin, 'public', table)).to.deep.equal([
      `CREATE INDEX ${table}_expires_at_idx ON public.${table} USING btree (expires_at)`,
      `CREATE UNIQUE INDEX ${table}_pkey ON public.${table} USING btree (id)`,
    ]);
    const columns = await admin.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    expect(columns.rows).to.deep.equal([
      { column_name: 'id', data_type: 'bytea', is_nullable: 'NO' },
      { column_name: 'key', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'value', data_type: 'bytea', is_nullable: 'YES' },
      { column_name: 'version', data_type: 'bigint', is_nullable: 'NO' },
      { column_name: 'expires_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
    ]);
  });

  it('is safe when 5 adapters with their own pools prepare the same new table at once (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const table = freshTable();
      const group = Array.from(
        { length: 5 },
        () => new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }),
      );
      try {
        const outcomes = await Promise.allSettled(group.map((adapter, i) => adapter.save(`k${i}`, `v${i}`)));
        expect(
          outcomes.filter((o) => o.status === 'rejected'),
          `round ${round}`,
        ).to.deep.equal([]);
        const count = await admin.query(`SELECT count(*)::int AS n FROM "${table}"`);
        expect(count.rows[0].n).to.equal(5);
        expect(await indexesOf(admin, 'public', table)).to.have.length(2);
        for (let i = 0; i < 5; i++) expect(await group[(i + 1) % 5]!.load(`k${i}`)).to.equal(`v${i}`);
      } finally {
        await Promise.all(group.map((adapter) => adapter.close()));
      }
    }
  });

  it('runs no DDL when the table is ready: one catalog query, no transaction, no lock', async () => {
    const table = freshTable();
    await track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false })).save('k', 'v');
    const recorder = recordingPool(admin);
    const adapter = track(new PostgresAdapter({ pool: recorder.pool }, { table, sweepInterval: false }));
    expect(await adapter.load('k')).to.equal('v');
    expect(await adapter.load('k')).to.equal('v');
    expect(recorder.transactions()).to.equal(0);
    expect(recorder.texts.filter((text) => /CREATE|pg_advisory/.test(text))).to.deep.equal([]);
    expect(recorder.texts.filter((text) => text.includes('to_regclass'))).to.have.length(1);
    expect(recorder.texts).to.have.length(3);
  });

  it('shares one preparation between concurrent first calls', async () => {
    const table = freshTable();
    const recorder = recordingPool(admin);
    const adapter = track(new PostgresAdapter({ pool: recorder.pool }, { table, sweepInterval: false }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => adapter.save(`k${i}`, 'v')));
    expect(recorder.transactions(), 'one DDL transaction').to.equal(1);
    expect(
      recorder.texts.filter((text) => text.includes('to_regclass')),
      'inspect before and after the DDL',
    ).to.have.length(2);
  });

  it('quotes schema-qualified names with odd characters, and keeps their case', async () => {
    const schema = uniqueName('reprise_test_schema');
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const name = 'Odd "Name"; DROP TABLE x; --';
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table: `${schema}.${name}`, sweepInterval: false }));
    expect(adapter.table).to.equal(`"${schema}"."Odd ""Name""; DROP TABLE x; --"`);
    await adapter.save('k', 'v');
    expect(await adapter.load('k')).to.equal('v');
    const found = await admin.query('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema]);
    expect(found.rows).to.deep.equal([{ tablename: name }]);
    const indexes = await indexesOf(admin, schema, name);
    expect(indexes).to.have.length(2);
    expect(indexes[0]).to.match(/expires_at_idx.*USING btree \(expires_at\)$/);
  });

  it('rejects when the schema does not exist, and works once it does (a failed preparation is retried)', async () => {
    const schema = uniqueName('reprise_test_schema');
    schemas.push(schema);
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table: `${schema}.t`, sweepInterval: false }));
    const error = await expectRejection(
      adapter.save('k', 'v'),
      'ERR_REPRISE_ADAPTER',
      /save: cannot prepare table .*does not exist \(3F000\)/,
    );
    expect(error.cause).to.have.property('code', '3F000');
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await adapter.save('k', 'v');
    expect(await adapter.load('k')).to.equal('v');
  });

  it('with createTable false, runs no DDL and rejects until the table exists (created with the README DDL)', async () => {
    const table = freshTable();
    const recorder = recordingPool(admin);
    const adapter = track(new PostgresAdapter({ pool: recorder.pool }, { table, createTable: false, sweepInterval: false }));
    await expectRejection(
      adapter.load('k'),
      'ERR_REPRISE_ADAPTER',
      /table "reprise_test_\w+" does not exist \(createTable is false: create it with the DDL in the README\)/,
    );
    expect(recorder.transactions()).to.equal(0);
    expect(recorder.texts.filter((text) => text.includes('CREATE'))).to.deep.equal([]);
    const name = parseTableName(table);
    await admin.query(createTableSql(name));
    await admin.query(createIndexSql(name));
    await adapter.save('k', 'v');
    expect(await adapter.take('k')).to.equal('v');
  });

  it('refuses a table of another layout (a @keyv/postgres table, say) with a clear message', async () => {
    const table = freshTable();
    await admin.query(`CREATE TABLE "${table}" (key varchar(255) PRIMARY KEY, value text)`);
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
    await expectRejection(
      adapter.save('k', 'v'),
      'ERR_REPRISE_ADAPTER',
      /does not have the layout of @reprise\/postgres: column id is missing; column key is character varying\(255\), expected text; column value is text, expected bytea; column expires_at is missing/,
    );
  });

  it('refuses a table whose id is not unique', async () => {
    const table = freshTable();
    await admin.query(`CREATE TABLE "${table}" (id bytea, key text NOT NULL, value bytea NOT NULL, expires_at timestamptz)`);
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, createTable: false, sweepInterval: false }));
    await expectRejection(adapter.load('k'), 'ERR_REPRISE_ADAPTER', /id has no primary key or unique index/);
  });

  it('lets the sweep use the expiry index', async () => {
    const table = freshTable();
    await track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false })).save('k', 'v', 1000);
    const { sweepBatch, index } = buildStatements(parseTableName(table));
    const client = await admin.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const plan = await client.query({ text: `EXPLAIN ${sweepBatch}`, values: [1000] });
      const text = plan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
      expect(text).to.include(index);
      expect(text).to.match(/Index Cond: \(expires_at <= now\(\)\)/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
