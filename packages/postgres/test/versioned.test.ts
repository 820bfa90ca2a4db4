import { expect } from 'chai';
import type pg from 'pg';
import { PostgresAdapter } from '../src/index.js';
import { POSTGRES_URL, rowCount, sleep, tableFixture, waitFor } from './helpers.js';

interface Row {
  value: string | null;
  version: string;
  ms_left: number | null;
}

describe('PostgresAdapter: ordered writes, as stored in the table', () => {
  const { admin: adminOf, freshTable, track } = tableFixture();
  let admin: pg.Pool;
  let table: string;
  let adapter: PostgresAdapter;

  before(() => {
    admin = adminOf();
    table = freshTable();
    adapter = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
  });

  /** The row of `key`: value as text, version as text, ms left before expiry (null: none). */
  async function row(key: string): Promise<Row | undefined> {
    const result = await admin.query<Row>(
      `SELECT convert_from(value, 'UTF8') AS value, version::text AS version,
              (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms_left
       FROM "${table}" WHERE key = $1`,
      [key],
    );
    return result.rows[0];
  }

  it('saveIfNewer stores the version as bigint: MAX_SAFE_INTEGER exactly', async () => {
    expect(await adapter.saveIfNewer('max', 'v', Number.MAX_SAFE_INTEGER)).to.equal(true);
    expect(await row('max')).to.deep.include({ value: 'v', version: '9007199254740991', ms_left: null });
    expect(await adapter.takeVersioned('max')).to.deep.equal({ value: 'v', version: Number.MAX_SAFE_INTEGER });
  });

  it('a take leaves a floor row (value NULL) with the deadline of the value; version 0 leaves no row', async () => {
    await adapter.saveIfNewer('floor', 'v', 7, 60_000);
    const before = await admin.query(`SELECT expires_at FROM "${table}" WHERE key = 'floor'`);
    expect(await adapter.take('floor')).to.equal('v');
    const after = await admin.query(`SELECT value, version::text AS version, expires_at FROM "${table}" WHERE key = 'floor'`);
    expect(after.rows).to.deep.equal([{ value: null, version: '7', expires_at: before.rows[0].expires_at }]);
    await adapter.save('plain', 'v');
    expect(await adapter.take('plain')).to.equal('v');
    expect(await row('plain')).to.equal(undefined);
  });

  it('a fence on a missing key inserts a floor row living ttlMs; without ttlMs, no deadline', async () => {
    expect(await adapter.takeVersioned('fenced', { version: 4, ttlMs: 30_000 })).to.equal(undefined);
    const fenced = await row('fenced');
    expect(fenced).to.deep.include({ value: null, version: '4' });
    expect(fenced!.ms_left).to.be.within(29_000, 30_000);
    await adapter.takeVersioned('fenced-forever', { version: 4 });
    expect(await row('fenced-forever')).to.deep.include({ value: null, version: '4', ms_left: null });
  });

  it('a fence that takes keeps the later deadline; a fence below a newer value changes nothing', async () => {
    await adapter.saveIfNewer('longer', 'v', 1, 60_000);
    await adapter.takeVersioned('longer', { version: 3, ttlMs: 1_000 });
    const longer = await row('longer');
    expect(longer).to.deep.include({ value: null, version: '3' });
    expect(longer!.ms_left).to.be.within(59_000, 60_000);
    await adapter.saveIfNewer('newer', 'v', 9, 60_000);
    const before = await admin.query(`SELECT xmin::text, expires_at FROM "${table}" WHERE key = 'newer'`);
    expect(await adapter.takeVersioned('newer', { version: 5, ttlMs: 3_600_000 })).to.equal(undefined);
    const after = await admin.query(`SELECT xmin::text, expires_at FROM "${table}" WHERE key = 'newer'`);
    expect(after.rows, 'not even rewritten (same xmin)').to.deep.equal(before.rows);
  });

  it('an expired row counts as absent for saveIfNewer and takeVersioned, and the sweep deletes expired floors', async () => {
    await adapter.saveIfNewer('expiring', 'v', 9, 30);
    await adapter.takeVersioned('expiring-floor', { version: 9, ttlMs: 30 });
    await sleep(60);
    expect(await adapter.saveIfNewer('expiring', 'v1', 1)).to.equal(true);
    expect(await adapter.takeVersioned('expiring')).to.deep.equal({ value: 'v1', version: 1 });
    const count = await rowCount(admin, `"${table}"`);
    expect(await adapter.sweep()).to.equal(1);
    expect(await rowCount(admin, `"${table}"`)).to.equal(count - 1);
    expect(await row('expiring-floor')).to.equal(undefined);
  });

  it('a fence racing the first write of a key, from two pools, always has one of the two serial outcomes', async () => {
    const other = track(new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }));
    for (let round = 0; round < 30; round++) {
      const key = `race-${round}`;
      const [fenced, stored] = await Promise.all([adapter.takeVersioned(key, { version: 5 }), other.saveIfNewer(key, 'early', 1)]);
      const outcome = `fence ${fenced === undefined ? 'took nothing' : `took version ${fenced.version}`}, write ${stored ? 'stored' : 'refused'}`;
      // Fence first: a floor at 5 refuses version 1. Write first: the fence takes version 1.
      expect(['fence took nothing, write refused', 'fence took version 1, write stored'], `round ${round}`).to.include(outcome);
      expect(await row(key)).to.deep.include({ value: null, version: '5' });
    }
  });

  it('a fence that meets a row committed after its snapshot runs its statement again, and takes that value', async () => {
    const writer = await admin.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO "${table}" (id, key, value, version) VALUES (sha256(convert_to('late', 'UTF8')), 'late', convert_to('late value', 'UTF8'), 1)`,
      );
      const fencing = adapter.takeVersioned('late', { version: 5 });
      // The fence's snapshot has no row, so it tries to insert its floor and waits for the writer.
      const waiting = await waitFor(async () => {
        const result = await admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH old AS%'`,
        );
        return result.rows[0].n === 1;
      }, 5000);
      expect(waiting, 'the fence waits on the uncommitted row').to.equal(true);
      await writer.query('COMMIT');
      expect(await fencing).to.deep.equal({ value: 'late value', version: 1 });
      expect(await row('late')).to.deep.include({ value: null, version: '5' });
    } finally {
      writer.release();
    }
  });
});
