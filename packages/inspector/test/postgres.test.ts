import { expect } from 'chai';
import pg from 'pg';
import { encodeSnapshot, newSessionId, redactId } from '@reprise/core/adapter-kit';
import { createLeaseTableSql, parseTableName, PostgresAdapter } from '@reprise/postgres';
import { assertBuilt, jsonLines, reprise } from './helpers/cli.js';
import { RICH_DATA_READABLE, writeScenario } from './helpers/scenario.js';
import type { Scenario } from './helpers/scenario.js';
import { DATABASE_URL, freePort, requirePostgres, uniqueName, waitUntil } from './helpers/services.js';

interface View {
  key: string;
  kind: string;
  reason?: string;
  sessionId?: string;
  bytes: number;
  ttlMs: number | null;
  target?: string;
  problem?: string;
  head?: string;
  data?: unknown;
}

function snapshotText(key: string, data: Record<string, unknown>): string {
  return encodeSnapshot(
    { version: 1, key, sessionId: newSessionId(), data, createdAt: 1_000, closedAt: 2_000, reason: 'shutdown' },
    Infinity,
  ).text;
}

describe('reprise on Postgres (real adapter and manager)', function () {
  this.timeout(60_000);
  const table = uniqueName('reprise_inspector_test');
  const leaseTable = uniqueName('reprise_inspector_leases');
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2, connectionTimeoutMillis: 5_000 });
  const store = ['--postgres', DATABASE_URL, '--table', table];
  let adapter: PostgresAdapter;
  let scenario: Scenario;

  /** Whether the table has a row for `key` (expired or not). */
  async function hasRow(key: string): Promise<boolean> {
    const result = await admin.query(`SELECT 1 FROM "${table}" WHERE key = $1`, [key]);
    return result.rowCount === 1;
  }

  before(async function () {
    await requirePostgres(this);
    assertBuilt();
    adapter = new PostgresAdapter({ connectionString: DATABASE_URL }, { table, sweepInterval: false });
    scenario = await writeScenario(adapter);
    await adapter.saveIfNewer('floor-key', snapshotText('floor-key', { a: 1 }), 5);
    await adapter.take('floor-key');
    await adapter.saveIfNewer('expired-key', snapshotText('expired-key', { old: true }), 1, 1);
    await waitUntil('the row to expire on the database clock', async () => {
      const result = await admin.query(`SELECT expires_at <= now() AS gone FROM "${table}" WHERE key = 'expired-key'`);
      return result.rows[0]?.gone === true;
    });
    const insert = `INSERT INTO "${table}" (id, key, value, version) VALUES (sha256(convert_to($1, 'UTF8')), $1, $2, 1)`;
    await admin.query(insert, ['corrupt', Buffer.from('R1:[{"broken')]);
    await admin.query(insert, ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x41])]);
    await admin.query(createLeaseTableSql(parseTableName(leaseTable)));
  });

  after(async () => {
    await scenario?.manager.shutdown();
    await adapter?.close();
    await admin.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
    await admin.query(`DROP TABLE IF EXISTS "${leaseTable}"`).catch(() => {});
    await admin.end();
  });

  it('lists the records with kind, reason and redacted session; --all adds the floor and the expired row', async () => {
    const run = await reprise(['list', '--json', ...store]);
    expect(run.code, run.stderr).to.equal(0);
    const kinds = Object.fromEntries(jsonLines<View>(run.stdout).map((view) => [view.key, `${view.kind}:${view.reason ?? '-'}`]));
    expect(kinds).to.deep.equal({
      [redactId(scenario.evicted)]: 'snapshot:evicted',
      'user:42': 'snapshot:expired',
      [redactId(scenario.pointed)]: 'pointer:expired',
      [redactId(scenario.live)]: 'checkpoint:checkpoint',
      [redactId(scenario.erased)]: 'erased:closed',
      corrupt: 'undecodable:-',
      binary: 'undecodable:-',
    });
    expect(run.stdout).to.not.include(scenario.evicted);
    const all = await reprise(['list', '--all', '--json', ...store]);
    const views = jsonLines<View>(all.stdout);
    expect(views).to.have.length(9);
    expect(views.find((view) => view.key === 'floor-key')).to.include({ kind: 'floor' });
    const expired = views.find((view) => view.key === 'expired-key')!;
    expect(expired).to.include({ kind: 'snapshot', reason: 'shutdown' });
    expect(expired.ttlMs).to.be.at.most(0);
    const text = await reprise(['list', '--all', 'expired-*', ...store]);
    expect(text.stdout).to.match(/\nsnapshot\s+shutdown\s.*\sexpired\s+expired-key\n/);
  });

  it("shows a snapshot's data readably, --raw exactly, and an undecodable row with exit code 1", async () => {
    const run = await reprise(['show', '--json', ...store, '--', redactId(scenario.evicted)]);
    expect(run.code, run.stderr).to.equal(0);
    const view = JSON.parse(run.stdout) as View;
    expect(view).to.include({ kind: 'snapshot', reason: 'evicted' });
    expect(view.data).to.deep.equal(RICH_DATA_READABLE);
    const raw = await reprise(['show', 'user:42', '--raw', ...store]);
    expect(raw.bytes.toString('utf8')).to.equal(await adapter.load('user:42'));
    const binary = await reprise(['show', 'binary', ...store]);
    expect(binary.code).to.equal(1);
    expect(binary.stdout).to.match(/\nkind:\s+undecodable\n/);
    expect(binary.stdout).to.include('first bytes: \\xff\\xfe\\x00A');
    expect(binary.stderr).to.equal('reprise: binary holds a value that is not a Reprise snapshot: the value is not UTF-8 text\n');
  });

  it('counts by kind and reason, and the expired rows not swept yet', async () => {
    const run = await reprise(['stats', '--json', ...store]);
    expect(run.code, run.stderr).to.equal(0);
    const stats = JSON.parse(run.stdout) as {
      keys: number;
      kinds: Record<string, number>;
      reasons: Record<string, number>;
      expired: number;
      noExpiry: number;
    };
    expect(stats.kinds).to.include({ snapshot: 3, checkpoint: 1, pointer: 1, erased: 1, undecodable: 2, floor: 1, lease: 0 });
    expect(stats.keys).to.equal(9);
    expect(stats.reasons).to.deep.equal({ evicted: 1, expired: 2, checkpoint: 1, closed: 1, shutdown: 1 });
    expect(stats.expired).to.equal(1);
    expect(stats.noExpiry).to.equal(3); // the floor (saved without TTL) and the two inserted rows
  });

  it('deletes one key, and by prefix only with --yes; the table no longer has them', async () => {
    const one = await reprise(['delete', 'corrupt', ...store]);
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout).to.equal('deleted corrupt (undecodable)\n');
    expect(await hasRow('corrupt')).to.equal(false);
    for (const key of ['bulk:a', 'bulk:b']) await adapter.save(key, snapshotText(key, {}));
    const refused = await reprise(['delete', '--prefix', 'bulk:', '--json', ...store]);
    expect(refused.code).to.equal(64);
    expect(JSON.parse(refused.stdout)).to.deep.equal({ deleted: 0, matched: 2, byKind: { snapshot: 2 }, skipped: 0, skippedByKind: {} });
    expect(await hasRow('bulk:a')).to.equal(true);
    const done = await reprise(['delete', '--prefix', 'bulk:', '--yes', ...store]);
    expect(done.code, done.stderr).to.equal(0);
    expect(done.stdout).to.equal('deleted 2 keys under prefix bulk: (snapshot 2)\n');
    expect(await hasRow('bulk:a')).to.equal(false);
    expect(await hasRow('bulk:b')).to.equal(false);
    expect(await hasRow('user:42')).to.equal(true);
  });

  it('pages through many keys: each listed, counted and deleted once', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `many:${String(i).padStart(3, '0')}`);
    await adapter.saveManyIfNewer(keys.map((key) => ({ key, value: snapshotText(key, { i: key }), version: 1 })));
    const listed = await reprise(['list', 'many:*', '--json', '--limit', '0', ...store]);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(
      jsonLines<View>(listed.stdout)
        .map((view) => view.key)
        .sort(),
    ).to.deep.equal(keys);
    const limited = await reprise(['list', 'many:*', '--json', '--limit', '120', ...store]);
    expect(jsonLines<View>(limited.stdout)).to.have.length(120);
    expect(limited.stderr).to.equal('reprise: stopped at --limit 120 (--limit 0 lists all)\n');
    const counted = await reprise(['stats', 'many:*', '--json', ...store]);
    expect(JSON.parse(counted.stdout)).to.deep.include({ keys: 250 });
    const deleted = await reprise(['delete', '--prefix', 'many:', '--yes', ...store]);
    expect(deleted.stdout).to.equal('deleted 250 keys under prefix many: (snapshot 250)\n');
    const left = await reprise(['list', 'many:*', '--json', '--all', ...store]);
    expect(left.stdout).to.equal('');
  });

  it('a missing table, a lease table and an unreachable server are exit code 2 with one line', async () => {
    const missing = await reprise(['list', '--postgres', DATABASE_URL, '--table', uniqueName('reprise_inspector_missing')]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/^reprise: table "reprise_inspector_missing_[0-9a-f]+" does not exist at postgresql:\/\/\S+\n$/);
    const leases = await reprise(['list', '--postgres', DATABASE_URL, '--table', leaseTable]);
    expect(leases.code).to.equal(2);
    expect(leases.stderr).to.match(
      /is not a Reprise snapshot table \(no column id; .*\): it looks like the lease table of PostgresCoordinator, which holds no snapshots\n$/,
    );
    const port = await freePort();
    const down = await reprise(['stats', '--postgres', `postgresql://root:pw@127.0.0.1:${port}/test`]);
    expect(down.code).to.equal(2);
    expect(down.stderr).to.equal(
      `reprise: cannot reach Postgres at postgresql://root:***@127.0.0.1:${port}/test (connect ECONNREFUSED 127.0.0.1:${port})\n`,
    );
  });

  it('reads the store from REPRISE_POSTGRES_URL and REPRISE_POSTGRES_TABLE', async () => {
    const run = await reprise(['list', 'user:*', '--json'], { REPRISE_POSTGRES_URL: DATABASE_URL, REPRISE_POSTGRES_TABLE: table });
    expect(run.code, run.stderr).to.equal(0);
    expect(jsonLines<View>(run.stdout).map((view) => view.key)).to.deep.equal(['user:42']);
  });
});
