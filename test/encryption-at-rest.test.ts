import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { createClient } from '@keyv/redis';
import pg from 'pg';
import { CodecError, RestoreError, type RepriseError, type SessionAdapter, type SnapshotKey } from '@reprise/core';
import { decodeRecord, openSealedRecord } from '@reprise/core/adapter-kit';
import type { SessionMiddleware } from '@reprise/koa';
import { PostgresAdapter } from '@reprise/postgres';
import { RedisAdapter } from '@reprise/redis';
import { Browser, expectSameCookie } from './helpers/browser.js';
import { closeServer, listen } from './helpers/http.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './helpers/services.js';
import { sessionApp, type VisitorData, type VisitorView } from './helpers/session-app.js';
import { waitUntil, within } from './helpers/wait.js';

const K1: SnapshotKey = { id: 'k1', key: randomBytes(32) };
/** As an application would hold it: base64 in an environment variable. */
const K2: SnapshotKey = { id: 'k2', key: randomBytes(32).toString('base64') };
/** Part of the visitor's name: no raw value in the store may show it. */
const SECRET = 'ada-lovelace-2c9f';

/** A store of the run's own, read and written directly (not through Reprise) for the raw values. */
interface RawStore {
  /** A new adapter on the run's prefix or table (one per server, as a restarted process opens its own). */
  adapter(): SessionAdapter;
  /** The value stored under `key` as the store holds it. */
  read(key: string): Promise<string | undefined>;
  /** Replaces the value under `key` in place (its version and TTL are kept). */
  alter(key: string, value: string): Promise<void>;
  cleanup(): Promise<void>;
}

interface StoreKind {
  readonly name: string;
  require(context: Mocha.Context): Promise<void>;
  open(): RawStore;
}

const STORES: StoreKind[] = [
  {
    name: 'Redis',
    require: requireRedis,
    open() {
      const prefix = `reprise-it:encrypt:${randomUUID()}:`;
      const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
      client.on('error', () => {});
      const connected = client.connect();
      return {
        adapter: () => new RedisAdapter({ url: REDIS_URL, prefix }),
        async read(key) {
          await connected;
          return (await client.hGet(prefix + key, 'value')) ?? undefined;
        },
        async alter(key, value) {
          await connected;
          expect(await client.hSet(prefix + key, 'value', value), 'an existing field replaced').to.equal(0);
        },
        async cleanup() {
          await connected.catch(() => undefined);
          if (client.isOpen) client.destroy();
          await deleteRedisKeys(prefix);
        },
      };
    },
  },
  {
    name: 'Postgres',
    require: requirePostgres,
    open() {
      const table = uniqueName('reprise_it_encrypt');
      const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
      return {
        adapter: () => new PostgresAdapter({ connectionString: DATABASE_URL }, { table }),
        async read(key) {
          try {
            const result = await pool.query<{ value: string | null }>(
              `SELECT convert_from(value, 'UTF8') AS value FROM "${table}" WHERE key = $1`,
              [key],
            );
            return result.rows[0]?.value ?? undefined;
          } catch (error) {
            if ((error as { code?: string }).code === '42P01') return undefined; // the adapter creates its table at its first write
            throw error;
          }
        },
        async alter(key, value) {
          const result = await pool.query(`UPDATE "${table}" SET value = convert_to($2, 'UTF8') WHERE key = $1 AND value IS NOT NULL`, [
            key,
            value,
          ]);
          expect(result.rowCount, 'one row altered').to.equal(1);
        },
        async cleanup() {
          await pool.end();
          await dropTable(table);
        },
      };
    },
  },
];

/** `value` with one character of its ciphertext changed (to another base64url character). */
function flipOne(value: string): string {
  const at = value.length - 40;
  return value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
}

/** The refusals reported: `ERR_REPRISE_SNAPSHOT_AUTH` causes of RestoreErrors. */
function authRefusals(errors: readonly RepriseError[]): CodecError[] {
  return errors
    .filter((error): error is RestoreError => error instanceof RestoreError)
    .map((error) => error.cause)
    .filter((cause): cause is CodecError => cause instanceof CodecError && cause.code === 'ERR_REPRISE_SNAPSHOT_AUTH');
}

for (const kind of STORES) {
  describe(`snapshots encrypted at rest (snapshotKeys) on ${kind.name}, over HTTP`, function () {
    let store: RawStore | undefined;
    const running: { server: Server; middleware: SessionMiddleware<VisitorData>; adapter: SessionAdapter }[] = [];

    before(async function () {
      await kind.require(this);
    });

    afterEach(async function () {
      for (const { server, middleware, adapter } of running.splice(0)) await stop(server, middleware, adapter);
      await store?.cleanup();
      store = undefined;
    });

    async function stop(server: Server, middleware: SessionMiddleware<VisitorData>, adapter: SessionAdapter): Promise<void> {
      await closeServer(server);
      await within('shutdown()', 20_000, middleware.manager.shutdown());
      await adapter.close?.();
    }

    /** A server on the run's store with these keys; its manager's errors are collected. */
    async function start(snapshotKeys: SnapshotKey[], maxSessions = 10) {
      store ??= kind.open();
      const adapter = store.adapter();
      const { app, middleware } = sessionApp({ adapter, maxSessions, checkpointInterval: 0, snapshotKeys });
      const errors: RepriseError[] = [];
      middleware.manager.on('error', (error) => errors.push(error));
      const server = await listen(app);
      const handle = { server, middleware, adapter };
      running.push(handle);
      return {
        server,
        manager: middleware.manager,
        errors,
        async stop() {
          running.splice(running.indexOf(handle), 1);
          await stop(server, middleware, adapter);
        },
      };
    }

    /** Waits until the store holds a value under `key`. */
    async function stored(key: string): Promise<string> {
      let value: string | undefined;
      await waitUntil(`a value under the key in ${kind.name}`, async () => (value = await store!.read(key)) !== undefined);
      return value!;
    }

    it('an evicted session leaves an unreadable value in the store; its cookie restores it under the same id', async function () {
      const { server, manager, errors } = await start([K1], 1);
      const ada = new Browser(server);
      const before = (await ada.post(`/visit?name=${SECRET}&item=apple`, 200)).body as VisitorView;
      const sid = ada.sid!;
      await new Browser(server).post('/visit?name=grace&item=milk', 200); // over the cap: ada is evicted
      const raw = await stored(sid);
      expect(raw.startsWith('E1.k1.'), raw.slice(0, 40)).to.equal(true);
      expect(raw).to.not.include(SECRET);
      expect(raw).to.not.include('apple');
      expect(raw).to.not.match(/R\d+:/);
      // What the adapter itself reads is the same sealed value; with the keys it opens to ada's snapshot.
      const record = decodeRecord(openSealedRecord(raw, sid, [K1]));
      expect(record.kind === 'snapshot' && record.snapshot.data.name).to.equal(SECRET);

      const back = await ada.get('/me', 200);
      expect(back.body).to.deep.equal(before);
      expectSameCookie(back, sid, 'the restore');
      expect(manager.stats()).to.include({ restored: 1, restoreFailures: 0 });
      expect(errors).to.deep.equal([]);
    });

    it('a value altered directly in the store is refused and reported; the visitor gets a fresh session with a 2xx, never a 500', async function () {
      const { server, manager, errors } = await start([K1], 1);
      const ada = new Browser(server);
      await ada.post(`/visit?name=${SECRET}&item=apple`, 200);
      const sid = ada.sid!;
      await new Browser(server).post('/visit?name=grace&item=milk', 200);
      await store!.alter(sid, flipOne(await stored(sid)));

      const me = await ada.get('/me', 200);
      expect(me.body).to.include({ sessionId: null, name: null });
      const refusals = authRefusals(errors);
      expect(refusals, 'one refusal reported').to.have.length(1);
      expect(refusals[0]!.message).to.include('does not authenticate');
      expect(manager.stats().restoreFailures).to.equal(1);

      const fresh = (await ada.post('/visit?name=ada-again&item=pear', 200)).body as VisitorView;
      expect(fresh.sessionId).to.be.a('string').and.not.equal(sid);
      expect(fresh).to.include({ name: 'ada-again' });
      expect(fresh.cart).to.deep.equal([['pear', 1]]);
    });

    it("two visitors' values swapped in the store: both refused (each is bound to its key), neither sees the other's data", async function () {
      const { server, errors } = await start([K1], 1);
      const ada = new Browser(server);
      const grace = new Browser(server);
      await ada.post(`/visit?name=${SECRET}&item=apple`, 200);
      await grace.post('/visit?name=grace&item=milk', 200);
      await new Browser(server).post('/visit?name=edsger&item=bread', 200);
      const [rawAda, rawGrace] = [await stored(ada.sid!), await stored(grace.sid!)];
      await store!.alter(ada.sid!, rawGrace);
      await store!.alter(grace.sid!, rawAda);

      expect((await ada.get('/me', 200)).body).to.include({ sessionId: null, name: null });
      expect((await grace.get('/me', 200)).body).to.include({ sessionId: null, name: null });
      expect(authRefusals(errors)).to.have.length(2);
    });

    it('rotation across a restart: new key first, old key second; old snapshots restore, new writes use the new key; without the old key they are refused', async function () {
      this.timeout(30_000);
      const first = await start([K1]);
      const ada = new Browser(first.server);
      const grace = new Browser(first.server);
      const adaView = (await ada.post(`/visit?name=${SECRET}&item=apple`, 200)).body as VisitorView;
      await grace.post('/visit?name=grace&item=milk', 200);
      await first.stop(); // shutdown(): both written with k1
      expect((await stored(ada.sid!)).startsWith('E1.k1.')).to.equal(true);
      expect((await stored(grace.sid!)).startsWith('E1.k1.')).to.equal(true);

      const second = await start([K2, K1]);
      const back = await ada.at(second.server).get('/me', 200);
      expect(back.body).to.deep.equal(adaView);
      await second.stop(); // ada written again, now with k2
      expect((await stored(ada.sid!)).startsWith('E1.k2.')).to.equal(true);
      expect(second.errors).to.deep.equal([]);

      const third = await start([K2]);
      expect((await ada.at(third.server).get('/me', 200)).body).to.deep.equal(adaView);
      expect((await grace.at(third.server).get('/me', 200)).body).to.include({ sessionId: null, name: null });
      const [refusal] = authRefusals(third.errors);
      expect(refusal?.message).to.include('"k1"').and.include('does not hold');
    });
  });
}
