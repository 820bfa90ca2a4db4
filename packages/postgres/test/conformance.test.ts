import pg from 'pg';
import { runAdapterTests } from '@reprise/adapter-tests';
import { PostgresAdapter } from '../src/index.js';
import { POSTGRES_URL, dropTables, uniqueName } from './helpers.js';

describe('conformance (@reprise/adapter-tests)', () => {
  const table = uniqueName();
  let pool: pg.Pool | undefined;

  after(async () => {
    const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    await dropTables(admin, `"${table}"`);
    await admin.end();
    await pool?.end();
  });

  runAdapterTests('PostgresAdapter({ connectionString })', () => new PostgresAdapter({ connectionString: POSTGRES_URL }, { table }), {
    describe,
    it,
    before,
    after,
  });

  runAdapterTests(
    'PostgresAdapter({ pool })',
    () => {
      pool ??= new pg.Pool({ connectionString: POSTGRES_URL, max: 10 });
      return new PostgresAdapter({ pool }, { table });
    },
    { describe, it, before, after },
    // The pool is the application's: it stays open after the adapter's close(), by design.
    { checkResources: false },
  );
});
