import { expect } from 'chai';
import pg from 'pg';
import { DEFAULTS, PostgresAdapter } from '../src/index.js';
import type { PostgresAdapterOptions, PostgresConnection } from '../src/index.js';
import { POSTGRES_URL, expectOptionError } from './helpers.js';

describe('PostgresAdapter options', () => {
  const url = { connectionString: POSTGRES_URL };
  let pool: pg.Pool;

  before(() => {
    pool = new pg.Pool({ connectionString: POSTGRES_URL }); // never connects: no query is run
  });

  after(async () => {
    await pool.end();
  });

  it('has frozen, documented defaults', () => {
    expect(Object.isFrozen(DEFAULTS)).to.equal(true);
    expect(DEFAULTS).to.include({
      table: 'reprise_snapshots',
      createTable: true,
      sweepInterval: 300_000,
      sweepBatchSize: 1000,
      connectTimeout: 5000,
      queryTimeout: 5000,
    });
  });

  it('accepts both connection forms and names itself postgres', async () => {
    const own = new PostgresAdapter(url);
    const shared = new PostgresAdapter({ pool }, { table: 'app.Sessions' });
    expect(own.name).to.equal('postgres');
    expect(own.atomic).to.equal(true);
    expect(own.table).to.equal('"reprise_snapshots"');
    expect(shared.table).to.equal('"app"."Sessions"');
    await own.close();
    await shared.close();
  });

  it('refuses a malformed connection argument', () => {
    const make = (connection: unknown) => () => new PostgresAdapter(connection as PostgresConnection);
    expectOptionError(make(undefined), /first argument must be \{ connectionString \} or \{ pool \}, got undefined/);
    expectOptionError(make(POSTGRES_URL), /first argument must be/);
    expectOptionError(make({}), /exactly one of connectionString and pool/);
    expectOptionError(make({ connectionString: POSTGRES_URL, pool }), /exactly one of connectionString and pool/);
    expectOptionError(make({ connectionString: '' }), /connectionString must be a non-empty string, got ""/);
    expectOptionError(make({ connectionString: 5 }), /connectionString must be a non-empty string, got 5/);
    expectOptionError(
      make({ connectionString: POSTGRES_URL, ssl: true }),
      /^PostgresAdapter: unknown option "ssl" \(for other pg settings, pass your own \{ pool \}\)$/,
    );
    expectOptionError(make({ pool: {} }), /pool must be a pg.Pool, got an object/);
    expectOptionError(make({ pool: null }), /pool must be a pg.Pool, got null/);
  });

  it('refuses wrong options with ERR_REPRISE_OPTION', () => {
    const make = (options: unknown) => () => new PostgresAdapter(url, options as PostgresAdapterOptions);
    expectOptionError(make(null), /options must be an object, got null/);
    expectOptionError(make([]), /options must be an object, got an array/);
    expectOptionError(make({ tabel: 'x' }), /unknown option "tabel"/);
    expectOptionError(make({ table: 5 }), /table must be a string, got 5/);
    expectOptionError(make({ table: '' }), /empty name/);
    expectOptionError(make({ table: 'a.b.c' }), /one dot at most/);
    expectOptionError(make({ table: '.t' }), /empty schema/);
    expectOptionError(make({ table: 's.' }), /empty name/);
    expectOptionError(make({ table: 'a\u0000b' }), /NUL character/);
    expectOptionError(make({ table: 'x\uD800' }), /not well-formed/);
    expectOptionError(make({ table: 'x'.repeat(64) }), /longer than 63 bytes/);
    expectOptionError(make({ table: `${'é'.repeat(32)}` }), /longer than 63 bytes/); // 64 bytes in 32 characters
    expectOptionError(make({ createTable: 'yes' }), /createTable must be a boolean, got "yes"/);
    expectOptionError(make({ sweepInterval: 0 }), /sweepInterval must be a positive, finite number of ms or false \(off\), got 0/);
    expectOptionError(make({ sweepInterval: true }), /sweepInterval must be/);
    expectOptionError(make({ sweepInterval: Infinity }), /sweepInterval must be/);
    expectOptionError(make({ sweepBatchSize: 1.5 }), /sweepBatchSize must be a positive integer, got 1.5/);
    expectOptionError(make({ sweepBatchSize: 0 }), /sweepBatchSize must be a positive integer/);
    expectOptionError(make({ connectTimeout: -1 }), /connectTimeout must be a positive, finite number of ms, got -1/);
    expectOptionError(make({ onError: 'log' }), /onError must be a function, got "log"/);
    expectOptionError(make({ queryTimeout: 0 }), /queryTimeout must be a positive, finite number of ms, got 0/);
    expectOptionError(make({ queryTimeout: -5 }), /queryTimeout must be a positive, finite number of ms, got /);
    expectOptionError(make({ queryTimeout: NaN }), /queryTimeout must be a positive, finite number of ms, got /);
    expectOptionError(
      make({ queryTimeout: 2 ** 31 }),
      /queryTimeout must be at most 2147483647 ms \(about 24\.8 days, the longest delay Node's timers hold\), got 2147483648/,
    );
    expectOptionError(make({ queryTimeout: '5000' }), /queryTimeout must be a positive, finite number of ms, got "5000"/);
  });

  it('refuses connectTimeout with a caller-owned pool (it belongs on that pool)', () => {
    expectOptionError(() => new PostgresAdapter({ pool }, { connectTimeout: 100 }), /set connectionTimeoutMillis on your pool/);
  });

  it('accepts queryTimeout with either connection form (it is passed with every query)', async () => {
    for (const adapter of [new PostgresAdapter(url, { queryTimeout: 250 }), new PostgresAdapter({ pool }, { queryTimeout: 2 ** 31 - 1 })]) {
      await adapter.close();
    }
  });

  it('accepts the largest identifiers and sweepInterval false', async () => {
    const adapter = new PostgresAdapter(url, { table: `${'s'.repeat(63)}.${'t'.repeat(63)}`, sweepInterval: false });
    expect(adapter.table).to.equal(`"${'s'.repeat(63)}"."${'t'.repeat(63)}"`);
    await adapter.close();
  });
});
