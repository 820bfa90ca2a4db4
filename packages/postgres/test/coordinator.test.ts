import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import pg from 'pg';
import type { AdapterError } from '@reprise/core';
import type { CoordinatorMember, Lease } from '@reprise/core';
import { runCoordinatorTests } from '@reprise/adapter-tests';
import { expectOptionError, expectRejection } from '@reprise/adapter-tests/internal';
import {
  COORDINATOR_DEFAULTS,
  MAX_TTL_MS,
  PostgresCoordinator,
  createLeaseDeadlineIndexSql,
  createLeaseIndexSql,
  createLeaseTableSql,
  createTableSql,
  parseTableName,
} from '../src/index.js';
import { channelName } from '../src/coordinator-sql.js';
import { POSTGRES_URL, adminPool, dropTables, freePort, uniqueName, waitFor } from './helpers.js';
import { TcpProxy } from './support/tcp-proxy.js';

const connectionString = POSTGRES_URL;
const server = new URL(POSTGRES_URL);

/** A TCP proxy of the test's own to the shared server, and the connection string through it. */
async function proxy(): Promise<[TcpProxy, string]> {
  const started = await TcpProxy.start(server.hostname, Number(server.port || 5432));
  const url = new URL(POSTGRES_URL);
  url.host = `127.0.0.1:${started.port}`;
  return [started, url.toString()];
}
const newId = (): string => `s-${randomUUID()}`;
const instanceId = (): string => `i-${randomUUID().slice(0, 8)}`;
const idle: CoordinatorMember = { handover: async () => {} };

function held(claim: Awaited<ReturnType<PostgresCoordinator['claim']>>): Lease {
  if (!claim.held) throw new Error(`not held: ${claim.owner} holds it`);
  return claim.lease;
}

/** A member that releases what it holds when asked, as the conformance suite's does. */
function releasingMember(coordinator: () => PostgresCoordinator, leases: Map<string, Lease>): CoordinatorMember {
  return {
    async handover(sessionId) {
      const lease = leases.get(sessionId);
      if (lease === undefined) return;
      leases.delete(sessionId);
      await coordinator().release(lease);
    },
  };
}

describe('PostgresCoordinator', function () {
  this.timeout(20_000);
  // One lease table for the conformance runs and most checks; others where a check needs its own.
  const table = uniqueName();
  const tables = [table];
  const freshTable = (): string => {
    const name = uniqueName();
    tables.push(name);
    return name;
  };
  let admin: pg.Pool;
  before(() => {
    admin = adminPool();
  });
  after(async () => {
    await dropTables(admin, ...tables.map((name) => `"${name}"`));
    await admin.end();
  });

  /** The row of `sessionId` as stored, with the lease's and the row's time left on the database clock (ms). */
  async function row(
    sessionId: string,
    name = table,
  ): Promise<{ owner: string | null; token: string; lease_ms: number | null; keep_ms: number } | undefined> {
    const result = await admin.query(
      `SELECT owner, token::text AS token,
         (extract(epoch FROM lease_until - now()) * 1000)::float8 AS lease_ms,
         (extract(epoch FROM expires_at - now()) * 1000)::float8 AS keep_ms
       FROM "${name}" WHERE session_id = $1`,
      [sessionId],
    );
    return result.rows[0];
  }

  // { connectionString }: each instance creates and ends its own pool and LISTEN client.
  runCoordinatorTests(
    'PostgresCoordinator { connectionString } (conformance)',
    () => new PostgresCoordinator({ connectionString }, { table }),
    { describe, it, before, after },
  );

  describe('{ pool }', () => {
    // The caller's pool: each joined instance holds one of its connections for LISTEN.
    const pool = new pg.Pool({ connectionString, max: 20, connectionTimeoutMillis: 5000 });
    pool.on('error', () => {});
    after(() => pool.end());

    runCoordinatorTests('PostgresCoordinator { pool } (conformance)', () => new PostgresCoordinator({ pool }, { table }), {
      describe,
      it,
      before,
      after,
    });

    it("leave() unlistens, gives the LISTEN connection back, and leaves the caller's pool open and usable", async () => {
      const coordinator = new PostgresCoordinator({ pool }, { table });
      const me = instanceId();
      const listening = `LISTEN "${channelName(parseTableName(table), me)}"`;
      await coordinator.join(me, idle);
      expect(held(await coordinator.claim(newId(), 60_000)).owner).to.equal(me);
      const before = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1', [listening]);
      expect(before.rows[0].n, 'one connection listens').to.equal(1);
      expect(pool.totalCount - pool.idleCount, 'the LISTEN connection is checked out').to.equal(1);
      await coordinator.leave();
      await coordinator.leave();
      expect(pool.totalCount - pool.idleCount, 'every connection is back').to.equal(0);
      const after = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1', [listening]);
      expect(after.rows[0].n, 'it ran UNLISTEN').to.equal(0);
      expect((await pool.query('SELECT 1 AS one')).rows[0].one).to.equal(1);
    });
  });

  describe('storage', () => {
    let a: PostgresCoordinator;
    let b: PostgresCoordinator;
    const [aId, bId] = [instanceId(), instanceId()];
    before(async () => {
      a = new PostgresCoordinator({ connectionString }, { table });
      b = new PostgresCoordinator({ connectionString }, { table, tokenRetention: 3_600_000 });
      await a.join(aId, idle);
      await b.join(bId, idle);
    });
    after(async () => {
      await a.leave();
      await b.leave();
    });

    it('keeps the row and its token after a release and after a lapse; the row lives tokenRetention past the lease', async () => {
      const id = newId();
      const first = held(await a.claim(id, 60_000));
      let stored = await row(id);
      expect(stored).to.include({ owner: aId, token: String(first.token) });
      expect(stored!.lease_ms).to.be.within(55_000, 60_000);
      expect(stored!.keep_ms - stored!.lease_ms!).to.be.closeTo(COORDINATOR_DEFAULTS.tokenRetention, 1);

      expect(await a.release(first)).to.equal(true);
      stored = await row(id);
      expect(stored, 'kept after the release').to.include({ owner: null, token: String(first.token), lease_ms: null });
      expect(stored!.keep_ms).to.be.above(COORDINATOR_DEFAULTS.tokenRetention);

      const second = held(await b.claim(id, 300));
      expect(second.token).to.equal(first.token + 1);
      expect(await waitFor(async () => (await a.owner(id)) === undefined, 3_000), 'the short lease lapsed').to.equal(true);
      stored = await row(id);
      expect(stored, 'kept after the lapse').to.include({ owner: bId, token: String(second.token) });
      expect(stored!.lease_ms).to.be.at.most(0);
      expect(stored!.keep_ms, "b's retention (1 h) did not shorten a's (30 days)").to.be.above(
        COORDINATOR_DEFAULTS.tokenRetention - 60_000,
      );

      const third = held(await a.claim(id, 60_000));
      expect(third.token).to.equal(second.token + 1);
      expect(await b.renew([second], 60_000), "the lapsed lease is lost, even with a's lease on it").to.deep.equal([id]);
    });

    it('a lease is live until the database clock passes its end, whatever the process clock says', async () => {
      const id = newId();
      const lease = held(await a.claim(id, 60_000));
      // The database's clock passes the lease's end (as if 60 s went by there): the lease is over.
      await admin.query(`UPDATE "${table}" SET lease_until = now() - interval '1 millisecond' WHERE session_id = $1`, [id]);
      expect(await a.owner(id)).to.equal(undefined);
      expect(await a.renew([lease], 60_000)).to.deep.equal([id]);
      expect(held(await b.claim(id, 60_000)).token).to.equal(lease.token + 1);

      const realNow = Date.now;
      try {
        // An hour behind: a lease of 60 s is still live for the others.
        Date.now = () => realNow() - 3_600_000;
        const behind = newId();
        held(await a.claim(behind, 60_000));
        expect(await b.claim(behind, 60_000)).to.deep.equal({ held: false, owner: aId });
        // An hour ahead: a lease of 300 ms still lapses after about 300 ms.
        Date.now = () => realNow() + 3_600_000;
        const ahead = newId();
        held(await a.claim(ahead, 300));
        const started = performance.now();
        expect(await waitFor(async () => (await b.claim(ahead, 60_000)).held, 3_000)).to.equal(true);
        expect(performance.now() - started).to.be.within(150, 3_000);
      } finally {
        Date.now = realNow;
      }
    });

    it('renew checks each entry by session and token (a stale token of a held session is reported lost)', async () => {
      const id = newId();
      const lease = held(await a.claim(id, 60_000));
      expect(await a.renew([lease, { ...lease, token: lease.token + 1 }], 60_000)).to.deep.equal([id]);
      expect(await a.renew([lease, lease], 60_000)).to.deep.equal([]);
      await expectRejection(
        a.renew([{ ...lease, token: 0 }], 60_000),
        'ERR_REPRISE_ADAPTER',
        /^PostgresCoordinator: leases\[0\]\.token must be a positive safe integer/,
      );
      await expectRejection(
        a.claim('a\u0000b', 60_000),
        'ERR_REPRISE_ADAPTER',
        /^PostgresCoordinator: sessionId must be well-formed Unicode without NUL/,
      );
    });
  });

  describe('the table', () => {
    it('is created with its index on first use, once, by 8 instances starting together', async () => {
      const name = freshTable();
      const instances = Array.from({ length: 8 }, () => new PostgresCoordinator({ connectionString }, { table: name }));
      try {
        await Promise.all(instances.map((c) => c.join(instanceId(), idle)));
        const claims = await Promise.all(instances.map((c) => c.claim(newId(), 60_000)));
        expect(claims.every((c) => c.held)).to.equal(true);
        const index = await admin.query('SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname = $2', [
          name,
          `${name}_expires_at_idx`,
        ]);
        expect(index.rows).to.have.length(1);
        expect(await admin.query(`SELECT count(*)::int AS n FROM "${name}"`).then((r) => r.rows[0].n)).to.equal(8);
      } finally {
        await Promise.all(instances.map((c) => c.leave()));
      }
    });

    it("refuses, not transient, a table of another layout (the adapter's, say)", async () => {
      const name = freshTable();
      await admin.query(createTableSql(parseTableName(name)));
      const c = new PostgresCoordinator({ connectionString }, { table: name });
      try {
        await c.join(instanceId(), idle);
        const error = await expectRejection(
          c.claim(newId(), 60_000),
          'ERR_REPRISE_ADAPTER',
          /^PostgresCoordinator: table "reprise_test_\w+" is not a lease table of PostgresCoordinator: column session_id is missing/,
        );
        expect((error as AdapterError).transient).to.equal(false);
      } finally {
        await c.leave();
      }
    });

    it('sweep() deletes rows past tokenRetention after their lease, never a live one; until then a row is reused and its token goes on', async () => {
      const name = freshTable();
      const c = new PostgresCoordinator({ connectionString }, { table: name, tokenRetention: 200 });
      try {
        await c.join(instanceId(), idle);
        const [gone, live] = [newId(), newId()];
        const first = held(await c.claim(gone, 100));
        expect(await c.release(first)).to.equal(true);
        held(await c.claim(live, 60_000));
        // Past its expires_at but not swept yet: the row is reused, and the token goes on.
        expect(await waitFor(async () => (await row(gone, name))!.keep_ms <= 0, 3_000)).to.equal(true);
        const second = held(await c.claim(gone, 100));
        expect(second.token).to.equal(first.token + 1);
        // Past retention again: swept.
        expect(await waitFor(async () => (await c.sweep()) > 0 || (await row(gone, name)) === undefined, 5_000)).to.equal(true);
        expect(await row(gone, name)).to.equal(undefined);
        expect(await row(live, name), 'a live lease is never swept').to.not.equal(undefined);
        expect(held(await c.claim(gone, 60_000)).token, 'a new row after retention').to.equal(1);
      } finally {
        await c.leave();
      }
      await expectRejection(c.sweep(), 'ERR_REPRISE_ADAPTER', /after leave/);
    });

    it('documents the exact DDL of the default table in the README', () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const name = parseTableName(COORDINATOR_DEFAULTS.table);
      expect(readme).to.include(createLeaseTableSql(name));
      expect(readme).to.include(createLeaseIndexSql(name));
      expect(readme).to.include(createLeaseDeadlineIndexSql(name));
    });
  });

  it('refuses wrong options with ERR_REPRISE_OPTION', () => {
    expect(Object.isFrozen(COORDINATOR_DEFAULTS)).to.equal(true);
    expect(COORDINATOR_DEFAULTS).to.deep.equal({
      table: 'reprise_leases',
      tokenRetention: 30 * 24 * 3_600_000,
      listenCheckInterval: 10_000,
    });
    for (const bad of [0, -1, 1.5, true, 2 ** 31, '1000']) {
      expectOptionError(
        () => new PostgresCoordinator({ connectionString }, { listenCheckInterval: bad as number }),
        /^PostgresCoordinator: listenCheckInterval must be (a positive integer of ms|at most 2147483647 ms \(.*\)) or false \(off\), got /,
      );
    }
    expectOptionError(
      () => new PostgresCoordinator({ connectionString }, { table: 3 as unknown as string }),
      /^PostgresCoordinator: table must be a string/,
    );
    expectOptionError(
      () => new PostgresCoordinator({ connectionString }, { table: 'a.b.c' }),
      /^PostgresCoordinator: table must be "name" or "schema.name"/,
    );
    expectOptionError(
      () => new PostgresCoordinator({ connectionString }, { table: 'x'.repeat(64) }),
      /^PostgresCoordinator: table .* longer than 63 bytes/,
    );
    for (const bad of [0, -1, 1.5, Number.NaN, MAX_TTL_MS + 1, '1000']) {
      expectOptionError(
        () => new PostgresCoordinator({ connectionString }, { tokenRetention: bad as number }),
        /^PostgresCoordinator: tokenRetention must be (a positive integer of ms|at most 315576000000000 ms \(MAX_TTL_MS, about 10,000 years\)), got /,
      );
    }
    expectOptionError(
      () => new PostgresCoordinator({ connectionString }, { leaseMs: 5 } as never),
      /^PostgresCoordinator: unknown option "leaseMs"/,
    );
    expectOptionError(() => new PostgresCoordinator({ connectionString }, 'x' as never), /^PostgresCoordinator: options must be an object/);
    expectOptionError(
      () => new PostgresCoordinator({ connectionString, table: 'x' } as never),
      /^PostgresCoordinator: give table, tokenRetention and listenCheckInterval in the second argument/,
    );
    expectOptionError(
      () => new PostgresCoordinator({} as never),
      /^PostgresCoordinator: the first argument must have exactly one of connectionString and pool/,
    );
    expectOptionError(() => new PostgresCoordinator({ pool: {} } as never), /^PostgresCoordinator: pool must be a pg\.Pool/);
  });

  describe('failures', () => {
    it('Postgres unreachable: join rejects at once (transient ERR_REPRISE_ADAPTER), leaves the coordinator unjoined, and may be tried again', async () => {
      const c = new PostgresCoordinator({ connectionString: `postgresql://root@127.0.0.1:${await freePort()}/test` }, { table });
      try {
        const started = performance.now();
        const error = await expectRejection(
          c.join('unreachable', idle),
          'ERR_REPRISE_ADAPTER',
          /^PostgresCoordinator: join failed: connect ECONNREFUSED/,
        );
        expect((error as AdapterError).transient).to.equal(true);
        expect(performance.now() - started).to.be.below(1_000);
        await expectRejection(c.claim(newId(), 60_000), 'ERR_REPRISE_ADAPTER', /claim before join/);
        await expectRejection(c.join('unreachable', idle), 'ERR_REPRISE_ADAPTER', /join failed: connect ECONNREFUSED/);
      } finally {
        await c.leave();
      }
    });

    it('Postgres gone after the join: claim, renew, release, owner and requestHandover reject at once; leave() does not hang', async () => {
      const [gate, proxied] = await proxy();
      const c = new PostgresCoordinator({ connectionString: proxied }, { table });
      try {
        await c.join(instanceId(), idle);
        const lease = held(await c.claim(newId(), 60_000));
        await gate.close();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['claim', () => c.claim(lease.sessionId, 60_000)],
          ['renew', () => c.renew([lease], 60_000)],
          ['release', () => c.release(lease)],
          ['owner', () => c.owner(lease.sessionId)],
          ['requestHandover', () => c.requestHandover(lease.sessionId, 'someone', 5_000)],
        ];
        for (const [name, call] of calls) {
          const started = performance.now();
          const error = await expectRejection(
            call(),
            'ERR_REPRISE_ADAPTER',
            new RegExp(`^PostgresCoordinator: ${name} failed: (connect ECONNREFUSED|Connection terminated)`),
          );
          expect((error as AdapterError).transient, name).to.equal(true);
          expect(performance.now() - started, name).to.be.below(1_000);
        }
      } finally {
        await c.leave();
        await gate.close().catch(() => {});
      }
    });

    it('a LISTEN connection that stalls without breaking (half-open) fails its health check and is replaced: hand-over requests reach the owner again', async () => {
      const [gate, proxied] = await proxy();
      const asked: string[] = [];
      const owner = new PostgresCoordinator({ connectionString: proxied }, { table, listenCheckInterval: 200 });
      const asker = new PostgresCoordinator({ connectionString }, { table });
      const [ownerId, askerId] = [instanceId(), instanceId()];
      try {
        await owner.join(ownerId, { handover: async (id) => void asked.push(id) });
        await asker.join(askerId, idle);
        expect(owner.listenConnections).to.equal(1);
        const id = newId();
        held(await owner.claim(id, 60_000));
        gate.freezeAll(); // the LISTEN connection (and the pool's) now black-holes, without an end or an error
        expect(await asker.requestHandover(id, ownerId, 300), 'while the LISTEN connection is stalled').to.equal('timeout');
        expect(asked).to.deep.equal([]);
        // The health check's SELECT 1 gets no answer within the query timeout (5 s): a new connection listens.
        expect(await waitFor(async () => owner.listenConnections === 2, 10_000), 'a new LISTEN connection').to.equal(true);
        expect(
          await waitFor(async () => (await asker.requestHandover(id, ownerId, 300), asked.length > 0), 5_000),
          'the owner asked again',
        ).to.equal(true);
        expect(asked[0]).to.equal(id);
      } finally {
        await gate.close();
        await owner.leave().catch(() => {});
        await asker.leave();
      }
    });

    for (const form of ['connectionString', 'pool'] as const) {
      it(`{ ${form} }: a LISTEN connection that breaks is opened again, and hand-over requests are answered again`, async () => {
        const [gate, proxied] = await proxy();
        const pool = form === 'pool' ? new pg.Pool({ connectionString: proxied, max: 3, connectionTimeoutMillis: 5000 }) : undefined;
        pool?.on('error', () => {});
        const leases = new Map<string, Lease>();
        const owner: PostgresCoordinator = new PostgresCoordinator(pool ? { pool } : { connectionString: proxied }, { table });
        const asker = new PostgresCoordinator({ connectionString }, { table });
        const [ownerId, askerId] = [instanceId(), instanceId()];
        try {
          await owner.join(
            ownerId,
            releasingMember(() => owner, leases),
          );
          await asker.join(askerId, idle);
          const id = newId();
          leases.set(id, held(await owner.claim(id, 60_000)));
          gate.cutAll(); // every connection of the owner ends, as at a server restart
          const answered = await waitFor(async () => (await asker.requestHandover(id, ownerId, 300)) === 'released', 10_000);
          expect(answered, 'a hand-over request answered after the break').to.equal(true);
          expect(held(await asker.claim(id, 60_000)).owner).to.equal(askerId);
        } finally {
          await owner.leave();
          await asker.leave();
          await pool?.end();
          await gate.close();
        }
      });
    }
  });
});
