import { expect } from 'chai';
import pg from 'pg';
import type { AdapterError } from '@reprise/core';
import { PostgresAdapter } from '../src/index.js';
import { POSTGRES_URL, expectRejection, tableFixture, waitFor } from './helpers.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** The query timeout of these tests, ms. */
const QUERY_TIMEOUT = 300;
/** How late past queryTimeout a rejection may come on a loaded machine, ms. */
const SLACK = 700;

/** No sweep timer; no warnings for the idle connections that break when a test's proxy closes. */
const QUIET = { sweepInterval: false, onError: () => undefined } as const;

/** `POSTGRES_URL` pointed at the proxy. */
function viaProxy(proxy: TcpProxy): string {
  const url = new URL(POSTGRES_URL);
  url.host = `127.0.0.1:${proxy.port}`;
  return url.toString();
}

/** Runs `call`, expecting a transient ERR_REPRISE_ADAPTER that names queryTimeout; returns how long it took, ms. */
async function timedOut(call: () => Promise<unknown>, operation: string): Promise<number> {
  const started = performance.now();
  const error = (await expectRejection(
    call(),
    'ERR_REPRISE_ADAPTER',
    new RegExp(`^PostgresAdapter: ${operation} failed: Postgres did not answer within queryTimeout \\(${QUERY_TIMEOUT} ms\\)`),
  )) as AdapterError;
  expect(error.transient, 'a server that does not answer is transient').to.equal(true);
  expect(error.unsent, 'the statement was sent: it may have been executed').to.equal(false);
  expect((error.cause as Error).message).to.equal('Query read timeout');
  return performance.now() - started;
}

describe("PostgresAdapter: queryTimeout (a TCP proxy of the test's own that stops forwarding)", function () {
  this.timeout(20_000);
  const { admin: adminOf, freshTable, track } = tableFixture();
  let proxy: TcpProxy;
  let admin: pg.Pool;

  beforeEach(async () => {
    proxy = await TcpProxy.start('127.0.0.1', Number(new URL(POSTGRES_URL).port || 5432));
    admin = adminOf();
  });

  afterEach(async () => {
    await proxy.close();
  });

  it('own pool: a server that stops answering mid-statement rejects within queryTimeout; the statement still ran; the adapter recovers', async () => {
    const table = freshTable();
    const adapter = track(
      new PostgresAdapter({ connectionString: viaProxy(proxy) }, { table, ...QUIET, queryTimeout: QUERY_TIMEOUT, connectTimeout: 500 }),
    );
    await adapter.save('k', 'before');
    proxy.mode = 'drop-replies';
    const ms = await timedOut(() => adapter.saveIfNewer('k', 'during', 5), 'saveIfNewer');
    expect(ms).to.be.within(QUERY_TIMEOUT - 20, QUERY_TIMEOUT + SLACK);
    // That connection was discarded; a new one cannot finish its handshake: connectTimeout bounds it.
    const started = performance.now();
    const error = await expectRejection(
      adapter.load('k'),
      'ERR_REPRISE_ADAPTER',
      /load failed: Connection terminated due to connection timeout/,
    );
    expect(error).to.have.property('transient', true);
    expect(performance.now() - started).to.be.below(500 + SLACK);
    proxy.mode = 'forward';
    // The write reached the server before it stopped answering: it was carried out.
    const stored = await admin.query(`SELECT version::text AS version FROM "${table}"`);
    expect(stored.rows).to.deep.equal([{ version: '5' }]);
    expect(await adapter.load('k'), 'new connections work again').to.equal('during');
  });

  it('a batch whose statement times out rejects within queryTimeout, transient and not unsent; its one statement still ran, every entry of it', async () => {
    const table = freshTable();
    const adapter = track(
      new PostgresAdapter({ connectionString: viaProxy(proxy) }, { table, ...QUIET, queryTimeout: QUERY_TIMEOUT, connectTimeout: 500 }),
    );
    await adapter.saveIfNewer('k0', 'before', 1);
    proxy.mode = 'drop-replies';
    const writes = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `during ${i}`, version: 5 }));
    const ms = await timedOut(() => adapter.saveManyIfNewer(writes), 'saveManyIfNewer');
    expect(ms).to.be.within(QUERY_TIMEOUT - 20, QUERY_TIMEOUT + SLACK);
    proxy.mode = 'forward';
    expect(
      await waitFor(async () => (await admin.query(`SELECT count(*)::int AS n FROM "${table}" WHERE version = 5`)).rows[0].n === 100, 2000),
      'the statement reached the server and was carried out whole',
    ).to.equal(true);
    expect(await adapter.saveManyIfNewer(writes), 'a retry is harmless: every entry is refused as not newer').to.deep.equal(
      writes.map(() => false),
    );
  });

  it('own pool: a black hole (nothing forwarded either way) is cut off after queryTimeout too', async () => {
    const adapter = track(
      new PostgresAdapter({ connectionString: viaProxy(proxy) }, { table: freshTable(), ...QUIET, queryTimeout: QUERY_TIMEOUT }),
    );
    await adapter.save('k', 'v');
    proxy.mode = 'drop-all';
    expect(await timedOut(() => adapter.delete('k'), 'delete')).to.be.within(QUERY_TIMEOUT - 20, QUERY_TIMEOUT + SLACK);
  });

  it('a caller-owned pool with no query timeout of its own: the adapter passes queryTimeout with every query, and pg discards the connection', async () => {
    const pool = new pg.Pool({ connectionString: viaProxy(proxy), max: 2, connectionTimeoutMillis: 500 });
    pool.on('error', () => undefined);
    try {
      const adapter = track(new PostgresAdapter({ pool }, { table: freshTable(), ...QUIET, queryTimeout: QUERY_TIMEOUT }));
      await adapter.save('k', 'v');
      proxy.mode = 'drop-replies';
      expect(await timedOut(() => adapter.take('k'), 'take')).to.be.within(QUERY_TIMEOUT - 20, QUERY_TIMEOUT + SLACK);
      expect(await waitFor(() => pool.totalCount === 0, 2000), 'the connection that did not answer left the pool').to.equal(true);
      proxy.mode = 'forward';
      expect(await adapter.load('k'), 'the take ran on the server before it stopped answering').to.equal(undefined);
      await adapter.save('k', 'again');
      expect(await adapter.load('k')).to.equal('again');
    } finally {
      await pool.end();
    }
  });

  it('a connection lost mid-statement: the call rejects (transient, not unsent: the statement may have run), nothing is thrown uncaught, the adapter recovers', async () => {
    const pool = new pg.Pool({ connectionString: viaProxy(proxy), max: 2, connectionTimeoutMillis: 2000 });
    pool.on('error', () => undefined);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    // pg emits the client's 'error' in the same tick as it fails the statement, before the rejection
    // arrives. Mocha's own handler would fail the test on an uncaught exception: ours counts it.
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      const adapter = track(new PostgresAdapter({ pool }, { table: freshTable(), ...QUIET, queryTimeout: 5_000 }));
      await adapter.save('k', 'v');
      proxy.mode = 'drop-replies';
      const pending = adapter.saveIfNewer('k', 'during', 5);
      await waitFor(() => pool.idleCount === 0 && pool.totalCount > 0, 2000);
      proxy.cutAll();
      const error = (await expectRejection(
        pending,
        'ERR_REPRISE_ADAPTER',
        /^PostgresAdapter: saveIfNewer failed: Connection terminated unexpectedly/,
      )) as AdapterError;
      expect({ transient: error.transient, unsent: error.unsent }).to.deep.equal({ transient: true, unsent: false });
      proxy.mode = 'forward';
      expect(await adapter.load('k'), 'new connections work again').to.be.oneOf(['v', 'during']);
      expect(uncaught.map(String), 'thrown uncaught').to.deep.equal([]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      for (const handler of mochaHandlers) process.on('uncaughtException', handler);
      await pool.end();
    }
  });

  it('the first call, preparing the table, is bounded by queryTimeout as well', async () => {
    const pool = new pg.Pool({ connectionString: viaProxy(proxy), max: 1, connectionTimeoutMillis: 2000 });
    pool.on('error', () => undefined);
    try {
      (await pool.connect()).release(); // an open, idle connection for the adapter's first query
      const adapter = track(new PostgresAdapter({ pool }, { table: freshTable(), ...QUIET, queryTimeout: QUERY_TIMEOUT }));
      proxy.mode = 'drop-replies';
      const started = performance.now();
      const error = await expectRejection(
        adapter.load('k'),
        'ERR_REPRISE_ADAPTER',
        /^PostgresAdapter: load: cannot prepare table "reprise_test_\w+": Postgres did not answer within queryTimeout \(300 ms\)/,
      );
      expect(error).to.have.property('transient', true);
      expect(performance.now() - started).to.be.within(QUERY_TIMEOUT - 20, QUERY_TIMEOUT + SLACK);
    } finally {
      await pool.end();
    }
  });
});
