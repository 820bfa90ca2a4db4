import { expect } from 'chai';
import pg from 'pg';
import type { PoolClient, QueryConfig } from 'pg';
import type { RepriseError } from '@reprise/core';
import { PostgresAdapter } from '../src/index.js';
import { POSTGRES_URL, adminPool, dropTables, expectRejection, sleep, uniqueName, waitFor } from './helpers.js';

/** `POSTGRES_URL` with an application_name, so the test can find the adapter's connections on the server. */
function urlNamed(applicationName: string): string {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

async function connectionsNamed(admin: pg.Pool, applicationName: string): Promise<number> {
  const result = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
    applicationName,
  ]);
  return result.rows[0]!.n;
}

describe('PostgresAdapter: pools and close()', () => {
  let admin: pg.Pool;
  const tables: string[] = [];

  function freshTable(): string {
    const name = uniqueName();
    tables.push(`"${name}"`);
    return name;
  }

  before(() => {
    admin = adminPool();
  });

  after(async () => {
    await dropTables(admin, ...tables);
    await admin.end();
  });

  it('never ends a caller-owned pool', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    try {
      const adapter = new PostgresAdapter({ pool }, { table: freshTable() });
      await adapter.save('k', 'v');
      await adapter.close();
      expect(pool.ended).to.equal(false);
      expect((await pool.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
      await expectRejection(adapter.load('k'), 'ERR_REPRISE_ADAPTER', /load: the adapter is closed/);
    } finally {
      await pool.end();
    }
  });

  it('ends the pool it created: its connections leave the server', async () => {
    const name = uniqueName('reprise_app');
    const adapter = new PostgresAdapter({ connectionString: urlNamed(name) }, { table: freshTable() });
    await Promise.all([adapter.save('a', 'v'), adapter.save('b', 'v')]);
    expect(await connectionsNamed(admin, name)).to.be.at.least(1);
    await adapter.close();
    expect(await waitFor(async () => (await connectionsNamed(admin, name)) === 0, 3000)).to.equal(true);
    await adapter.close(); // idempotent: no "Called end on pool more than once"
    for (const call of [adapter.save('k', 'v'), adapter.load('k'), adapter.take('k'), adapter.delete('k'), adapter.sweep()]) {
      await expectRejection(call, 'ERR_REPRISE_ADAPTER', /: the adapter is closed$/);
    }
  });

  it('close() stops the sweep timer', async () => {
    let sweeps = 0;
    const recording = {
      query: (config: QueryConfig) => {
        if (config.text.includes('SKIP LOCKED')) sweeps++;
        return admin.query(config);
      },
      connect: (): Promise<PoolClient> => admin.connect(),
    } as unknown as pg.Pool;
    const adapter = new PostgresAdapter({ pool: recording }, { table: freshTable(), sweepInterval: 20 });
    await adapter.save('k', 'v');
    expect(await waitFor(() => sweeps >= 2, 2000), 'the timer sweeps').to.equal(true);
    await adapter.close();
    const atClose = sweeps;
    await sleep(150);
    expect(sweeps).to.equal(atClose);
  });

  it('reports an idle connection the server killed through onError, and keeps working', async () => {
    const name = uniqueName('reprise_app');
    const errors: RepriseError[] = [];
    const adapter = new PostgresAdapter(
      { connectionString: urlNamed(name) },
      { table: freshTable(), onError: (error) => errors.push(error), sweepInterval: false },
    );
    try {
      await adapter.save('k', 'v');
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      expect(await waitFor(() => errors.length > 0, 3000), 'onError called').to.equal(true);
      expect(errors[0]!.code).to.equal('ERR_REPRISE_ADAPTER');
      expect(errors[0]!.message).to.match(/an idle connection failed: terminating connection due to administrator command \(57P01\)/);
      expect(errors[0]!.cause).to.have.property('code', '57P01');
      expect(await adapter.load('k')).to.equal('v');
    } finally {
      await adapter.close();
    }
  });

  it('reads values intact from a pool with hostile type parsers and bytea_output = escape', async () => {
    const pool = new pg.Pool({
      connectionString: POSTGRES_URL,
      max: 2,
      options: '-c bytea_output=escape',
      types: { getTypeParser: () => () => 'HIJACKED' } as unknown as pg.CustomTypesConfig,
    });
    try {
      expect((await pool.query("SELECT '\\x00'::bytea AS v")).rows[0].v, 'the pool is hostile').to.equal('HIJACKED');
      const adapter = new PostgresAdapter({ pool }, { table: freshTable(), sweepInterval: false });
      const value = 'a\u0000\\b€𝄞';
      await adapter.save('k', value, 60_000);
      expect(await adapter.load('k')).to.equal(value);
      expect(await adapter.delete('k')).to.equal(true);
      await adapter.save('k', value);
      expect(await adapter.take('k')).to.equal(value);
      await adapter.close();
    } finally {
      await pool.end();
    }
  });
});
