import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import type { AdapterError } from '@reprise/core';
import { PostgresAdapter } from '../src/index.js';
import { failure, isConfigurationError } from '../src/errors.js';
import { POSTGRES_URL, expectRejection, freePort, tableFixture } from './helpers.js';

/** `POSTGRES_URL` with another user or database. */
function urlWith(change: (url: URL) => void): string {
  const url = new URL(POSTGRES_URL);
  change(url);
  return url.toString();
}

/** Expects a non-transient ERR_REPRISE_ADAPTER whose message matches `pattern` (and never says "unreachable"). */
async function refusal(call: Promise<unknown>, pattern: RegExp, sqlState: string): Promise<AdapterError> {
  const error = (await expectRejection(call, 'ERR_REPRISE_ADAPTER', pattern)) as AdapterError;
  expect(error.transient, 'a configuration error is not transient').to.equal(false);
  expect(error.message).not.to.match(/unreachable/i);
  expect(error.cause).to.have.property('code', sqlState);
  return error;
}

describe('PostgresAdapter: error classification (the real server)', () => {
  const { admin: adminOf, freshTable, track, onCleanup } = tableFixture();
  const role = `reprise_test_role_${randomBytes(6).toString('hex')}`;
  let roleCreated = false;

  onCleanup(async (admin) => {
    if (roleCreated) await admin.query(`DROP ROLE IF EXISTS "${role}"`);
  });

  it('a role that does not exist (trust auth still refuses it: 28000) is not transient, on every call', async () => {
    const adapter = track(new PostgresAdapter({ connectionString: urlWith((u) => (u.username = role)) }, { sweepInterval: false }));
    for (const call of [adapter.load('k'), adapter.saveIfNewer('k', 'v', 1)]) {
      await refusal(
        call,
        new RegExp(
          `cannot prepare table "reprise_snapshots": Postgres refused the connection \\(check the user of the connection and pg_hba.conf\\): role "${role}" does not exist \\(28000\\)`,
        ),
        '28000',
      );
    }
  });

  it('a database that does not exist (3D000) is not transient', async () => {
    const adapter = track(
      new PostgresAdapter({ connectionString: urlWith((u) => (u.pathname = `/${role}_db`)) }, { sweepInterval: false }),
    );
    await refusal(
      adapter.save('k', 'v'),
      /the database of the connection does not exist \(check the connection string\): database "\w+" does not exist \(3D000\)/,
      '3D000',
    );
  });

  it('a role without privileges on the table (42501) is not transient', async () => {
    const admin = adminOf();
    const table = freshTable();
    // The table exists (created by the test's own superuser role); the adapter's sessions run as a role with no grant on it.
    await track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false })).save('k', 'v');
    await admin.query(`CREATE ROLE "${role}" NOLOGIN`);
    roleCreated = true;
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c role=${role}`, max: 1 });
    try {
      const adapter = track(new PostgresAdapter({ pool }, { table, sweepInterval: false }));
      const error = await refusal(
        adapter.load('k'),
        /load failed: Postgres refused the statement: the connection's role lacks a privilege on the table .*: permission denied for table reprise_test_\w+ \(42501\)/,
        '42501',
      );
      expect(error.message).to.include('grant it');
    } finally {
      await pool.end();
    }
  });

  it('a refused connection (nothing listening) is transient', async () => {
    const adapter = track(new PostgresAdapter({ connectionString: urlWith((u) => (u.port = '1')) }, { sweepInterval: false }));
    const port = await freePort();
    const other = track(new PostgresAdapter({ connectionString: urlWith((u) => (u.port = String(port))) }, { sweepInterval: false }));
    for (const call of [adapter.load('k'), other.load('k')]) {
      const error = (await expectRejection(call, 'ERR_REPRISE_ADAPTER', /ECONNREFUSED/)) as AdapterError;
      expect(error.transient).to.equal(true);
    }
  });

  it('classifies by SQLSTATE: 28P01, 28000, 42501, 3D000 are configuration errors; the rest transient', () => {
    const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code });
    for (const code of ['28P01', '28000', '42501', '3D000']) {
      expect(isConfigurationError(pgError(code, 'x')), code).to.equal(true);
    }
    const password = failure('save failed', pgError('28P01', 'password authentication failed for user "app"'), 5000);
    expect(password.transient).to.equal(false);
    expect(password.message).to.equal(
      'PostgresAdapter: save failed: Postgres refused the password (check the user and password of the connection): password authentication failed for user "app" (28P01)',
    );
    for (const error of [
      pgError('42P01', 'relation "x" does not exist'),
      pgError('40001', 'could not serialize'),
      pgError('57P01', 'terminating connection due to administrator command'),
      Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated due to connection timeout'),
      new Error('Query read timeout'),
    ]) {
      expect(isConfigurationError(error), error.message).to.equal(false);
      expect(failure('load failed', error, 5000).transient, error.message).to.equal(true);
    }
  });
});
