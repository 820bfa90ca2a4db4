import { createHash } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { MAX_BATCH_WRITES } from '@reprise/core/adapter-kit';
import { PostgresAdapter } from '../src/index.js';
import { MAX_STATEMENT_VALUE_BYTES, planBatch } from '../src/batch.js';
import { POSTGRES_URL, expectRejection, freePort, sleep, tableFixture } from './helpers.js';

interface Row {
  key: string;
  value: string | null;
  version: string;
  ms_left: number | null;
}

/** A pool whose clients count the statements they are given (the adapter sends one `client.query` per statement). */
function countingPool(): { pool: pg.Pool; statements: () => number; reset: () => void } {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  let count = 0;
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      count++;
      return query(...args);
    };
  });
  return { pool, statements: () => count, reset: () => void (count = 0) };
}

describe('PostgresAdapter: saveManyIfNewer, as stored in the table', function () {
  this.timeout(30_000);
  const { admin: adminOf, freshTable, track } = tableFixture();
  let admin: pg.Pool;
  let table: string;
  let adapter: PostgresAdapter;
  let counting: ReturnType<typeof countingPool>;

  before(async () => {
    admin = adminOf();
    table = freshTable();
    counting = countingPool();
    adapter = track(new PostgresAdapter({ pool: counting.pool }, { table, sweepInterval: false }));
    await adapter.load('warm-up'); // the table is created here, not in the statements counted below
  });

  after(async () => {
    await counting.pool.end();
  });

  /** The row of `key` (found by its id, the SHA-256 of the key): value as text (from its bytes), version as text, ms left before expiry (null: none). */
  async function row(key: string): Promise<Row | undefined> {
    const result = await admin.query<Omit<Row, 'value'> & { value: Buffer | null }>(
      `SELECT key, value, version::text AS version,
              (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms_left
       FROM "${table}" WHERE id = $1`,
      [createHash('sha256').update(key, 'utf8').digest()],
    );
    const found = result.rows[0];
    return found && { ...found, value: found.value === null ? null : found.value.toString('utf8') };
  }

  it(`${MAX_BATCH_WRITES} entries are one statement`, async () => {
    counting.reset();
    const results = await adapter.saveManyIfNewer(
      Array.from({ length: MAX_BATCH_WRITES }, (_, i) => ({ key: `many:${i}`, value: `v${i}`, version: 1 + (i % 7) })),
    );
    expect(counting.statements()).to.equal(1);
    expect(results).to.have.length(MAX_BATCH_WRITES);
    expect(results.every((stored) => stored)).to.equal(true);
    expect(await row(`many:${MAX_BATCH_WRITES - 1}`)).to.deep.include({
      value: `v${MAX_BATCH_WRITES - 1}`,
      version: String(1 + ((MAX_BATCH_WRITES - 1) % 7)),
    });
  });

  it('writes each row as saveIfNewer does: key label, value bytes, bigint version, its own deadline on the database clock', async () => {
    const results = await adapter.saveManyIfNewer([
      { key: 'max', value: 'v\u0000w', version: Number.MAX_SAFE_INTEGER },
      { key: 'ttl', value: 'with a TTL', version: 3, ttlMs: 60_000 },
      { key: 'nul\u0000key', value: 'x', version: 1, ttlMs: undefined },
    ]);
    expect(results).to.deep.equal([true, true, true]);
    expect(await row('max')).to.deep.equal({ key: 'max', value: 'v\u0000w', version: '9007199254740991', ms_left: null });
    const ttl = await row('ttl');
    expect(ttl).to.deep.include({ value: 'with a TTL', version: '3' });
    expect(ttl!.ms_left).to.be.within(59_000, 60_000);
    expect(await row('nul\u0000key'), 'the key column shows NUL as U+FFFD, the id is the real key').to.deep.include({
      key: 'nul\uFFFDkey',
      value: 'x',
    });
    expect(await adapter.takeVersioned('max')).to.deep.equal({ value: 'v\u0000w', version: Number.MAX_SAFE_INTEGER });
  });

  it('an expired row counts as absent, as for saveIfNewer; a refused row is left exactly as it was', async () => {
    await adapter.saveIfNewer('expiring', 'nine', 9, 30);
    await adapter.saveIfNewer('kept', 'five', 5, 60_000);
    const before = await admin.query(`SELECT expires_at FROM "${table}" WHERE key = 'kept'`);
    await sleep(60);
    expect(
      await adapter.saveManyIfNewer([
        { key: 'expiring', value: 'one', version: 1 },
        { key: 'kept', value: 'four', version: 4 },
      ]),
    ).to.deep.equal([true, false]);
    expect(await row('expiring')).to.deep.include({ value: 'one', version: '1', ms_left: null });
    const after = await admin.query(
      `SELECT convert_from(value, 'UTF8') AS value, version::text AS version, expires_at FROM "${table}" WHERE key = 'kept'`,
    );
    expect(after.rows).to.deep.equal([{ value: 'five', version: '5', expires_at: before.rows[0].expires_at }]);
  });

  it('an empty batch resolves [] without a statement, even when the server is unreachable', async () => {
    counting.reset();
    expect(await adapter.saveManyIfNewer([])).to.deep.equal([]);
    expect(counting.statements()).to.equal(0);
    const nowhere = new PostgresAdapter(
      { connectionString: `postgresql://root@127.0.0.1:${await freePort()}/test` },
      { sweepInterval: false },
    );
    try {
      expect(await nowhere.saveManyIfNewer([])).to.deep.equal([]);
    } finally {
      await nowhere.close();
    }
  });

  it('rejects a bad entry naming its index (lone surrogates too) before any statement, and after close()', async () => {
    counting.reset();
    await expectRejection(
      adapter.saveManyIfNewer([
        { key: 'a', value: 'v', version: 1 },
        { key: 'b', value: 'bad \ud800', version: 1 },
      ]),
      'ERR_REPRISE_ADAPTER',
      /^PostgresAdapter: writes\[1\]: value is not well-formed Unicode/,
    );
    await expectRejection(
      adapter.saveManyIfNewer([{ key: 'a\udc00', value: 'v', version: 1 }]),
      'ERR_REPRISE_ADAPTER',
      /^PostgresAdapter: writes\[0\]: key is not well-formed Unicode/,
    );
    await expectRejection(
      adapter.saveManyIfNewer([
        { key: 'a', value: 'v', version: 1 },
        { key: 'a', value: 'w', version: 2 },
      ]),
      'ERR_REPRISE_ADAPTER',
      /^PostgresAdapter: writes\[1\]: the key is already in this batch/,
    );
    expect(counting.statements()).to.equal(0);
    expect(await row('a')).to.equal(undefined);
    const closed = new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false });
    await closed.close();
    const error = await expectRejection(
      closed.saveManyIfNewer([{ key: 'a', value: 'v', version: 1 }]),
      'ERR_REPRISE_ADAPTER',
      /saveManyIfNewer: the adapter is closed/,
    );
    expect(error).to.include({ transient: true, unsent: true });
  });

  it(`values over ${MAX_STATEMENT_VALUE_BYTES / 1024 / 1024} MiB in all go in more than one statement, each entry still in its place`, async () => {
    const mib = 'é'.repeat(512 * 1024); // 1 MiB of UTF-8
    const count = MAX_STATEMENT_VALUE_BYTES / (1024 * 1024) + 8;
    await adapter.saveIfNewer('big:3', 'newer', 99);
    counting.reset();
    const results = await adapter.saveManyIfNewer(
      Array.from({ length: count }, (_, i) => ({ key: `big:${i}`, value: `${i}${mib}`, version: 1 })),
    );
    expect(counting.statements()).to.equal(2);
    expect(results).to.deep.equal(Array.from({ length: count }, (_, i) => i !== 3));
    expect(await adapter.load(`big:${count - 1}`)).to.equal(`${count - 1}${mib}`);
    expect(await adapter.load('big:3')).to.equal('newer');
  });

  it('a batch split into statements whose later statement cannot be sent rejects as not unsent (the earlier one was carried out)', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    try {
      const split = new PostgresAdapter({ pool }, { table, sweepInterval: false });
      await split.load('warm-up');
      const connect = pool.connect.bind(pool) as () => Promise<PoolClient>;
      let connections = 0;
      (pool as unknown as { connect: () => Promise<PoolClient> }).connect = async () => {
        if (++connections === 2) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return connect();
      };
      const mib = 'é'.repeat(512 * 1024);
      const count = MAX_STATEMENT_VALUE_BYTES / (1024 * 1024) + 2;
      const error = await expectRejection(
        split.saveManyIfNewer(Array.from({ length: count }, (_, i) => ({ key: `split:${i}`, value: mib, version: 1 }))),
        'ERR_REPRISE_ADAPTER',
        /^PostgresAdapter: saveManyIfNewer failed: connect ECONNREFUSED .*\(earlier statements of the batch were carried out\)$/,
      );
      expect(error).to.include({ transient: true, unsent: false });
      expect(await adapter.load('split:0'), 'the first statement was carried out').to.equal(mib);
      expect(await adapter.load(`split:${count - 1}`), 'the second was never sent').to.equal(undefined);
    } finally {
      await pool.end();
    }
  });

  describe('planBatch (how a batch is split into statements)', () => {
    const write = (key: string, value = 'v') => ({ key, value, version: 1 });

    it('is one statement for a batch of ordinary values, in the order given', () => {
      const plan = planBatch(['a', 'b', 'c'].map((key) => write(key)));
      expect(plan).to.have.length(1);
      expect(plan[0]!.indexes).to.deep.equal([0, 1, 2]);
      expect(plan[0]!.labels).to.deep.equal(['a', 'b', 'c']);
    });

    it('starts a new statement before the entry that would pass the byte bound (an entry larger than it goes alone)', () => {
      const plan = planBatch([write('a', 'xx'), write('b', 'xx'), write('c', 'xxxxx'), write('d', 'x')], 4);
      expect(plan.map((statement) => statement.indexes)).to.deep.equal([[0, 1], [2], [3]]);
    });

    it('puts two keys with the same row identity (a SHA-256 collision) in two statements, in order', () => {
      const same = Buffer.alloc(32, 7);
      const plan = planBatch([write('a'), write('b'), write('c')], undefined, (key) => (key === 'c' ? Buffer.alloc(32, 1) : same));
      expect(plan.map((statement) => statement.indexes)).to.deep.equal([[0], [1, 2]]);
    });

    it('passes a TTL cut to MAX_TTL_MS, and null for no expiry', () => {
      const [statement] = planBatch([
        { key: 'a', value: 'v', version: 1, ttlMs: 1e300 },
        { key: 'b', value: 'v', version: 2 },
      ]);
      expect(statement!.ttls[0]).to.be.below(1e300);
      expect(statement!.ttls[1]).to.equal(null);
      expect(statement!.versions).to.deep.equal(['1', '2']);
    });
  });
});
