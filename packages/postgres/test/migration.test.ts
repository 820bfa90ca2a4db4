import { expect } from 'chai';
import type pg from 'pg';
import { PostgresAdapter, migrateTableSql, parseTableName } from '../src/index.js';
import { POSTGRES_URL, expectRejection, tableFixture } from './helpers.js';

/** The DDL of @reprise/postgres 0.1, before ordered writes: no version, value NOT NULL. */
function previousReleaseDdl(table: string): string[] {
  return [
    `CREATE TABLE "${table}" (id bytea PRIMARY KEY, key text NOT NULL, value bytea NOT NULL, expires_at timestamptz)`,
    `CREATE INDEX "${table}_expires_at_idx" ON "${table}" (expires_at)`,
    // A snapshot written by 0.1: sha256('user:42'), "old snapshot", one hour left.
    `INSERT INTO "${table}" VALUES (sha256(convert_to('user:42', 'UTF8')), 'user:42', convert_to('old snapshot', 'UTF8'), now() + interval '1 hour')`,
  ];
}

async function columns(admin: pg.Pool, table: string): Promise<Array<Record<string, string | null>>> {
  const result = await admin.query(
    `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = $1 ORDER BY column_name`,
    [table],
  );
  return result.rows;
}

describe('PostgresAdapter: upgrading a table of @reprise/postgres 0.1', () => {
  const { admin: adminOf, freshTable, track } = tableFixture();
  let admin: pg.Pool;

  before(() => {
    admin = adminOf();
  });

  it('adds version (0 for existing rows) and lets value be NULL, under the advisory lock, from 5 adapters at once', async () => {
    const table = freshTable();
    for (const statement of previousReleaseDdl(table)) await admin.query(statement);
    const group = Array.from({ length: 5 }, () =>
      track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false })),
    );
    const outcomes = await Promise.allSettled(group.map((adapter, i) => adapter.saveIfNewer(`k${i}`, 'v', i + 1)));
    expect(outcomes.filter((o) => o.status === 'rejected')).to.deep.equal([]);
    expect(await columns(admin, table)).to.deep.include.members([
      { column_name: 'value', data_type: 'bytea', is_nullable: 'YES', column_default: null },
      { column_name: 'version', data_type: 'bigint', is_nullable: 'NO', column_default: '0' },
    ]);
    expect(await group[0]!.load('user:42')).to.equal('old snapshot');
    expect(await group[1]!.takeVersioned('user:42')).to.deep.equal({ value: 'old snapshot', version: 0 });
    expect(await group[2]!.takeVersioned('k0')).to.deep.equal({ value: 'v', version: 1 });
    const floor = await admin.query(`SELECT value, version FROM "${table}" WHERE key = 'k0'`);
    expect(floor.rows).to.deep.equal([{ value: null, version: '1' }]);
  });

  it('with createTable false, refuses (not transient) with the upgrade to run, then works once it ran', async () => {
    const table = freshTable();
    for (const statement of previousReleaseDdl(table)) await admin.query(statement);
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, createTable: false, sweepInterval: false }));
    const error = await expectRejection(
      adapter.load('user:42'),
      'ERR_REPRISE_ADAPTER',
      /was created by @reprise\/postgres 0\.1 and needs the upgrade in the README .*ALTER TABLE .* ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0; ALTER TABLE .* ALTER COLUMN value DROP NOT NULL;/,
    );
    expect(error).to.have.property('transient', false);
    expect((await columns(admin, table)).map((c) => c.column_name)).not.to.include('version');
    for (const statement of migrateTableSql(parseTableName(table))) await admin.query(statement);
    expect(await adapter.load('user:42')).to.equal('old snapshot');
  });

  it('a table with version but value still NOT NULL gets only the missing change', async () => {
    const table = freshTable();
    for (const statement of previousReleaseDdl(table)) await admin.query(statement);
    await admin.query(`ALTER TABLE "${table}" ADD COLUMN version bigint NOT NULL DEFAULT 0`);
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
    await adapter.saveIfNewer('k', 'v', 3);
    expect(await adapter.take('k')).to.equal('v');
    expect((await columns(admin, table)).find((c) => c.column_name === 'value')?.is_nullable).to.equal('YES');
  });

  it('a table whose version column has another type is refused, not changed', async () => {
    const table = freshTable();
    await admin.query(
      `CREATE TABLE "${table}" (id bytea PRIMARY KEY, key text NOT NULL, value bytea, version integer NOT NULL DEFAULT 0, expires_at timestamptz)`,
    );
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
    const error = await expectRejection(
      adapter.save('k', 'v'),
      'ERR_REPRISE_ADAPTER',
      /does not have the layout of @reprise\/postgres: column version is integer, expected bigint/,
    );
    expect(error).to.have.property('transient', false);
  });
});
