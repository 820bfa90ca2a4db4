import { expect } from 'chai';
import type pg from 'pg';
import type { PoolClient, QueryConfig } from 'pg';
import { RepriseError } from '@reprise/core';
import { PostgresAdapter } from '../src/index.js';
import { POSTGRES_URL, rowCount, sleep, tableFixture, waitFor } from './helpers.js';

describe('PostgresAdapter: sweep', () => {
  const { admin: adminOf, freshTable, track } = tableFixture();
  let admin: pg.Pool;

  before(() => {
    admin = adminOf();
  });

  it('keeps expired rows unreadable, and in the table until a sweep deletes them', async () => {
    const table = freshTable();
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
    await adapter.save('short', 'v', 30);
    await adapter.save('long', 'v', 60_000);
    await sleep(80);
    expect(await adapter.load('short')).to.equal(undefined);
    expect(await rowCount(admin, `"${table}"`), 'load does not delete').to.equal(2);
    expect(await adapter.sweep()).to.equal(1);
    expect(await rowCount(admin, `"${table}"`)).to.equal(1);
    expect(await adapter.load('long')).to.equal('v');
    expect(await adapter.sweep()).to.equal(0);
  });

  it('sweeps on its timer: expired rows go, live and TTL-less rows stay', async () => {
    const table = freshTable();
    const adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: 100 }));
    for (let i = 0; i < 5; i++) await adapter.save(`expiring${i}`, 'v', 50);
    await adapter.save('forever1', 'v');
    await adapter.save('forever2', 'v');
    await adapter.save('later', 'v', 60_000);
    expect(await rowCount(admin, `"${table}"`)).to.equal(8);
    const swept = await waitFor(async () => (await rowCount(admin, `"${table}"`)) === 3, 3000);
    expect(swept, 'the timer swept the expired rows').to.equal(true);
    const left = await admin.query<{ key: string }>(`SELECT key FROM "${table}" ORDER BY key`);
    expect(left.rows.map((row) => row.key)).to.deep.equal(['forever1', 'forever2', 'later']);
  });

  it('deletes in batches of sweepBatchSize until a batch comes back short', async () => {
    const table = freshTable();
    const statements: string[] = [];
    const recording = {
      query: (config: QueryConfig) => {
        statements.push(config.text);
        return admin.query(config);
      },
      connect: (): Promise<PoolClient> => admin.connect(),
    } as unknown as pg.Pool;
    const adapter = track(new PostgresAdapter({ pool: recording }, { table, sweepInterval: false, sweepBatchSize: 2 }));
    for (let i = 0; i < 7; i++) await adapter.save(`e${i}`, 'v', 20);
    await adapter.save('live', 'v');
    await sleep(60);
    const before = statements.length;
    expect(await adapter.sweep()).to.equal(7);
    expect(statements.slice(before).filter((text) => text.includes('SKIP LOCKED'))).to.have.length(4); // 2+2+2+1
    expect(await rowCount(admin, `"${table}"`)).to.equal(1);
  });

  it('two adapters sweeping one table at once delete each row once', async () => {
    const table = freshTable();
    const a = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false, sweepBatchSize: 50 }));
    const b = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false, sweepBatchSize: 50 }));
    await a.save('init', 'v');
    await admin.query(
      `INSERT INTO "${table}" (id, key, value, expires_at)
       SELECT sha256(convert_to('k' || i, 'UTF8')), 'k' || i, '\\x76'::bytea, now() - interval '1 second'
       FROM generate_series(1, 1000) AS i`,
    );
    const [fromA, fromB] = await Promise.all([a.sweep(), b.sweep()]);
    expect(fromA + fromB).to.equal(1000);
    expect(await rowCount(admin, `"${table}"`)).to.equal(1);
  });

  it('reports a failed background sweep through onError, with the cause, and keeps sweeping', async () => {
    const table = freshTable();
    const errors: RepriseError[] = [];
    const adapter = track(
      new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: 40, onError: (error) => errors.push(error) }),
    );
    await adapter.save('k', 'v');
    await admin.query(`DROP TABLE "${table}"`);
    expect(await waitFor(() => errors.length >= 2, 3000), 'two failed sweeps reported').to.equal(true);
    expect(errors[0]).to.be.instanceOf(RepriseError);
    expect(errors[0]!.code).to.equal('ERR_REPRISE_ADAPTER');
    expect(errors[0]!.message).to.match(/PostgresAdapter: sweep failed: relation .* does not exist \(42P01\)/);
    expect(errors[0]!.cause).to.have.property('code', '42P01');
  });
});
